import type { Level } from '../../core/log.js'
import { loggedTarget } from '../../http/logged-target.js'

/**
 * What a client did wrong, in nginx's words (`*94 client sent invalid chunked body, client: …`):
 * nginx writes some of these at its own `error` level, one line for each connection, from anyone.
 */
const CLIENT_CAUSED = /^\S+ \S+ \[\w+\] \d+#\d+: \*\d+ client (sent|intended to send|prematurely closed|closed|timed out)\b/

/** nginx's own levels for what stops it or a worker (a port taken, memory gone). */
const NGINX_FAILING = /^\S+ \S+ \[(emerg|alert|crit)\] /

/**
 * The level at which Postern logs a line of nginx's error log: a client's mistake is `info` (as
 * nginx itself logs most of them, and as the Node gateway answers them without a line), so that
 * no caller can fill the warnings of whoever runs Postern; what stops nginx or a worker is an
 * error; anything else nginx says is a warning.
 */
export function nginxLineLevel(line: string): Level {
  if (CLIENT_CAUSED.test(line)) return 'info'
  return NGINX_FAILING.test(line) ? 'error' : 'warn'
}

/** A query in one of nginx's lines (`request: "GET /p?a=1 HTTP/1.1"`, `upstream: "http://…/p?a=1"`): up to the space that ends it. */
const QUERY = /\?\S*/g
/** What closes the quoted field a query ends (`", host: …`): kept as it is. */
const FIELD_END = /",?$/
/** A compact JWS (its header, base64url of `{"`, begins `eyJ`) anywhere else in a line: a path, a referrer. */
const JWS = /eyJ[\w-]*\.[\w-]+\.[\w+/=-]*/g

/**
 * One of nginx's lines as Postern logs it: of every query only the parameter names (as the Node
 * plane logs its targets: loggedTarget), and no token. nginx names the request and the upstream
 * URL of what failed, queries and all, and query values are where secrets travel in URLs (an
 * `api_key`, an OAuth `code`, an `access_token`).
 */
export function redactedNginxLine(line: string): string {
  return line
    .replace(JWS, '…')
    .replace(QUERY, (query) => {
      const end = FIELD_END.exec(query)?.[0] ?? ''
      return loggedTarget(query.slice(0, query.length - end.length)) + end
    })
}

/**
 * Whole lines from a stream read in chunks that may end mid-line: `push` returns the lines a
 * chunk completes, and keeps what follows the last newline (at most `maxLine` characters) for
 * the next.
 */
export function lineSplitter(maxLine = 8192): { push(chunk: string): string[] } {
  let partial = ''
  return {
    push(chunk) {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop()!.slice(-maxLine)
      return lines
    },
  }
}

/**
 * How many of nginx's lines about clients' mistakes Postern logs: at most `perWindow` in a window
 * of `windowMs`, the rest counted and said in one line when the window is over (`takeHeld`).
 * nginx writes such a line for each connection of a client that sends a broken body: anyone
 * could otherwise fill Postern's log at the rate they send requests, where the Node gateway
 * answers the same requests without a line. (Lines about upstreams are all logged: they tell
 * which request an upstream failed, and only callers of that upstream's service cause them.)
 */
export class LineThrottle {
  private windowStart = -Infinity
  private shown = 0
  private held = 0

  constructor(
    private readonly perWindow = 20,
    readonly windowMs = 10_000,
  ) {}

  /** Whether a line is logged; one that is not is counted for takeHeld. */
  admit(now: number): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now
      this.shown = 0
    }
    if (this.shown < this.perWindow) {
      this.shown++
      return true
    }
    this.held++
    return false
  }

  /** How many lines were held back since the last call. */
  takeHeld(): number {
    const held = this.held
    this.held = 0
    return held
  }
}
