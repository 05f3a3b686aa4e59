import { describe, expect, it } from 'vitest'
import { redirectRewrite, rewrittenLocation, rewrittenRefresh } from './redirect-location.js'

const PUBLIC = { scheme: 'https', host: 'hello.my-project.example.com' }
const plain = redirectRewrite(new URL('http://127.0.0.1:14002'), PUBLIC)
const based = redirectRewrite(new URL('http://127.0.0.1:14002/base/'), PUBLIC)
const v6 = redirectRewrite(new URL('http://[::1]:14002'), PUBLIC)
const tls = redirectRewrite(new URL('https://App.Internal'), PUBLIC)
const port80 = redirectRewrite(new URL('http://app.internal:80'), { scheme: 'http', host: 'hello.p.localhost:7080' })

describe('rewrittenLocation', () => {
  it.each([
    // The upstream's own URL, whatever follows it.
    [plain, 'http://127.0.0.1:14002/internal', 'https://hello.my-project.example.com/internal'],
    [plain, 'http://127.0.0.1:14002', 'https://hello.my-project.example.com'],
    [plain, 'http://127.0.0.1:14002/', 'https://hello.my-project.example.com/'],
    [plain, 'http://127.0.0.1:14002?next=/a', 'https://hello.my-project.example.com?next=/a'],
    [plain, 'http://127.0.0.1:14002#top', 'https://hello.my-project.example.com#top'],
    [plain, 'http://127.0.0.1:14002/a?b=http://127.0.0.1:14002/c', 'https://hello.my-project.example.com/a?b=http://127.0.0.1:14002/c'],
    // Scheme and host in any case; the path as it was.
    [plain, 'HTTP://127.0.0.1:14002/Some/Path', 'https://hello.my-project.example.com/Some/Path'],
    [tls, 'https://app.internal/x', 'https://hello.my-project.example.com/x'],
    [tls, 'HTTPS://APP.INTERNAL/x', 'https://hello.my-project.example.com/x'],
    // A default port, said or not, is no port; a port with leading zeros is that port.
    [tls, 'https://app.internal:443/x', 'https://hello.my-project.example.com/x'],
    [port80, 'http://app.internal/x', 'http://hello.p.localhost:7080/x'],
    [port80, 'http://app.internal:80/x', 'http://hello.p.localhost:7080/x'],
    [port80, 'http://app.internal:/x', 'http://hello.p.localhost:7080/x'],
    [plain, 'http://127.0.0.1:014002/x', 'https://hello.my-project.example.com/x'],
    // An IPv6 literal.
    [v6, 'http://[::1]:14002/x', 'https://hello.my-project.example.com/x'],
    // Scheme-relative, naming the upstream's host.
    [plain, '//127.0.0.1:14002/x', '//hello.my-project.example.com/x'],
    // Under a base path: what follows it.
    [based, 'http://127.0.0.1:14002/base/x', 'https://hello.my-project.example.com/x'],
    [based, 'http://127.0.0.1:14002/base', 'https://hello.my-project.example.com'],
    [based, 'http://127.0.0.1:14002/base?x=1', 'https://hello.my-project.example.com?x=1'],
  ])('%#: %s', (rewrite, location, expected) => {
    expect(rewrittenLocation(location, rewrite)).toBe(expected)
  })

  it.each([
    // Not the upstream's port: a prefix of it, or more digits.
    [plain, 'http://127.0.0.1:1400/x'],
    [redirectRewrite(new URL('http://127.0.0.1:1400'), PUBLIC), 'http://127.0.0.1:14002/x'],
    [plain, 'http://127.0.0.1/x'],
    [plain, 'http://127.0.0.1:140021'],
    // Another scheme, host, or a name that merely starts alike.
    [plain, 'https://127.0.0.1:14002/x'],
    [plain, 'http://127.0.0.10:14002/x'],
    [plain, 'http://127.0.0.1:14002.evil.example/x'],
    [tls, 'https://app.internal.evil.example/x'],
    [tls, 'http://app.internal/x'],
    [tls, 'https://app.internal:8443/x'],
    [v6, 'http://[::2]:14002/x'],
    [v6, 'http://[::1]/x'],
    // Credentials before the host: another authority.
    [plain, 'http://user@127.0.0.1:14002/x'],
    // Relative, another host, the public URL already.
    [plain, '/internal'],
    [plain, 'internal'],
    [plain, '?x=http://127.0.0.1:14002/'],
    [plain, 'https://example.org/'],
    [plain, 'https://hello.my-project.example.com/x'],
    [plain, '//example.org/x'],
    [plain, ''],
    // Outside the base path, or a path that merely starts with it.
    [based, 'http://127.0.0.1:14002/other'],
    [based, 'http://127.0.0.1:14002/basement'],
    [based, 'http://127.0.0.1:14002/'],
    [based, 'http://127.0.0.1:14002/BASE/x'],
  ])('%#: leaves %s', (rewrite, location) => {
    expect(rewrittenLocation(location, rewrite)).toBeUndefined()
  })
})

describe('rewrittenRefresh', () => {
  it.each([
    ['0; url=http://127.0.0.1:14002/x', '0; url=https://hello.my-project.example.com/x'],
    ['5;URL=http://127.0.0.1:14002/x', '5;URL=https://hello.my-project.example.com/x'],
    ["0; url='http://127.0.0.1:14002/x'", "0; url='https://hello.my-project.example.com/x'"],
    ['3, http://127.0.0.1:14002/x', '3, https://hello.my-project.example.com/x'],
    ['1.5 ; url = http://127.0.0.1:14002', '1.5 ; url = https://hello.my-project.example.com'],
  ])('%s', (refresh, expected) => {
    expect(rewrittenRefresh(refresh, plain)).toBe(expected)
  })

  it.each(['5', '0; url=/x', '0; url=http://127.0.0.1:1400/x', '0; url=https://example.org/', 'http://127.0.0.1:14002/x'])('leaves %s', (refresh) => {
    expect(rewrittenRefresh(refresh, plain)).toBeUndefined()
  })
})
