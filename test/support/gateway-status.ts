import { request } from 'node:http'

/** The gateway's status for GET PATH at HOST with this bearer token: a plain client, no CLI in the loop (to time the 1 s bounds). */
export function gatewayStatus(port: number, host: string, bearer: string, path = '/'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, authorization: `Bearer ${bearer}` } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}
