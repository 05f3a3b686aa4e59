import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock } from '../../core/clock.js'
import type { Verdict } from '../../observability/metrics.js'
import type { Gateway } from '../gateway.js'
import { allowed } from './decision.js'
import { RENEW_MAX_LINES, VERDICT, VERDICT_FIELDS } from './decision-protocol.js'

/** A renewal's line is a token and a host: about a kilobyte, 4 KB allowed on average. */
const MAX_BODY = RENEW_MAX_LINES * 4 * 1024

/**
 * The nginx data plane's verdicts renewed in bulk (decision-protocol.ts RENEW_PATH): one request
 * every tenth of a second per nginx worker instead of one per verdict, so that many callers each
 * using the plane all the time cost Postern little. Each line is decided as the request it stands
 * for (the same decideAccess: a revoked grant is refused here, and the denial audited); nginx
 * keeps the verdicts this answers `allow` for the time it says.
 */
export function renewalEndpoint(gateway: Gateway, o: { issuer: string; clock: Clock; record: (service: string, verdict: Verdict) => void }) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req)
    if (body === undefined || req.method !== 'POST') {
      res.writeHead(400, { 'content-length': '0' }).end()
      return
    }
    const lines = body === '' ? [] : body.split('\n').slice(0, RENEW_MAX_LINES)
    const answers: string[] = []
    for (const line of lines) answers.push(await renewed(gateway, line, o))
    const out = answers.join('\n')
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(out), 'cache-control': 'no-store' })
    res.end(out)
  }
}

async function renewed(gateway: Gateway, line: string, o: { issuer: string; clock: Clock; record: (service: string, verdict: Verdict) => void }): Promise<string> {
  const fields = line.split('\t')
  const [method, host, authorization] = fields
  // Exactly the three fields nginx writes: a header value holding a tab is not renewed (then it ends, and is asked for again whole).
  if (fields.length !== 3 || !method || !host || !authorization || !/^[A-Z]{1,20}$/.test(method)) return 'refuse'
  const rawHeaders = ['authorization', authorization]
  const access = await gateway.decideAccess({ method, host, rawHeaders, path: '/' })
  o.record(access.route?.resource ?? '', access.verdict)
  if (!access.ok) return 'refuse'
  const verdict = await allowed(gateway, access, { method, upgrade: false, rawHeaders, issuer: o.issuer, now: o.clock() })
  return ['allow', verdict[VERDICT.cacheMs], ...VERDICT_FIELDS.map((f) => escaped(verdict[f] ?? ''))].join('\t')
}

/**
 * A field as its line carries it: percent-encoded only when it holds what the line or the
 * unescaping would misread (a tab, a line break, %, +). Most fields (the assertion, the token
 * without its signature) hold none, and a thousand callers renewed four times a second made
 * encoding them the largest cost of renewing.
 */
function escaped(value: string): string {
  return /[\t\n\r%+]/.test(value) ? encodeURIComponent(value) : value
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        req.destroy()
        resolve(undefined)
      } else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', () => resolve(undefined))
  })
}
