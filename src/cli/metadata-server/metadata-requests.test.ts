import { describe, expect, it } from 'vitest'
import { classify, type RequestFacts } from './metadata-requests.js'

const EMAIL = 'bot@my-project.iam.postern.internal'
const facts = (target: string, headers: RequestFacts['headers'] = {}, method = 'GET'): RequestFacts => ({
  method,
  target,
  headers: { host: '127.0.0.1:8099', 'metadata-flavor': 'Google', ...headers },
  email: EMAIL,
  listenHost: '127.0.0.1',
})
const SA = '/computeMetadata/v1/instance/service-accounts'

describe('classify: the metadata requests Google’s libraries send, and GCE’s refusals', () => {
  it.each<[string, RequestFacts, unknown]>([
    ['the detection ping at /', facts('/'), { kind: 'listing', lines: ['computeMetadata/'] }],
    ['instance, without a trailing slash', facts('/computeMetadata/v1/instance'), { kind: 'listing' }],
    ['the default account, recursively', facts(`${SA}/default/?recursive=true`), { kind: 'account', recursive: true }],
    ['the account by its email', facts(`${SA}/${EMAIL}/email`), { kind: 'text', field: 'email' }],
    ['an identity, as gcp-metadata asks (audience not encoded)', facts(`${SA}/default/identity?format=full&audience=http://svc.p.localhost:7080`), { kind: 'identity', audience: 'http://svc.p.localhost:7080', includeEmail: true }],
    ['an identity in the standard format', facts(`${SA}/default/identity?audience=x`), { kind: 'identity', audience: 'x', includeEmail: false }],
    ['the access token, with scopes', facts(`${SA}/default/token?scopes=a,b`), { kind: 'token' }],
    ['the project id', facts('/computeMetadata/v1/project/project-id'), { kind: 'text', field: 'project-id' }],
    ['GCE’s name as Host', facts('/', { host: 'metadata.google.internal' }), { kind: 'listing' }],
    ['localhost with any port', facts('/', { host: 'localhost:1234' }), { kind: 'listing' }],
  ])('%s', (_what, request, expected) => {
    expect(classify(request)).toMatchObject(expected as object)
  })

  it.each<[string, RequestFacts, number]>([
    ['no Metadata-Flavor', facts('/', { 'metadata-flavor': undefined }), 403],
    ['Metadata-Flavor twice', facts('/', { 'metadata-flavor': ['Google', 'Google'] }), 403],
    ['X-Forwarded-For', facts('/', { 'x-forwarded-for': '1.2.3.4' }), 403],
    ['another Host (DNS rebinding)', facts('/', { host: 'attacker.example:8099' }), 403],
    ['no Host', facts('/', { host: undefined }), 403],
    ['POST', facts('/', {}, 'POST'), 405],
    ['an identity without audience', facts(`${SA}/default/identity`), 400],
    ['an audience with a newline', facts(`${SA}/default/identity?audience=a%0Ab`), 400],
    ['another account', facts(`${SA}/someone@else/email`), 404],
    ['an account name that is no percent-encoding (%zz)', facts(`${SA}/%zz/email`), 404],
    ['an account name with half a UTF-8 sequence', facts(`${SA}/%E0%A4/identity?audience=x`), 404],
    ['an unknown field', facts(`${SA}/default/private-key`), 404],
    ['an unknown path', facts('/computeMetadata/v1/instance/attributes/ssh-keys'), 404],
  ])('refuses %s with %i', (_what, request, status) => {
    expect(classify(request)).toMatchObject({ kind: 'refuse', status })
  })
})
