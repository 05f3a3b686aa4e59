/* global process, console */
// google-auth-library for Node's Impersonated credentials, pointed at Postern's IAM Credentials
// endpoint as its `endpoint` option allows: a source client holding the caller's access token,
// an access token and an ID token minted as the target account, and an IdTokenClient calling the
// service with the latter. Prints what happened as JSON.
import { IdTokenClient, Impersonated, OAuth2Client } from 'google-auth-library'
import { callGateway } from './call-gateway.mjs'

const [endpoint, sourceToken, targetPrincipal, audience, gatewayPort] = process.argv.slice(2)
const sourceClient = new OAuth2Client()
sourceClient.setCredentials({ access_token: sourceToken, expiry_date: Date.now() + 600_000 })
const impersonated = new Impersonated({ sourceClient, targetPrincipal, targetScopes: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: 600, endpoint })
const { token: accessToken } = await impersonated.getAccessToken()
const client = new IdTokenClient({ targetAudience: audience, idTokenProvider: impersonated })
const headers = await client.getRequestHeaders(audience)
const authorization = typeof headers.get === 'function' ? headers.get('authorization') : headers.Authorization

const answer = await callGateway(audience, gatewayPort, authorization)
console.log(JSON.stringify({ ...answer, authorization, accessToken }))
