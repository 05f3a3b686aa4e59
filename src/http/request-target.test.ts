import { describe, expect, it } from 'vitest'
import { climbsAboveRoot, originFormTarget } from './request-target.js'

describe('climbsAboveRoot', () => {
  it.each([
    '/..',
    '/../admin',
    '/a/../../admin',
    '/%2e%2e/admin',
    '/.%2E/admin',
    '/..%2fadmin',
    '/a/..%2F..%2Fadmin',
    '/..\\admin',
    '/a\\..\\..\\admin',
    '/..;jsessionid=1/admin',
    '/./../admin',
    '//../admin',
  ])('%s climbs', (target) => expect(climbsAboveRoot(target)).toBe(true))

  it.each([
    '/',
    '/admin',
    '/a/../admin',
    '/a/./b/../c',
    '/..a/b',
    '/a..b/..',
    '/file.tar.gz',
    '/%2e%2eadmin',
    '/a?x=/../../etc',
    '/a/b/%2e%2e/%2e%2e',
  ])('%s does not', (target) => expect(climbsAboveRoot(target)).toBe(false))
})

describe('originFormTarget', () => {
  it('refuses a climbing path in either form, and keeps any other as sent', () => {
    expect(originFormTarget('/../admin', 'h')).toMatchObject({ problem: { status: 'INVALID_ARGUMENT' } })
    expect(originFormTarget('http://h/../admin', 'h')).toMatchObject({ problem: { status: 'INVALID_ARGUMENT' } })
    expect(originFormTarget('/a/../b?x=1#frag', 'h')).toEqual({ target: '/a/../b?x=1' })
  })
})
