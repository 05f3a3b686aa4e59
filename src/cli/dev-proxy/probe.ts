import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'

/** The status of an unauthenticated HEAD to a service URL (*.localhost resolved to loopback). */
export function request(uri: string): Promise<number> {
  const url = new URL(uri)
  const local = url.hostname === 'localhost' || url.hostname.endsWith('.localhost')
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = send({ host: local ? '127.0.0.1' : url.hostname, port: url.port || undefined, method: 'HEAD', path: '/', headers: { host: url.host }, servername: url.hostname, timeout: 10_000 }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}
