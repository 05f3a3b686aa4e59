/* global process, console */
// google-auth-library for Node, used as an application uses it: no key file, GCE_METADATA_HOST
// set by the caller, an ID token client for the service's URL. Prints what happened as JSON.
import { GoogleAuth } from 'google-auth-library'
import { callGateway } from './call-gateway.mjs'

const [audience, gatewayPort] = process.argv.slice(2)
const auth = new GoogleAuth()
const client = await auth.getIdTokenClient(audience)
const headers = await client.getRequestHeaders(audience)
const authorization = typeof headers.get === 'function' ? headers.get('authorization') : headers.Authorization
const accessToken = await auth.getAccessToken()
const projectId = await auth.getProjectId()
const email = (await auth.getCredentials()).client_email

const answer = await callGateway(audience, gatewayPort, authorization)
console.log(JSON.stringify({ ...answer, authorization, accessToken, projectId, email }))
