/* global process, console, URL */
// google-auth-library for Node's Impersonated credentials, pointed at Postern's IAM Credentials
// endpoint as its `endpoint` option allows: a source client holding the caller's access token,
// an access token and an ID token minted as the target account, and an IdTokenClient calling the
// service with the latter. Prints what happened as JSON.
import { request } from 'node:http'
import { IdTokenClient, Impersonated, OAuth2Client } from 'google-auth-library'

const [endpoint, sourceToken, targetPrincipal, audience, gatewayPort] = process.argv.slice(2)
const sourceClient = new OAuth2Client()
sourceClient.setCredentials({ access_token: sourceToken, expiry_date: Date.now() + 600_000 })
const impersonated = new Impersonated({ sourceClient, targetPrincipal, targetScopes: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: 600, endpoint })
const { token: accessToken } = await impersonated.getAccessToken()
const client = new IdTokenClient({ targetAudience: audience, idTokenProvider: impersonated })
const headers = await client.getRequestHeaders(audience)
const authorization = typeof headers.get === 'function' ? headers.get('authorization') : headers.Authorization

// Node cannot resolve *.localhost names: the request goes to the gateway's address with the service's Host.
const answer = await new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port: Number(gatewayPort), path: '/echo', headers: { host: new URL(audience).host, authorization } }, (res) => {
    let body = ''
    res.on('data', (d) => (body += d))
    res.on('end', () => resolve({ status: res.statusCode, body }))
  })
  req.on('error', reject)
  req.end()
})
console.log(JSON.stringify({ ...answer, authorization, accessToken }))
