import { invalid } from '../core/errors.js'
import { urlMeantBy } from '../core/scheme-less.js'
import { printable } from '../iam/members.js'

/**
 * A service's upstream as stored: an http or https URL without credentials, query or fragment,
 * and without a trailing slash. An address typed as a server's listen address (`localhost:3000`,
 * `:3000`, `3000`) is refused with the URL it likely meant, rather than "only http:// and
 * https://" (`localhost:` reads as a scheme) or "not a URL".
 */
export function parseUpstream(raw: string): string {
  const meant = urlMeantBy(raw)
  if (meant) throw invalid(`upstream: '${printable(raw)}' names no scheme: give ${meant} (or https://…).`)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw invalid(`upstream: '${printable(raw)}' is not a URL (e.g. http://127.0.0.1:9000).`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('upstream: only http:// and https:// upstreams are supported.')
  if (url.username || url.password) throw invalid('upstream: credentials in the URL are not allowed.')
  if (url.search || url.hash) throw invalid('upstream: a query string or fragment is not allowed.')
  return url.href.replace(/\/$/, '')
}
