import { describe, expect, it } from 'vitest'
import { closest, editDistance } from './closest.js'

describe('closest', () => {
  it('finds the typo’s intended word: a letter missing, extra, wrong or two swapped', () => {
    const roles = ['roles/run.invoker', 'roles/run.viewer', 'roles/run.developer', 'roles/owner']
    expect(closest('roles/run.invokr', roles)).toBe('roles/run.invoker')
    expect(closest('roles/run.inovker', roles)).toBe('roles/run.invoker')
    expect(closest('roles/run.viewers', roles)).toBe('roles/run.viewer')
    expect(closest('--fromat', ['--format', '--filter', '--project'])).toBe('--format')
  })

  it('suggests nothing for an exact match, a word far from all, or a short one many edits away', () => {
    expect(closest('roles/owner', ['roles/owner'])).toBeUndefined()
    expect(closest('roles/god', ['roles/run.invoker', 'roles/owner'])).toBeUndefined()
    expect(closest('ab', ['cd'])).toBeUndefined()
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('ab', 'ba')).toBe(1)
  })
})
