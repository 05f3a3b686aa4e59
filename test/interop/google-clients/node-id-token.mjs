/* global process, console, URL */
// google-auth-library for Node, used as an application uses it: no key file, GCE_METADATA_HOST
// set by the caller, an ID token client for the service's URL. Prints what happened as JSON.
import { request } from 'node:http'
import { GoogleAuth } from 'google-auth-library'

const [audience, gatewayPort] = process.argv.slice(2)
const auth = new GoogleAuth()
const client = await auth.getIdTokenClient(audience)
const headers = await client.getRequestHeaders(audience)
const authorization = typeof headers.get === 'function' ? headers.get('authorization') : headers.Authorization
const accessToken = await auth.getAccessToken()
const projectId = await auth.getProjectId()
const email = (await auth.getCredentials()).client_email

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
console.log(JSON.stringify({ ...answer, authorization, accessToken, projectId, email }))
