import { describe, expect, it } from 'vitest'
import { LineThrottle, lineSplitter, nginxLineLevel, redactedNginxLine } from './nginx-log.js'

describe('nginxLineLevel', () => {
  it("takes a client's mistakes for information", () => {
    for (const line of [
      '2026/12/06 11:37:24 [error] 21815#21815: *94 client sent invalid chunked body, client: 127.0.0.1, server: , request: "POST /echo?q=1 HTTP/1.1", host: "web.my-project.localhost:27764"',
      '2026/12/06 11:37:27 [error] 21814#21814: *267 client sent invalid chunked body while sending to client, client: 127.0.0.1, server: , request: "POST / HTTP/1.1"',
      '2026/12/06 11:40:01 [error] 7#7: *3 client intended to send too large chunked body: 1048577+16384 bytes, client: 127.0.0.1, server: , request: "POST /upload HTTP/1.1"',
      '2026/12/06 11:40:02 [info] 7#7: *4 client prematurely closed connection while reading client request body, client: 127.0.0.1',
      '2026/12/06 11:40:03 [info] 7#7: *5 client timed out (110: Connection timed out) while reading client request headers, client: 127.0.0.1',
    ]) {
      expect(nginxLineLevel(line), line).toBe('info')
    }
  })

  it('keeps anything else a warning, even where a client is named or the words come later', () => {
    for (const line of [
      '2026/12/06 11:40:04 [error] 7#7: *6 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1"',
      '2026/12/06 11:40:05 [error] 7#7: *7 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1',
      '2026/12/06 11:40:06 [error] 7#7: *8 lua entry thread aborted: runtime error: client sent invalid chunked body',
      '2026/12/06 11:40:08 [warn] 7#7: *9 a client request body is buffered to a temporary file',
      'client sent invalid chunked body',
    ]) {
      expect(nginxLineLevel(line), line).toBe('warn')
    }
  })

  it('takes what stops nginx or a worker for an error', () => {
    expect(nginxLineLevel('2026/12/06 11:40:07 [emerg] 7#7: bind() to 127.0.0.1:7080 failed (98: Address already in use)')).toBe('error')
    expect(nginxLineLevel('2026/12/06 11:40:07 [alert] 7#7: worker process 8 exited on signal 9')).toBe('error')
    expect(nginxLineLevel('2026/12/06 11:40:07 [crit] 7#7: *1 SSL_do_handshake() failed')).toBe('error')
  })
})

describe('LineThrottle', () => {
  it('lets so many lines through in a window, counts the others for one line after, and starts again in the next window', () => {
    const throttle = new LineThrottle(3, 10_000)
    const admitted = (n: number, at: number) => Array.from({ length: n }, () => throttle.admit(at)).filter(Boolean).length
    expect(admitted(1000, 0)).toBe(3)
    expect(admitted(10, 9_999)).toBe(0)
    expect(throttle.takeHeld()).toBe(1007)
    expect(throttle.takeHeld()).toBe(0)
    expect(admitted(5, 10_000)).toBe(3)
    expect(throttle.takeHeld()).toBe(2)
  })
})

describe('lineSplitter', () => {
  it('returns whole lines only, and keeps a line cut across chunks for the next', () => {
    const split = lineSplitter()
    expect(split.push('one\ntw')).toEqual(['one'])
    expect(split.push('o\nthree')).toEqual(['two'])
    expect(split.push('\n')).toEqual(['three'])
    expect(split.push('')).toEqual([])
  })

  it('keeps at most the last maxLine characters of a line that never ends', () => {
    const split = lineSplitter(4)
    expect(split.push('abcdefgh')).toEqual([])
    expect(split.push('\n')).toEqual(['efgh'])
  })
})

describe('redactedNginxLine', () => {
  it('keeps of every query only the names, and of a token nothing, the rest as nginx said it', () => {
    const jws = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl'
    expect(redactedNginxLine('2026/12/07 19:00:00 [error] 7#7: *3 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /pay?api_key=SECRET123&code=abc&flag HTTP/1.1", upstream: "http://127.0.0.1:9/pay?api_key=SECRET123&code=abc&flag", host: "pay.my-project.localhost:7080"')).toBe(
      '2026/12/07 19:00:00 [error] 7#7: *3 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /pay?api_key=…&code=…&flag HTTP/1.1", upstream: "http://127.0.0.1:9/pay?api_key=…&code=…&flag", host: "pay.my-project.localhost:7080"',
    )
    expect(redactedNginxLine(`[error] 7#7: *4 client sent invalid chunked body, client: 127.0.0.1, server: , request: "POST /in?access_token=${jws} HTTP/1.1", referrer: "https://x.example/cb/${jws}?q=s3cret"`)).toBe(
      '[error] 7#7: *4 client sent invalid chunked body, client: 127.0.0.1, server: , request: "POST /in?access_token=… HTTP/1.1", referrer: "https://x.example/cb/…?q=…"',
    )
    // A quote inside the query is no end to it.
    expect(redactedNginxLine('request: "GET /a?k=x"y"z HTTP/1.1"')).toBe('request: "GET /a?k=… HTTP/1.1"')
    expect(redactedNginxLine('nginx: [emerg] bind() to 127.0.0.1:7080 failed')).toBe('nginx: [emerg] bind() to 127.0.0.1:7080 failed')
  })
})
