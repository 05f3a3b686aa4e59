/* global URL */
// One call to a service through the gateway, as the Google client scripts make it. Node cannot
// resolve *.localhost names: the request goes to the gateway's address with the service's Host.
import { request } from 'node:http'

export function callGateway(serviceUrl, gatewayPort, authorization) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(gatewayPort), path: '/echo', headers: { host: new URL(serviceUrl).host, authorization } }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('error', reject)
    req.end()
  })
}
