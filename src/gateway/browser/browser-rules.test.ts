import { describe, expect, it } from 'vitest'
import { serviceAtUrl } from '../../iam/service-url.js'
import { browserCookies, cookieValues, oneCookie, secureContext, setCookie } from './cookies.js'
import { crossOriginProblem } from './cross-origin.js'
import { isNavigation, prefersHtml } from './navigation.js'
import { posternEndpoint, returnPathOf } from '../../http/postern-paths.js'

describe('isNavigation', () => {
  it.each([
    ['GET', ['Sec-Fetch-Mode', 'navigate', 'Sec-Fetch-Dest', 'document', 'Accept', '*/*'], true],
    ['GET', ['sec-fetch-mode', 'navigate'], true],
    ['HEAD', ['Accept', 'text/html'], true],
    ['GET', ['Sec-Fetch-Mode', 'navigate', 'Sec-Fetch-Dest', 'iframe', 'Accept', 'text/html'], false],
    ['GET', ['Sec-Fetch-Mode', 'cors', 'Accept', 'text/html'], false],
    ['GET', ['Sec-Fetch-Mode', 'websocket', 'Accept', 'text/html'], false],
    ['POST', ['Sec-Fetch-Mode', 'navigate', 'Sec-Fetch-Dest', 'document'], false],
    ['GET', [], false],
  ] as const)('%s %j → %s', (method, headers, expected) => {
    expect(isNavigation(method, headers)).toBe(expected)
  })
})

describe('prefersHtml', () => {
  it.each([
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
    ['text/html', true],
    ['TEXT/HTML; charset=utf-8', true],
    ['*/*, text/html', false],
    ['text/html, */*', true],
    ['*/*;q=0.5, text/html;q=0.6', true],
    ['*/*;q=0.6, text/html;q=0.6', false],
    ['text/html;q=0, */*', false],
    ['text/html;q=0.000', false],
    ['*/*', false],
    ['application/json', false],
    ['application/json, text/html;q=0.1', true],
    ['', false],
    [undefined, false],
    ['text/htmlx', false],
    [`${'x/y, '.repeat(100)}text/html`, false],
  ])('%s → %s', (accept, expected) => {
    expect(prefersHtml(accept)).toBe(expected)
  })
})

describe('posternEndpoint', () => {
  it.each([
    ['/_postern/callback?code=1&state=2', 'callback'],
    ['/_postern/signout', 'signout'],
    ['/_postern/signin?next=/', 'signin'],
    ['/_postern', 'unknown'],
    ['/_postern/', 'unknown'],
    ['/_postern/callback/', 'unknown'],
    ['/_POSTERN/callback', 'unknown'],
    ['/%5Fpostern/x', 'unknown'],
    ['/%255Fpostern/x', 'unknown'],
    ['/%5F%70%6F%73%74%65%72%6E', 'unknown'],
    ['//_postern/x', 'unknown'],
    ['/\\_postern/x', 'unknown'],
    ['/a/../_postern/x', 'unknown'],
    ['/a/%2e%2e/_postern/x', 'unknown'],
    ['/_postern;jsessionid=1/x', 'unknown'],
    ['/_postern%2Fx', 'unknown'],
    ['/', undefined],
    ['/_posterns', undefined],
    ['/app/_postern/x', undefined],
    ['/postern', undefined],
    ['/%E0%A4%A', undefined],
    ['/?next=/_postern/x', undefined],
  ] as const)('%s → %s', (target, expected) => {
    expect(posternEndpoint(target)).toBe(expected)
  })
})

describe('returnPathOf', () => {
  it.each([
    ['/', '/'],
    ['/app/page?x=1&y=%2F', '/app/page?x=1&y=%2F'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    ['/a/../b', '/a/../b'],
  ])('%s is a path on the service', (raw, expected) => {
    expect(returnPathOf(raw)).toBe(expected)
  })

  it.each([
    '', 'https://evil.example/', '//evil.example', '/\\evil.example', '\\\\evil.example', 'evil.example', 'javascript:alert(1)',
    '/\t/evil.example', '/\n/evil.example', '/a b', '/ünï', '/a\\b', '/a#frag', '/_postern/signout', '/%5Fpostern/x', `/${'a'.repeat(1024)}`, null, undefined,
  ])('%j is refused', (raw) => {
    expect(returnPathOf(raw)).toBeUndefined()
  })
})

describe('crossOriginProblem', () => {
  const own = 'http://hello.p.localhost:7080'
  it.each([
    ['GET', ['Origin', 'http://evil.example', 'Sec-Fetch-Site', 'cross-site'], false],
    ['OPTIONS', ['Origin', 'http://evil.example'], false],
    ['POST', [], false],
    ['POST', ['Origin', own, 'Sec-Fetch-Site', 'same-origin'], false],
    ['POST', ['Origin', 'HTTP://HELLO.P.LOCALHOST:7080'], false],
    ['POST', ['Sec-Fetch-Site', 'none'], false],
    ['POST', ['Origin', 'http://evil.p.localhost:7080'], true],
    ['POST', ['Origin', 'null'], true],
    ['POST', ['Origin', 'https://hello.p.localhost:7080'], true],
    ['DELETE', ['Sec-Fetch-Site', 'same-site'], true],
    ['PUT', ['Sec-Fetch-Site', 'cross-site', 'Origin', own], true],
    ['GET', ['Upgrade', 'websocket', 'Origin', 'http://evil.example'], true],
    ['GET', ['Upgrade', 'websocket', 'Origin', own], false],
  ] as const)('%s %j refused: %s', (method, headers, refused) => {
    expect(crossOriginProblem(method, headers, own) !== undefined).toBe(refused)
  })
})

describe('cookies', () => {
  it('are __Host- and Secure in a secure context, plain elsewhere; never with a Domain', () => {
    expect(browserCookies(true).session).toBe('__Host-postern_service_session')
    expect(browserCookies(false).state('abcdefghijklmnop')).toBe('postern_state_abcdefghijkl')
    expect(setCookie('n', 'v', true, 60.9)).toBe('n=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure')
    expect(setCookie('n', 'v', false, -5)).toBe('n=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=0')
    expect(secureContext(new URL('http://localhost:7080'), false)).toBe(true)
    expect(secureContext(new URL('http://run.localhost:7080'), false)).toBe(true)
    expect(secureContext(new URL('https://run.example.com'), false)).toBe(true)
    expect(secureContext(new URL('http://run.example.com'), true)).toBe(true)
    expect(secureContext(new URL('http://run.example.com'), false)).toBe(false)
    expect(secureContext(new URL('http://localhost.evil.example'), false)).toBe(false)
  })

  it('a cookie sent twice (planted by another host) is trusted as neither', () => {
    const raw = ['Cookie', 'a=1; s=one', 'cookie', 's=two']
    expect(cookieValues(raw, 's')).toEqual(['one', 'two'])
    expect(oneCookie(raw, 's')).toBeUndefined()
    expect(oneCookie(['Cookie', 'a=1; s=one'], 's')).toBe('one')
    expect(oneCookie(['Cookie', 's='], 's')).toBeUndefined()
  })
})

describe('serviceAtUrl', () => {
  const gateway = new URL('http://localhost:7080')
  it.each([
    ['http://hello.my-project.localhost:7080/x', { projectId: 'my-project', serviceId: 'hello' }],
    ['HTTP://HELLO.MY-PROJECT.LOCALHOST:7080/', { projectId: 'my-project', serviceId: 'hello' }],
    ['https://hello.my-project.localhost:7080/', undefined],
    ['http://hello.my-project.localhost:7081/', undefined],
    ['http://hello.my-project.localhost/', undefined],
    ['http://a.hello.my-project.localhost:7080/', undefined],
    ['http://my-project.localhost:7080/', undefined],
    ['http://evil@hello.my-project.localhost:7080/', undefined],
    ['http://hello.my-project.localhost.evil.example:7080/', undefined],
  ])('%s → %j', (url, expected) => {
    expect(serviceAtUrl(new URL(url), gateway)).toEqual(expected)
  })
})
