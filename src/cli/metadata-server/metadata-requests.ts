/**
 * What one request to the metadata server asks for — pure. The paths, headers and refusals are
 * those of Google's GCE metadata server, as far as Google's client libraries use them
 * (gcp-metadata for Node, google-auth for Python): `Metadata-Flavor: Google` is required, a
 * request carrying `X-Forwarded-For` is refused (so a proxy on the machine cannot be turned
 * against it), and only GET is served. Host must name the machine itself, so a web page whose
 * DNS name rebinds to 127.0.0.1 cannot read tokens.
 */
export type MetadataRequest =
  | { kind: 'refuse'; status: number; text: string }
  | { kind: 'listing'; lines: string[] }
  | { kind: 'text'; field: 'email' | 'project-id' | 'scopes' }
  | { kind: 'account'; recursive: true }
  | { kind: 'identity'; audience: string; includeEmail: boolean }
  | { kind: 'token' }

export const SCOPES = ['https://www.googleapis.com/auth/cloud-platform', 'https://www.googleapis.com/auth/userinfo.email']

const ROOT = '/computeMetadata/v1'
const ACCOUNT_FIELDS = ['aliases', 'email', 'identity', 'scopes', 'token']
/** Names a client may use for the metadata server (GCE's own, and this machine's loopback). */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', '169.254.169.254', 'localhost', '127.0.0.1', '[::1]'])

export interface RequestFacts {
  method: string
  /** The request target as sent. */
  target: string
  headers: Record<string, string | string[] | undefined>
  /** The account the server acts as (the path may name it instead of `default`). */
  email: string
  /** The address the server listens on, accepted as a Host too. */
  listenHost: string
}

export function classify(r: RequestFacts): MetadataRequest {
  if (!hostAllowed(r.headers.host, r.listenHost)) return refuse(403, 'Host not allowed: the metadata server answers only requests addressed to this machine.')
  if (r.headers['x-forwarded-for'] !== undefined) return refuse(403, 'Requests with X-Forwarded-For are refused, as by GCE’s metadata server.')
  if (r.method !== 'GET') return refuse(405, 'Only GET is served.')
  if (flavor(r.headers['metadata-flavor']) !== 'Google') return refuse(403, 'Missing required header: Metadata-Flavor: Google')
  let url: URL
  try {
    url = new URL(r.target, 'http://metadata')
  } catch {
    return refuse(400, 'Malformed request target.')
  }
  const path = url.pathname.replace(/\/+$/, '')
  const q = url.searchParams
  if (path === '') return { kind: 'listing', lines: ['computeMetadata/'] }
  if (path === '/computeMetadata') return { kind: 'listing', lines: ['v1/'] }
  if (path === ROOT) return { kind: 'listing', lines: ['instance/', 'project/'] }
  if (path === `${ROOT}/instance`) return { kind: 'listing', lines: ['service-accounts/'] }
  if (path === `${ROOT}/project`) return { kind: 'listing', lines: ['project-id'] }
  if (path === `${ROOT}/project/project-id`) return { kind: 'text', field: 'project-id' }
  if (path === `${ROOT}/instance/service-accounts`) return { kind: 'listing', lines: ['default/', `${r.email}/`] }
  const m = /^\/computeMetadata\/v1\/instance\/service-accounts\/([^/]+)(?:\/([a-z]+))?$/.exec(path)
  if (!m) return refuse(404, 'Not found.')
  const [, who, field] = m as unknown as [string, string, string | undefined]
  if (who !== 'default' && decoded(who)?.toLowerCase() !== r.email.toLowerCase()) return refuse(404, `No service account ${who.slice(0, 254)} on this machine.`)
  if (field === undefined) return q.get('recursive') === 'true' ? { kind: 'account', recursive: true } : { kind: 'listing', lines: ACCOUNT_FIELDS }
  if (field === 'aliases') return { kind: 'listing', lines: ['default'] }
  if (field === 'email' || field === 'scopes') return { kind: 'text', field }
  if (field === 'token') return { kind: 'token' }
  if (field === 'identity') {
    const audience = q.get('audience')
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    if (!audience || audience.length > 2048 || /[\s\x00-\x1f]/.test(audience)) return refuse(400, 'non-empty audience parameter required')
    return { kind: 'identity', audience, includeEmail: q.get('format') === 'full' }
  }
  return refuse(404, 'Not found.')
}

const refuse = (status: number, text: string): MetadataRequest => ({ kind: 'refuse', status, text })

/** A path segment percent-decoded, or undefined for one no client could have meant (`%zz`, half a UTF-8 sequence). */
function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

function flavor(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value
}

function hostAllowed(host: string | string[] | undefined, listenHost: string): boolean {
  if (typeof host !== 'string') return false
  const name = host.toLowerCase().replace(/:\d{1,5}$/, '')
  return METADATA_HOSTS.has(name) || name === listenHost.toLowerCase() || name === `[${listenHost.toLowerCase()}]`
}
