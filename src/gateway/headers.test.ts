import { describe, expect, it } from 'vitest'
import { TrustedProxies } from '../http/client-address.js'
import { redirectRewrite } from '../http/redirect-location.js'
import { answerHeaders, clientAddressChain, connectionNominated, downstreamHeaders, downstreamTrailers, privateToSharedCaches, holdsPosternToken, requestHeaderAction, setsPosternCookie, SIGNATURE_REMOVED, strippedTokenHeaders, upstreamHeaders, withoutPosternCookies } from './headers.js'

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
const ISSUER = 'http://127.0.0.1:7070'
const ours = `${b64({ alg: 'RS256' })}.${b64({ iss: ISSUER, sub: 'u1' })}.c2lnbmF0dXJl`
const theirs = `${b64({ alg: 'RS256' })}.${b64({ iss: 'https://accounts.example.com' })}.c2lnbmF0dXJl`
const stripped = ours.replace(/[^.]+$/, SIGNATURE_REMOVED)

describe('request header rules', () => {
  it.each([
    ['X-Postern-Authenticated-Email', 'drop'],
    ['X_Postern_Authenticated_Email', 'drop'],
    ['x-postern_anything', 'drop'],
    ['X-Forwarded-Prefix', 'drop'],
    ['X_Forwarded_For', 'drop'],
    ['Forwarded', 'drop'],
    ['X-Real-IP', 'drop'],
    ['X-Request-Id', 'drop'],
    ['Transfer_Encoding', 'drop'],
    ['Content_Length', 'drop'],
    ['X-Postern.Authenticated-Principal', 'drop'],
    ['x.postern.jwt.assertion', 'drop'],
    ['X-Forwarded.For', 'drop'],
    ['Content.Length', 'drop'],
    ["X-Postern'Authenticated-Email", 'drop'],
    ['X.Serverless.Authorization', 'drop'],
    ['X-Serverless.Authorization', 'drop'],
    ['X_Serverless_Authorization', 'drop'],
    ['X-Serverless-Authorization', 'x-serverless-authorization'],
    ['AUTHORIZATION', 'authorization'],
    ['X-Goog-Authenticated-User-Email', 'drop'],
    ['x_goog_authenticated_user_id', 'drop'],
    ['X-Goog-IAP-JWT-Assertion', 'drop'],
    ['X.Custom', 'pass'],
    ['Content-Length', 'pass'],
    ['CONTENT-LENGTH', 'pass'],
    ['Authorization', 'authorization'],
    ['Accept', 'pass'],
    ['X-Posterns', 'pass'],
    ['Cookie', 'cookie'],
    ['COOKIE', 'cookie'],
  ])('%s → %s', (name, action) => {
    expect(requestHeaderAction(name)).toBe(action)
  })

  it('a Connection header naming a protected header in any spelling is refused; others are normalised', () => {
    expect(connectionNominated(['Connection', 'X_Postern_Authenticated_Email'])).toBeUndefined()
    expect(connectionNominated(['connection', 'close, X-Forwarded_For'])).toBeUndefined()
    expect(connectionNominated(['Connection', 'close, X_Custom'])).toEqual(new Set(['close', 'x-custom']))
    expect(connectionNominated(['Connection', 'X.Postern.Authenticated-Email'])).toBeUndefined()
  })

  it('identity and forwarding headers are Postern’s alone, added after everything the client sent', () => {
    const out = upstreamHeaders(
      ['Host', 'h', 'X_Postern_Authenticated_Email', 'evil@x.com', 'X-Forwarded-For', '10.0.0.1', 'Accept', '*/*', 'Authorization', `Bearer ${ours}`],
      new Set(),
      { host: 'h', forwardedFor: '127.0.0.1', proto: 'http', requestId: 'r1', issuer: ISSUER, identity: { tokenHeader: 'authorization', principal: 'user:a@x.com', email: 'a@x.com', assertion: 'a.b.c' } },
    )
    expect(out).toEqual([
      'Accept', '*/*',
      'Authorization', `Bearer ${stripped}`,
      'x-forwarded-for', '127.0.0.1', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'h', 'x-request-id', 'r1',
      'x-postern-authenticated-principal', 'user:a@x.com', 'x-postern-authenticated-email', 'a@x.com', 'x-postern-jwt-assertion', 'a.b.c',
    ])
  })

  it('a browser admitted by its session cookie: Postern’s cookies leave the Cookie header, a token header holding a Postern token is dropped', () => {
    const out = upstreamHeaders(
      ['Cookie', 'app=1; __Host-postern_service_session=s3cret; __Host-postern_state_abc=x', 'cookie', 'postern_session=y', 'Authorization', `Bearer ${ours}`],
      new Set(),
      { host: 'h', forwardedFor: '127.0.0.1', proto: 'http', requestId: 'r1', issuer: ISSUER, identity: { principal: 'user:a@x.com', email: 'a@x.com', assertion: 'a.b.c' } },
    )
    expect(out.slice(0, 4)).toEqual(['Cookie', 'app=1', 'x-forwarded-for', '127.0.0.1'])
    expect(out.join('\n')).not.toContain('s3cret')
  })

  // Only the header Postern verified carries its mark: another holding a Postern token (forged,
  // or real, or marked by the caller) would read to the app as verified as it.
  it('beside the verified token header, the other is dropped if it holds a Postern token, kept if the app’s own', () => {
    const context = { host: 'h', forwardedFor: '127.0.0.1', proto: 'http', requestId: 'r1', issuer: ISSUER } as const
    const identity = (tokenHeader: 'authorization' | 'x-serverless-authorization') => ({ tokenHeader, principal: 'user:a@x.com', email: 'a@x.com', assertion: 'a.b.c' })
    const forged = `${b64({ alg: 'RS256' })}.${b64({ iss: ISSUER, sub: 'owner' })}.AAAA`
    for (const other of [`Bearer ${forged}`, `Bearer ${stripped}`, `Bearer x.y.${SIGNATURE_REMOVED}`, `Custom a=1, t="${ours}"`]) {
      const out = upstreamHeaders(['Authorization', `Bearer ${ours}`, 'X-Serverless-Authorization', other], new Set(), { ...context, identity: identity('authorization') })
      expect(out.slice(0, 2)).toEqual(['Authorization', `Bearer ${stripped}`])
      expect(out).not.toContain('X-Serverless-Authorization')
      const reverse = upstreamHeaders(['Authorization', other, 'X-Serverless-Authorization', `Bearer ${ours}`], new Set(), { ...context, identity: identity('x-serverless-authorization') })
      expect(reverse.slice(0, 2)).toEqual(['X-Serverless-Authorization', `Bearer ${stripped}`])
      expect(reverse).not.toContain('Authorization')
    }
    const own = upstreamHeaders(['Authorization', `Bearer ${theirs}`, 'X-Serverless-Authorization', `Bearer ${ours}`], new Set(), { ...context, identity: identity('x-serverless-authorization') })
    expect(own.slice(0, 4)).toEqual(['Authorization', `Bearer ${theirs}`, 'X-Serverless-Authorization', `Bearer ${stripped}`])
    // A look-alike of the verified header's name is dropped, not forwarded as verified.
    const lookAlike = upstreamHeaders(['X-Serverless-Authorization', `Bearer ${ours}`, 'X_Serverless_Authorization', `Bearer ${forged}`], new Set(), { ...context, identity: identity('x-serverless-authorization') })
    expect(lookAlike.slice(0, 4)).toEqual(['X-Serverless-Authorization', `Bearer ${stripped}`, 'x-forwarded-for', '127.0.0.1'])
  })

  it('the forward-auth answer follows the same rule', () => {
    const forged = `${b64({ alg: 'RS256' })}.${b64({ iss: ISSUER, sub: 'owner' })}.AAAA`
    expect(strippedTokenHeaders(['Authorization', `Bearer ${forged}`, 'X-Serverless-Authorization', `Bearer ${ours}`], ISSUER, 'x-serverless-authorization')).toEqual({ 'x-serverless-authorization': `Bearer ${stripped}` })
    expect(strippedTokenHeaders(['Authorization', `Bearer ${ours}`, 'x-serverless-authorization', `Bearer ${theirs}`], ISSUER, 'authorization')).toEqual({ authorization: `Bearer ${stripped}`, 'x-serverless-authorization': `Bearer ${theirs}` })
    expect(strippedTokenHeaders(['Authorization', `Bearer ${ours}`, 'X-Serverless-Authorization', 'Basic YQ=='], ISSUER)).toEqual({ 'x-serverless-authorization': 'Basic YQ==' })
  })

  it('the client address chain is the peer alone, IPv4-mapped addresses unwrapped', () => {
    expect(clientAddressChain('::ffff:10.1.2.3', ['X-Forwarded-For', '1.1.1.1'], TrustedProxies.none)).toBe('10.1.2.3')
    expect(clientAddressChain('::1', [], TrustedProxies.none)).toBe('::1')
  })

  it('behind a trusted proxy, the chain it vouches for: client first, nothing the client wrote itself', () => {
    const proxies = TrustedProxies.parse('10.0.0.0/8')
    const xff = ['X-Forwarded-For', '6.6.6.6, 198.51.100.1', 'x-forwarded-for', '10.0.0.2']
    expect(clientAddressChain('10.1.2.3', xff, proxies)).toBe('198.51.100.1, 10.0.0.2, 10.1.2.3')
    expect(clientAddressChain('203.0.113.9', xff, proxies)).toBe('203.0.113.9')
    expect(clientAddressChain('10.1.2.3', [], proxies)).toBe('10.1.2.3')
  })
})

describe('holdsPosternToken', () => {
  it.each([
    [`Bearer ${ours}`, true],
    [`bearer   ${ours}`, true],
    [`Custom token="${ours}", other="${theirs}"`, true],
    [`Bearer ${theirs}`, false],
    ['Basic YWxhZGRpbjpvcGVuc2VzYW1l', false],
    [`Bearer x.${ours}`, true],
    [`Bearer ${stripped}`, true],
    // The caller's own mark, on any token.
    [`Bearer ${theirs.replace(/[^.]+$/, SIGNATURE_REMOVED)}`, true],
    ['Bearer a.b.c', false],
    ['', false],
    // The signature in base64's other alphabet, which PyJWT and google-auth also decode.
    [`Bearer ${stripped.replace(SIGNATURE_REMOVED, '+ab/cd+ef')}`, true],
    [`Bearer ${stripped.replace(SIGNATURE_REMOVED, 'ab+cd/ef==')}`, true],
  ])('%s → %s', (value, expected) => {
    expect(holdsPosternToken(value, ISSUER)).toBe(expected)
  })

  it('reads a long value of dots and letters without trouble', () => {
    expect(holdsPosternToken('a.'.repeat(100_000) + ours, ISSUER)).toBe(true)
    expect(holdsPosternToken('a.'.repeat(100_000), ISSUER)).toBe(false)
  })
})

describe('Cookie lines', () => {
  it('several are sent upstream as one, joined with "; ", less Postern’s cookies, where the first was', () => {
    const raw = ['Cookie', 'a=1', 'X-A', '1', 'cookie', '__Host-postern_service_session=s', 'COOKIE', 'c=3; postern_state_x=1; d=4']
    const out = upstreamHeaders(raw, new Set(), { host: 'h', forwardedFor: '127.0.0.1', proto: 'http', requestId: 'r', issuer: ISSUER })
    expect(out.slice(0, 4)).toEqual(['Cookie', 'a=1; c=3; d=4', 'X-A', '1'])
    expect(out.filter((v, i) => i % 2 === 0 && v.toLowerCase() === 'cookie')).toHaveLength(1)
  })
})

describe('response header rules', () => {
  it('drops Set-Cookie for Postern’s own cookies, keeps the app’s', () => {
    for (const c of ['__Host-postern_session=x; Path=/', 'postern_session=x', '__HOST-Postern_Session=x', '__Secure-postern_signin=y', ' postern-other=z']) expect(setsPosternCookie(c), c).toBe(true)
    for (const c of ['session=x', 'my_postern_session=x', 'posterns=1']) expect(setsPosternCookie(c), c).toBe(false)
    expect(downstreamHeaders(['Set-Cookie', 'a=1', 'set-cookie', '__Host-postern_session=evil; Path=/; Secure', 'Connection', 'close', 'X-A', '1'])).toEqual(['Set-Cookie', 'a=1', 'X-A', '1'])
  })

  it('points a Location or Refresh at the upstream’s own address at the public URL, in place, and nothing else', () => {
    const redirects = redirectRewrite(new URL('http://127.0.0.1:14002'), { scheme: 'https', host: 'hello.p.example.com' })
    const raw = ['LOCATION', 'http://127.0.0.1:14002/in', 'Refresh', '0; url=http://127.0.0.1:14002/r', 'X-Location', 'http://127.0.0.1:14002/x', 'Content-Location', 'http://127.0.0.1:14002/c']
    expect(answerHeaders(302, raw, redirects)).toEqual(['LOCATION', 'https://hello.p.example.com/in', 'Refresh', '0; url=https://hello.p.example.com/r', 'X-Location', 'http://127.0.0.1:14002/x', 'Content-Location', 'http://127.0.0.1:14002/c'])
    expect(downstreamHeaders(['location', '/relative', 'location', 'http://127.0.0.1:1400/x'], redirects)).toEqual(['location', '/relative', 'location', 'http://127.0.0.1:1400/x'])
    // Trailers, read without a rewrite, are passed as sent.
    expect(downstreamHeaders(raw)).toEqual(raw)
  })

  it('covers a browser’s service session and its sign-in state, also as a nameless cookie (sent back as name=value)', () => {
    for (const c of ['__Host-postern_service_session=x; Path=/; Secure; HttpOnly', 'postern_service_session=; Max-Age=0', '__Host-postern_state_abcdef=1', '=postern_service_session=planted', ' = __Host-postern_session=x']) {
      expect(setsPosternCookie(c), c).toBe(true)
    }
    expect(setsPosternCookie('=plain')).toBe(false)
  })
})

describe('privateToSharedCaches', () => {
  it.each([
    [[], ['Cache-Control', 'private']],
    [['ETag', '"1"', 'cache-control', 'max-age=60'], ['ETag', '"1"', 'cache-control', 'max-age=60', 'Cache-Control', 'private']],
    [['Cache-Control', 'private="Set-Cookie"'], ['Cache-Control', 'private="Set-Cookie"', 'Cache-Control', 'private']],
    [['Cache-Control', 'max-age=9, publicity'], ['Cache-Control', 'max-age=9, publicity', 'Cache-Control', 'private']],
    // Only the first line counts, as nginx reads it.
    [['Cache-Control', 'max-age=9', 'Cache-Control', 'public'], ['Cache-Control', 'max-age=9', 'Cache-Control', 'public', 'Cache-Control', 'private']],
    [['CACHE-CONTROL', 'Private'], ['CACHE-CONTROL', 'Private']],
    [['Cache-Control', 'no-cache,no-store'], ['Cache-Control', 'no-cache,no-store']],
    [['Cache-Control', 'max-age=9 ,\tpublic'], ['Cache-Control', 'max-age=9 ,\tpublic']],
    [['Cache-Control', 's-maxage=0'], ['Cache-Control', 's-maxage=0']],
    [['Cache-Control', 'must-revalidate'], ['Cache-Control', 'must-revalidate']],
  ])('%j → %j', (given, expected) => {
    expect(privateToSharedCaches([...given])).toEqual(expected)
  })
})

describe('withoutPosternCookies', () => {
  it.each([
    ['a=1; b=2', 'a=1; b=2'],
    ['__Host-postern_service_session=x', ''],
    ['a=1;__Host-postern_service_session=x;  b=2', 'a=1; b=2'],
    ['postern_state_abc=1; POSTERN_SESSION=2; my_postern=3', 'my_postern=3'],
    ['postern_service_session', ''],
    ['', ''],
  ])('%s → %s', (value, expected) => {
    expect(withoutPosternCookies(value)).toBe(expected)
  })
})

describe('downstreamTrailers', () => {
  it('keeps an upstream’s trailers as pairs, less Postern’s cookies and hop-by-hop fields', () => {
    expect(downstreamTrailers(['X-Checksum', 'abc', 'Set-Cookie', '__Host-postern_session=x; Path=/', 'Connection', 'x-secret', 'X-Secret', 's', 'grpc-status', '0'])).toEqual([
      ['X-Checksum', 'abc'],
      ['grpc-status', '0'],
    ])
  })

  it('takes the length and coding off a 204, and a 304\'s length beside a coding, besides what it takes off every answer', () => {
    const raw = ['Content-Type', 'text/plain', 'content-length', '2', 'Transfer-Encoding', 'chunked', 'X-A', '1', 'Set-Cookie', '__Host-postern_session=x']
    expect(answerHeaders(204, raw)).toEqual(['Content-Type', 'text/plain', 'X-A', '1'])
    expect(answerHeaders(304, raw)).toEqual(['Content-Type', 'text/plain', 'X-A', '1'])
    expect(answerHeaders(200, raw)).toEqual(downstreamHeaders(raw))
    // A 304's own length, without a coding, names the representation's size (RFC 9110 §8.6).
    expect(answerHeaders(304, ['Content-Length', '5', 'ETag', '"x"'])).toEqual(['Content-Length', '5', 'ETag', '"x"'])
  })
})
