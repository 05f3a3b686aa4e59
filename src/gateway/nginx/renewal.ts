import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock } from '../../core/clock.js'
import { BoundedCache } from '../../core/bounded-cache.js'
import type { Verdict } from '../../observability/metrics.js'
import type { Gateway } from '../gateway.js'
import { allowed, tokenCacheMs, type Peers } from './decision.js'
import { EPOCH_HEADER, RENEW_MAX_LINES, VERDICT, VERDICT_CACHE_MS, VERDICT_FIELDS } from './decision-protocol.js'

/** A renewal's line is a token and a host: about a kilobyte, 4 KB allowed on average. */
const MAX_BODY = RENEW_MAX_LINES * 4 * 1024

/**
 * An `allow` given to a renewal line, answered again without deciding while it still holds: until
 * the view's epoch moves (a change applied in full, change-follower.ts, or the view reloaded), and
 * for ANSWER_REUSE_MS at most, so the assertion it carries has most of its life left
 * (assertions.ts). Only for a caller allowed by a binding without a condition: a condition sees
 * the clock. The token's expiry and the view's staleness are checked on every line. Its stamp
 * names this very answer, and the epoch it was given in: a line that carries it gets `same` (nginx
 * holds these fields already) rather than the fields, and nginx holds it while the epoch stands
 * (decision-protocol.ts EPOCH_HEADER).
 */
interface Answered {
  epoch: string
  until: number
  /** The token's `exp` (seconds). */
  exp: number
  resource: string
  /** The answer after its cache milliseconds: VERDICT_FIELDS, tab-separated. */
  fields: string
  stamp: string
}

const ANSWER_REUSE_MS = 10_000

export interface RenewalOptions {
  issuer: string
  clock: Clock
  record: (service: string, verdict: Verdict) => void
  /** Names the view decisions are made from: it changes when a change is applied or the view is reloaded. */
  viewEpoch: () => string
  /** Whether the view is too old to decide from (--max-staleness): then every line is decided, and refused. */
  stale: (now: number) => boolean
  /** Counts each line's answer (postern_nginx_renewals_total). */
  counted: (answer: AnswerKind) => void
  peers: Peers
}

/**
 * The nginx data plane's verdicts renewed in bulk (decision-protocol.ts RENEW_PATH): one request
 * every tenth of a second per nginx worker instead of one per verdict, so that many callers each
 * using the plane all the time cost Postern little. Each line is decided as the request it stands
 * for (the same decideAccess: a revoked grant is refused here, and the denial audited); nginx
 * keeps the verdicts this answers `allow` (or `same`) for the time it says. A thousand callers
 * renewed four times a second while nothing changes are a digest, a lookup and a few bytes each
 * (Answered), not a decision and two kilobytes.
 */
export function renewalEndpoint(gateway: Gateway, o: RenewalOptions) {
  const answered = new BoundedCache<string, Answered>(20_000)
  // Stamps are this process's own: after a restart no line's stamp names an answer of the new one.
  const stampPrefix = randomBytes(6).toString('base64url')
  let stamps = 0
  // A stamp is its epoch, a dot and a serial: nginx reads the epoch back from it.
  const epochNow = () => `${stampPrefix}.${o.viewEpoch()}`
  const memo = { answered, epochNow, stamp: (epoch: string) => `${epoch}.${(stamps++).toString(36)}` }
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req)
    if (body === undefined || req.method !== 'POST') {
      res.writeHead(400, { 'content-length': '0' }).end()
      return
    }
    const lines = body === '' ? [] : body.split('\n').slice(0, RENEW_MAX_LINES)
    const answers: string[] = []
    for (const line of lines) {
      const { kind, answer } = await renewed(gateway, line, memo, o)
      o.counted(kind)
      answers.push(answer)
    }
    const out = answers.join('\n')
    // Said after the lines were answered: an answer given in an epoch that has passed meanwhile is renewed at once.
    const epoch = o.stale(o.clock()) ? 'stale' : epochNow()
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(out), 'cache-control': 'no-store', [EPOCH_HEADER]: epoch })
    res.end(out)
  }
}

type AnswerKind = 'allow' | 'same' | 'refuse'

const REFUSE = { kind: 'refuse', answer: 'refuse' } as const

async function renewed(
  gateway: Gateway,
  line: string,
  memo: { answered: BoundedCache<string, Answered>; epochNow: () => string; stamp: (epoch: string) => string },
  o: RenewalOptions,
): Promise<{ kind: AnswerKind; answer: string }> {
  const fields = line.split('\t')
  const [method, host, authorization, stamp = ''] = fields
  // The fields nginx writes (the stamp of the answer it holds, if any): a header value holding a tab is not renewed (then it ends, and is asked for again whole).
  if (fields.length < 3 || fields.length > 4 || !method || !host || !authorization || !/^[A-Z]{1,20}$/.test(method)) return REFUSE
  const now = o.clock()
  const epoch = memo.epochNow()
  // Kept by digest, of the line without its stamp: the line is a slice of the whole body, which a key would keep alive.
  const key = createHash('sha256').update(`${method}\t${host}\t${authorization}`).digest('base64')
  const hit = memo.answered.get(key)
  // Answered again only with a cache time of holding left: one near its end is decided anew (a new stamp, a full hold).
  if (hit && hit.epoch === epoch && hit.until - VERDICT_CACHE_MS > now && !o.stale(now)) {
    const ms = tokenCacheMs(hit.exp, now)
    if (ms > 0) {
      o.record(hit.resource, 'allowed')
      const hold = holdMs(hit, now)
      if (stamp === hit.stamp) return { kind: 'same', answer: `same\t${ms}\t${hold}` }
      return { kind: 'allow', answer: `allow\t${ms}\t${hit.fields}\t${hit.stamp}\t${hold}` }
    }
  }
  const rawHeaders = ['authorization', authorization]
  const access = await gateway.decideAccess({ method, host, rawHeaders, path: '/' })
  o.record(access.route?.resource ?? '', access.verdict)
  // A service whose upstream now speaks HTTP/2 is not nginx's to forward to: its next request is
  // decided whole, and handed to Postern's gateway (decision.ts).
  if (!access.ok || access.route.service.useHttp2) return REFUSE
  const verdict = await allowed(gateway, access, { method, upgrade: false, rawHeaders, issuer: o.issuer, now, peers: o.peers })
  const answer = VERDICT_FIELDS.map((f) => escaped(verdict[f] ?? '')).join('\t')
  const exp = access.caller?.claims?.exp
  if (access.verdict === 'allowed' && !access.conditional && exp !== undefined) {
    const answered: Answered = { epoch, until: now + ANSWER_REUSE_MS, exp, resource: access.route.resource, fields: answer, stamp: memo.stamp(epoch) }
    memo.answered.set(key, answered)
    return { kind: 'allow', answer: `allow\t${verdict[VERDICT.cacheMs]}\t${answer}\t${answered.stamp}\t${holdMs(answered, now)}` }
  }
  return { kind: 'allow', answer: `allow\t${verdict[VERDICT.cacheMs]}\t${answer}\t\t0` }
}

/**
 * How long nginx may hold an answer while its epoch stands: until Postern would decide it anew, and
 * never past the token's expiry. nginx renews it a cache time before that (nginx-lua-renewal.ts),
 * when Postern no longer answers it again (see `hit.until` above) but decides, with a new stamp.
 */
function holdMs(a: Answered, now: number): number {
  return Math.max(0, Math.min(a.until - now, a.exp * 1000 - now))
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
