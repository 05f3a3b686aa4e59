import { request, type IncomingHttpHeaders } from 'node:http'

/** The gateway's status for GET PATH at HOST with this bearer token: a plain client, no CLI in the loop (to time the 1 s bounds). */
export async function gatewayStatus(port: number, host: string, bearer: string, path = '/'): Promise<number> {
  return (await gatewayAnswer(port, host, bearer, path)).status
}

/** As gatewayStatus, with the answer's headers (Node's fetch would not send the Host header). */
export function gatewayAnswer(port: number, host: string, bearer: string, path = '/'): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, authorization: `Bearer ${bearer}` } }, (res) => {
      res.resume()
      resolve({ status: res.statusCode ?? 0, headers: res.headers })
    })
    req.on('error', reject)
    req.end()
  })
}
