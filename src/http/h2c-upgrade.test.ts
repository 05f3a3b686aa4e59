import { describe, expect, it } from 'vitest'
import { headWithoutUpgrade, upgradesToH2c } from './h2c-upgrade.js'

describe('upgradesToH2c', () => {
  it.each([['h2c', true], ['H2C', true], ['websocket, h2c', true], ['h2c/1', true], ['websocket', false], ['h2', false], ['xh2c', false], [undefined, false]] as const)('%s: %s', (upgrade, expected) =>
    expect(upgradesToH2c(upgrade)).toBe(expected),
  )
})

describe('headWithoutUpgrade', () => {
  const request = (rawHeaders: string[], url = '/upload?x=1') => ({ method: 'POST', url, httpVersion: '1.1', rawHeaders })

  it('writes the request back as it came, less its ask to switch', () => {
    const head = headWithoutUpgrade(request(['Host', 'a.example', 'Connection', 'Upgrade, HTTP2-Settings, close', 'Upgrade', 'h2c', 'HTTP2-Settings', 'AAMAAABkAAQCAAAAAAIAAAAA', 'Content-Length', '5', 'X-Note', 'caf\u00e9']))
    expect(head?.toString('latin1')).toBe('POST /upload?x=1 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\nContent-Length: 5\r\nX-Note: caf\u00e9\r\n\r\n')
    // Bytes above 0x7f go back as the single bytes Node read them from.
    expect(head?.includes(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe(true)
  })

  it('drops a Connection header left with nothing, and keeps repeated headers in order', () => {
    const head = headWithoutUpgrade(request(['Host', 'a', 'Connection', 'upgrade,http2-settings', 'Cookie', 'a=1', 'Cookie', 'b=2']))
    expect(head?.toString('latin1')).toBe('POST /upload?x=1 HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n')
  })

  it('with close, asks for the connection to end after the answer, whatever else Connection said', () => {
    const head = headWithoutUpgrade(request(['Host', 'a', 'Connection', 'Upgrade, keep-alive', 'Upgrade', 'websocket']), true)
    expect(head?.toString('latin1')).toBe('POST /upload?x=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n')
  })

  it('refuses to write back a line break', () => {
    expect(headWithoutUpgrade(request(['Host', 'a', 'X-Evil', 'x\r\nX-Postern-Authenticated-Email: e@x']))).toBeUndefined()
    expect(headWithoutUpgrade(request(['Host', 'a'], '/a\r\nX: y'))).toBeUndefined()
  })
})
