import { describe, expect, it } from 'vitest'
import { callerFromClaims, type KnownAccounts } from './caller.js'

/** The one check of who a token (or a browser session) names, as the control API, the gateway and sessions make it. */
describe('callerFromClaims', () => {
  const federation = { pool: 'corp-pool', pool_uid: 'p1', provider: 'okta', provider_uid: 'v1', subject: 'alice', groups: ['eng'], attributes: { department: 'research' } }
  const accounts = (o: { disabled?: boolean; poolGone?: boolean } = {}): KnownAccounts => ({
    principal: (uid) => (uid === 'u-ann' ? { kind: 'user', uid, email: 'ann@example.com', disabled: o.disabled ?? false } : undefined),
    federationProblem: () => (o.poolGone ? 'The workforce pool corp-pool this token was issued for no longer exists.' : undefined),
  })

  it('names a known, enabled account by its member string', () => {
    expect(callerFromClaims({ sub: 'u-ann' }, accounts(), 'Your account')).toEqual({
      ok: true,
      caller: { principal: { kind: 'user', uid: 'u-ann', email: 'ann@example.com' }, uid: 'u-ann', member: 'user:ann@example.com', email: 'ann@example.com', key: 'u-ann' },
    })
  })

  it('refuses an account that is gone or disabled, in the words of the place asking', () => {
    expect(callerFromClaims({ sub: 'u-zed' }, accounts(), 'The account this token was issued to')).toEqual({ ok: false, description: 'The account this token was issued to no longer exists.' })
    expect(callerFromClaims({ sub: 'u-ann' }, accounts({ disabled: true }), 'Your account')).toEqual({ ok: false, description: 'Your account is disabled.' })
  })

  it('names a federated subject by its principal:// member while its pool and provider are the ones that signed it in', () => {
    const ok = callerFromClaims({ sub: 'f-1', federation }, accounts(), 'Your account')
    expect(ok).toMatchObject({ ok: true, caller: { member: 'principal://iam.postern/workforcePools/corp-pool/subject/alice', uid: 'f-1', principal: { kind: 'federated', groups: ['eng'] } } })
    expect(callerFromClaims({ sub: 'f-1', federation }, accounts({ poolGone: true }), 'Your account')).toEqual({ ok: false, description: 'The workforce pool corp-pool this token was issued for no longer exists.' })
  })
})
