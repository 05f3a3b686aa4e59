import { describe, expect, it } from 'vitest'
import { addMember, addMembers, BindingEditError, removeMember, type ConditionChoice } from './binding-edits.js'
import type { Condition, Policy } from './types.js'

/** The edits of add-/remove-iam-policy-binding, as the CLI, the console and the server make them. */

const UNTIL_DEC: Condition = { title: 'until December', expression: "request.time < timestamp('2026-12-01T00:00:00Z')" }
const ONLY_HELLO: Condition = { title: 'only hello', expression: "resource.name.endsWith('/hello')" }

function refusal(fn: () => unknown): BindingEditError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(BindingEditError)
    return err as BindingEditError
  }
  throw new Error('expected a refusal')
}

describe('addMember', () => {
  const base: Policy = { version: 1, etag: 'e1', bindings: [{ role: 'roles/run.invoker', members: ['user:ann@x.com'] }] }

  it('adds to the matching binding or creates one, keeping the rest (etag included)', () => {
    expect(addMember(base, 'user:bob@x.com', 'roles/run.invoker')).toEqual({ ...base, bindings: [{ role: 'roles/run.invoker', members: ['user:ann@x.com', 'user:bob@x.com'] }] })
    expect(addMember(base, 'user:bob@x.com', 'roles/run.viewer').bindings).toEqual([
      { role: 'roles/run.invoker', members: ['user:ann@x.com'] },
      { role: 'roles/run.viewer', members: ['user:bob@x.com'] },
    ])
  })

  it('adding what exists returns the same policy; emails match whatever their case, federated subjects do not', () => {
    expect(addMember(base, 'user:ann@x.com', 'roles/run.invoker')).toBe(base)
    expect(addMember(base, 'user:Ann@X.com', 'roles/run.invoker')).toBe(base)
    expect(addMembers(base, ['user:ann@x.com', 'user:ANN@x.com'], 'roles/run.invoker')).toBe(base)
    const fed = addMember(base, 'principal://iam.postern/workforcePools/p/subject/Ann', 'roles/run.invoker')
    expect(addMember(fed, 'principal://iam.postern/workforcePools/p/subject/ann', 'roles/run.invoker')).not.toBe(fed)
  })

  it('a conditional binding is separate from the unconditional one, raises the version, and matches by expression, title and description', () => {
    const p = addMember(base, 'user:ann@x.com', 'roles/run.invoker', UNTIL_DEC)
    expect(p.version).toBe(3)
    expect(p.bindings).toEqual([
      { role: 'roles/run.invoker', members: ['user:ann@x.com'] },
      { role: 'roles/run.invoker', members: ['user:ann@x.com'], condition: UNTIL_DEC },
    ])
    // As gcloud: another description is another binding, which the server keeps apart too.
    expect(addMember(p, 'user:ann@x.com', 'roles/run.invoker', { ...UNTIL_DEC, description: 'another reading' }).bindings).toHaveLength(3)
    expect(addMember(p, 'user:ann@x.com', 'roles/run.invoker', { ...UNTIL_DEC, description: '' })).toBe(p)
    expect(addMember(p, 'user:ann@x.com', 'roles/run.invoker', { ...UNTIL_DEC, title: 'other' })).not.toBe(p)
  })

  it('does not mutate its input', () => {
    const copy = structuredClone(base)
    addMember(base, 'user:bob@x.com', 'roles/run.invoker')
    addMember(base, 'user:bob@x.com', 'roles/run.viewer', UNTIL_DEC)
    expect(base).toEqual(copy)
  })
})

describe('removeMember', () => {
  const policy: Policy = {
    version: 3,
    bindings: [
      { role: 'roles/run.invoker', members: ['user:ann@x.com', 'user:bob@x.com'] },
      { role: 'roles/run.invoker', members: ['user:carol@x.com', 'user:bob@x.com'], condition: UNTIL_DEC },
      { role: 'roles/run.invoker', members: ['user:carol@x.com'], condition: ONLY_HELLO },
      { role: 'roles/run.viewer', members: ['user:ann@x.com'] },
    ],
  }
  const remove = (member: string, role: string, which?: ConditionChoice) => removeMember(policy, member, role, which).bindings ?? []

  it('removes an unconditional grant and drops a binding left empty', () => {
    expect(remove('user:ann@x.com', 'roles/run.viewer').find((b) => b.role === 'roles/run.viewer')).toBeUndefined()
    const q = remove('user:ANN@x.com', 'roles/run.invoker')
    expect(q[0]).toEqual({ role: 'roles/run.invoker', members: ['user:bob@x.com'] })
    expect(q.at(-1)).toEqual({ role: 'roles/run.viewer', members: ['user:ann@x.com'] })
  })

  it('without a choice, a member holding the role under a condition is ambiguous', () => {
    expect(refusal(() => remove('user:carol@x.com', 'roles/run.invoker'))).toMatchObject({ reason: 'ambiguous', message: expect.stringMatching(/under a condition.*--condition.*--all/) })
    expect(refusal(() => remove('user:bob@x.com', 'roles/run.invoker')).reason).toBe('ambiguous')
  })

  it("'none' removes only the unconditional grant", () => {
    const p = remove('user:bob@x.com', 'roles/run.invoker', 'none')
    expect(p.find((b) => b.role === 'roles/run.invoker' && !b.condition)!.members).toEqual(['user:ann@x.com'])
    expect(p.find((b) => b.condition?.title === UNTIL_DEC.title)!.members).toContain('user:bob@x.com')
    expect(refusal(() => remove('user:carol@x.com', 'roles/run.invoker', 'none')).reason).toBe('not-found')
  })

  it('a condition removes only that condition', () => {
    const p = remove('user:carol@x.com', 'roles/run.invoker', ONLY_HELLO)
    expect(p.some((b) => b.condition?.title === ONLY_HELLO.title)).toBe(false)
    expect(p.find((b) => b.condition?.title === UNTIL_DEC.title)!.members).toContain('user:carol@x.com')
    expect(refusal(() => remove('user:carol@x.com', 'roles/run.invoker', { ...ONLY_HELLO, expression: "resource.name.endsWith('/bye')" })).reason).toBe('not-found')
    expect(refusal(() => remove('user:ann@x.com', 'roles/run.invoker', UNTIL_DEC)).reason).toBe('not-found')
  })

  it("'all' removes every grant of the role to the member and leaves other roles", () => {
    const p = remove('user:carol@x.com', 'roles/run.invoker', 'all')
    expect(p.some((b) => b.members.includes('user:carol@x.com'))).toBe(false)
    expect(remove('user:ann@x.com', 'roles/run.invoker', 'all').find((b) => b.role === 'roles/run.viewer')!.members).toEqual(['user:ann@x.com'])
  })

  it('a member that does not hold the role is not found, naming both', () => {
    expect(refusal(() => remove('user:zed@x.com', 'roles/run.invoker')).message).toMatch(/not found: user:zed@x.com does not hold roles\/run.invoker/)
    expect(refusal(() => remove('user:bob@x.com', 'roles/owner', 'all')).reason).toBe('not-found')
  })
})
