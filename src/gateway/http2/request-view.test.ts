import { describe, expect, it } from 'vitest'
import { h2RequestView } from './request-view.js'

const raw = (...pairs: string[]) => pairs

describe('the HTTP/1.1 view of an HTTP/2 request', () => {
  it('takes :authority as Host, :path as the target, and leaves pseudo-headers out', () => {
    const view = h2RequestView({ ':method': 'POST', ':authority': 'hello.p.localhost:7080', ':path': '/pkg.Svc/Call', te: 'trailers' },
      raw(':method', 'POST', ':authority', 'hello.p.localhost:7080', ':path', '/pkg.Svc/Call', ':scheme', 'http', 'content-type', 'application/grpc', 'te', 'trailers'))
    expect(view).toEqual({ method: 'POST', host: 'hello.p.localhost:7080', path: '/pkg.Svc/Call', trailers: true,
      rawHeaders: ['host', 'hello.p.localhost:7080', 'content-type', 'application/grpc', 'te', 'trailers'] })
  })

  it('joins cookie crumbs into one Cookie header', () => {
    const view = h2RequestView({ ':method': 'GET', ':authority': 'a.b.localhost', ':path': '/' }, raw(':authority', 'a.b.localhost', 'cookie', 'a=1', 'cookie', 'postern_x=2'))
    expect('problem' in view ? view : view.rawHeaders).toEqual(['host', 'a.b.localhost', 'cookie', 'a=1; postern_x=2'])
  })

  it('refuses a Host that contradicts :authority, two Hosts, CONNECT, no host at all, and non-origin targets', () => {
    const problem = (h: Record<string, string>, r: string[]) => {
      const v = h2RequestView(h, r)
      return 'problem' in v ? v.problem.status : 'ok'
    }
    expect(problem({ ':method': 'GET', ':authority': 'a.b.localhost', ':path': '/' }, raw('host', 'evil.example'))).toBe('INVALID_ARGUMENT')
    expect(problem({ ':method': 'GET', ':authority': 'a.b.localhost', ':path': '/' }, raw('host', 'A.b.localhost'))).toBe('ok')
    expect(problem({ ':method': 'GET', ':path': '/' }, raw('host', 'a', 'host', 'b'))).toBe('INVALID_ARGUMENT')
    expect(problem({ ':method': 'GET', ':path': '/' }, raw())).toBe('INVALID_ARGUMENT')
    expect(problem({ ':method': 'CONNECT', ':authority': 'a.b.localhost:443' }, raw())).toBe('INVALID_ARGUMENT')
    expect(problem({ ':method': 'OPTIONS', ':authority': 'a.b.localhost', ':path': '*' }, raw())).toBe('INVALID_ARGUMENT')
    expect(problem({ ':method': 'GET', ':authority': 'a.b.localhost', ':path': 'http://other.example/' }, raw())).toBe('INVALID_ARGUMENT')
  })
})
