import { describe, expect, it } from 'vitest'
import { checkAuthorizationRequest, redirectWith } from './authorization-request.js'
import { isLoopbackRedirect } from './loopback-redirect.js'
import { pkceProblem, s256, verifierMatches } from './pkce.js'
import { DEFAULT_RETURN_TO, safeReturnTo } from './return-to.js'
import { USER_CODE_ALPHABET, formatUserCode, newUserCode, normalizeUserCode } from './user-codes.js'
import { approvableBy, judgePoll } from './grants/device-code.js'
import { loginHintOf } from './login-hint.js'
import type { DeviceCodeRecord } from '../store/records.js'

describe('loopback redirect URIs (RFC 8252 §7.3)', () => {
  it.each([
    ['http://127.0.0.1:53123/callback', true],
    ['http://[::1]:8080/cb', true],
    ['http://localhost:9999/', true],
    ['http://127.0.0.1/cb', true],
    ['https://127.0.0.1:8080/cb', false],
    ['http://127.0.0.2:8080/cb', false],
    ['http://evil.example/cb', false],
    ['http://127.0.0.1.evil.example/cb', false],
    ['http://user:pw@127.0.0.1:1/cb', false],
    ['http://127.0.0.1:1/cb#frag', false],
    ['http://LOCALHOST:1/cb', false],
    ['http://0x7f.0.0.1:1/cb', false],
    ['custom-scheme:/cb', false],
    ['not a url', false],
  ])('%s → %s', (uri, expected) => {
    expect(isLoopbackRedirect(uri)).toBe(expected)
  })
})

describe('PKCE (RFC 7636)', () => {
  const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
  it('computes the RFC 7636 appendix B example', () => {
    expect(s256(verifier)).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')
    expect(verifierMatches(verifier, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).toBe(true)
    expect(verifierMatches(verifier + 'x', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).toBe(false)
    expect(verifierMatches('short', s256('short'))).toBe(false)
  })
  it('accepts S256 only', () => {
    expect(pkceProblem(null, null)).toBe('missing')
    expect(pkceProblem(verifier, 'plain')).toBe('method')
    expect(pkceProblem(s256(verifier), null)).toBe('method')
    expect(pkceProblem('abc', 'S256')).toBe('malformed')
    expect(pkceProblem(s256(verifier), 'S256')).toBeUndefined()
  })
})

describe('return_to (no open redirect)', () => {
  it.each([
    ['/console', '/console'],
    ['/oauth2/authorize?client_id=postern-cli&x=%2F%2F', '/oauth2/authorize?client_id=postern-cli&x=%2F%2F'],
    ['//evil.example/', DEFAULT_RETURN_TO],
    ['/\\evil.example', DEFAULT_RETURN_TO],
    ['https://evil.example/', DEFAULT_RETURN_TO],
    ['javascript:alert(1)', DEFAULT_RETURN_TO],
    ['/\t/evil.example', DEFAULT_RETURN_TO],
    ['', DEFAULT_RETURN_TO],
    [null, DEFAULT_RETURN_TO],
    // Safe as written, unsafe once normalised: dot segments that leave '//' behind.
    ['/.//evil.example', DEFAULT_RETURN_TO],
    ['/..//evil.example', DEFAULT_RETURN_TO],
    ['/a/..//evil.example', DEFAULT_RETURN_TO],
    ['/%2e//evil.example', DEFAULT_RETURN_TO],
    ['/%2E%2E//evil.example', DEFAULT_RETURN_TO],
    ['/././/evil.example/x?y=1', DEFAULT_RETURN_TO],
    ['/.\\evil.example', DEFAULT_RETURN_TO],
    ['/\\/evil.example', DEFAULT_RETURN_TO],
    ['///evil.example', DEFAULT_RETURN_TO],
    ['/ /evil.example', DEFAULT_RETURN_TO],
    ['/\u0000//evil.example', DEFAULT_RETURN_TO],
    ['http:/evil.example', DEFAULT_RETURN_TO],
    ['x'.repeat(10) + '/console', DEFAULT_RETURN_TO],
    ['/' + 'a'.repeat(4096), DEFAULT_RETURN_TO],
    // Still on this origin after normalising: kept, normalised.
    ['/./console', '/console'],
    ['/a/../console?x=1', '/console?x=1'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    ['/%5Cevil.example', '/%5Cevil.example'],
    ['/console#section', '/console'],
    ['/console?next=//evil.example', '/console?next=//evil.example'],
    ['/devicé', '/devic%C3%A9'],
  ])('%j → %s', (raw, expected) => {
    expect(safeReturnTo(raw)).toBe(expected)
  })
})

describe('user codes (RFC 8628 §6.1)', () => {
  it('draws 8 letters from the unambiguous alphabet and shows them as XXXX-XXXX', () => {
    for (let i = 0; i < 50; i++) {
      const code = newUserCode()
      expect(code).toMatch(new RegExp(`^[${USER_CODE_ALPHABET}]{8}$`))
      expect(formatUserCode(code)).toMatch(/^[A-Z]{4}-[A-Z]{4}$/)
    }
    expect(USER_CODE_ALPHABET).not.toMatch(/[AEIOUY0-9]/)
  })
  it('normalises what a user types', () => {
    expect(normalizeUserCode('bcdf-ghjk')).toBe('BCDFGHJK')
    expect(normalizeUserCode(' BCDF GHJK ')).toBe('BCDFGHJK')
    for (const typed of ['BCDF–GHJK', 'BCDF—GHJK', 'bcdf_ghjk', 'BCDF.GHJK', 'BCDF ‐ GHJK']) expect(normalizeUserCode(typed), typed).toBe('BCDFGHJK')
    expect(normalizeUserCode('BCDFÉGHJK')).toBeUndefined()
    expect(normalizeUserCode('BCDF-GHJ')).toBeUndefined()
    expect(normalizeUserCode('ABCD-EFGH')).toBeUndefined()
  })
})

describe('authorization requests', () => {
  const base = { client_id: 'postern-cli', redirect_uri: 'http://127.0.0.1:5000/cb', response_type: 'code', code_challenge: s256('x'.repeat(43)), code_challenge_method: 'S256', state: 's1', nonce: 'n1', scope: 'openid email' }
  const check = (over: Record<string, string | undefined>) => {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries({ ...base, ...over })) if (v !== undefined) q.set(k, v)
    return checkAuthorizationRequest(q)
  }
  it('accepts a good request', () => {
    expect(check({})).toMatchObject({ kind: 'ok', request: { clientId: 'postern-cli', state: 's1', nonce: 'n1', scope: 'openid email' } })
  })
  it('shows, never redirects, errors about the client or its redirect URI', () => {
    expect(check({ client_id: 'other' }).kind).toBe('show')
    expect(check({ redirect_uri: 'https://evil.example/cb' }).kind).toBe('show')
    expect(check({ redirect_uri: undefined }).kind).toBe('show')
  })
  it('redirects other errors with the state', () => {
    expect(check({ code_challenge_method: 'plain' })).toMatchObject({ kind: 'redirect', error: 'invalid_request', state: 's1' })
    expect(check({ code_challenge: undefined, code_challenge_method: undefined })).toMatchObject({ kind: 'redirect', error: 'invalid_request' })
    expect(check({ response_type: 'token' })).toMatchObject({ kind: 'redirect', error: 'unsupported_response_type' })
    expect(check({ scope: 'openid admin' })).toMatchObject({ kind: 'redirect', error: 'invalid_scope' })
    expect(check({ response_type: undefined })).toMatchObject({ kind: 'redirect', error: 'invalid_request' })
    expect(check({ request: 'eyJ.x.y' })).toMatchObject({ kind: 'redirect', error: 'request_not_supported' })
    expect(check({ request_uri: 'https://x.example/r' })).toMatchObject({ kind: 'redirect', error: 'request_uri_not_supported' })
    expect(check({ response_mode: 'form_post' })).toMatchObject({ kind: 'redirect', error: 'invalid_request', description: expect.stringContaining('form_post') })
    expect(check({ response_mode: 'query' }).kind).toBe('ok')
  })
  it('prompt=select_account signs in again, as prompt=login does; consent asks nothing of the first-party CLI', () => {
    expect(check({ prompt: 'select_account' })).toMatchObject({ kind: 'ok', request: { promptLogin: true } })
    expect(check({ prompt: 'consent' })).toMatchObject({ kind: 'ok', request: { promptLogin: false, promptNone: false } })
  })
  it('takes a parameter sent without a value as omitted (RFC 6749 §3.1)', () => {
    expect(check({ request: '', response_mode: '', nonce: '', state: '' })).toMatchObject({ kind: 'ok', request: { nonce: undefined, state: undefined } })
    expect(check({ response_type: '' })).toMatchObject({ kind: 'redirect', error: 'invalid_request' })
  })
  it('keeps the redirect URI’s own query', () => {
    expect(redirectWith('http://127.0.0.1:1/cb?a=1', { code: 'c', state: undefined })).toBe('http://127.0.0.1:1/cb?a=1&code=c')
  })
})

describe('device polling (RFC 8628 §3.5)', () => {
  const now = 1_000_000_000
  const record: DeviceCodeRecord = { deviceCodeHash: 'h', userCode: 'BCDFGHJK', clientId: 'postern-cli', scope: 'openid', expireTime: now + 600_000, intervalSeconds: 5, lastPollTime: null, subjectUid: null, authTime: null, denied: false, consumed: false, requestTime: now, requestAddress: '127.0.0.1', loginHint: null }
  it('is pending, then slow_down when polled early (the client adds 5 s), then approved once', () => {
    const first = judgePoll(record, 'postern-cli', now)
    expect(first).toMatchObject({ kind: 'error', error: 'authorization_pending' })
    const early = judgePoll(first.update, 'postern-cli', now + 1000)
    expect(early).toMatchObject({ kind: 'error', error: 'slow_down', description: expect.stringContaining('wait at least 10 seconds'), update: { intervalSeconds: 10 } })
    expect(judgePoll(early.update, 'postern-cli', now + 1500)).toMatchObject({ error: 'slow_down', description: expect.stringContaining('wait at least 15 seconds') })
    const approved = { ...early.update!, subjectUid: 'u1', authTime: now }
    const ok = judgePoll(approved, 'postern-cli', now + 3000)
    expect(ok).toMatchObject({ kind: 'approved', subjectUid: 'u1', update: { consumed: true } })
    expect(judgePoll(ok.update, 'postern-cli', now + 30_000)).toMatchObject({ kind: 'error', error: 'invalid_grant' })
  })

  it('a client that missed a slow_down is not kept a step behind for good: polls at the announced interval are pending again', () => {
    let d = judgePoll(record, 'postern-cli', now).update!
    // Two stray polls (a retry whose answer was lost, a second poller), each answered slow_down.
    d = judgePoll(d, 'postern-cli', now + 100).update!
    d = judgePoll(d, 'postern-cli', now + 200).update!
    for (let t = now + 5_200; t < now + 60_000; t += 5_000) {
      const verdict = judgePoll(d, 'postern-cli', t)
      expect(verdict).toMatchObject({ kind: 'error', error: 'authorization_pending' })
      d = verdict.update!
    }
  })
  it('a code that asked for an account is approvable by that account only; one that asked for none by anyone', () => {
    const hinted = { ...record, loginHint: 'ann@example.com' }
    expect(approvableBy(hinted, 'ann@example.com')).toBe(true)
    expect(approvableBy(hinted, 'Ann@Example.com')).toBe(true)
    expect(approvableBy(hinted, 'test-user@gmail.com')).toBe(false)
    expect(approvableBy(record, 'test-user@gmail.com')).toBe(true)
  })
  it('takes a login_hint from a form as from a query: an email, normalised, or none', () => {
    expect(loginHintOf(new Map([['login_hint', ' Ann@Example.COM ']]))).toBe('ann@example.com')
    expect(loginHintOf(new Map([['login_hint', 'ann']]))).toBeUndefined()
    expect(loginHintOf(new Map())).toBeUndefined()
    expect(loginHintOf(new URLSearchParams('login_hint=ann%40example.com'))).toBe('ann@example.com')
  })
  it('reports denial, expiry and foreign clients', () => {
    expect(judgePoll({ ...record, denied: true }, 'postern-cli', now)).toMatchObject({ error: 'access_denied' })
    expect(judgePoll(record, 'postern-cli', record.expireTime)).toMatchObject({ error: 'expired_token' })
    expect(judgePoll(record, 'other', now)).toMatchObject({ error: 'invalid_grant' })
    expect(judgePoll(undefined, 'postern-cli', now)).toMatchObject({ error: 'invalid_grant' })
  })
})
