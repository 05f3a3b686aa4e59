/**
 * What nginx and Postern say to each other about one request (the nginx data plane), named once
 * for both sides: nginx-config.ts writes these names into nginx's configuration and Lua, and
 * decision.ts reads and answers them.
 */
export const DECISION_PATH = '/_postern/nginx/decide'
/**
 * Verdicts renewed in bulk: nginx's workers send, every RENEW_EVERY_MS, the verdicts they are
 * still using past half their life that rest on a token alone, one line each
 * (`METHOD<TAB>host<TAB>Authorization<TAB>stamp`), and get one line back for each, in order:
 * `allow`, the cache milliseconds, VERDICT_FIELDS (percent-encoded where they must be), a stamp
 * naming that answer ('' when it will not be answered again) and the hold milliseconds,
 * tab-separated; or `same`, the cache milliseconds and the hold milliseconds, when the line's
 * stamp names the answer Postern would give (nginx keeps the fields it has); or `refuse` (the next
 * request is then decided, and refused, as any other). Each line is a decision like any other
 * (renewal.ts).
 *
 * Every answer, with or without lines, carries the view's epoch (EPOCH_HEADER): a stamped answer
 * stands, past its cache milliseconds and for up to its hold milliseconds, while the epoch it was
 * given in (the stamp up to its last dot) is the one Postern last said, less than
 * VERDICT_CACHE_MS ago. nginx asks with its renewals, and with an empty one every 200 ms while
 * it holds verdicts (nginx-lua-renewal.ts): a change moves the epoch, and the verdicts of the one
 * before are renewed (and used meanwhile for what is left of their last confirmation), so a
 * revocation takes hold as soon as before; an unreachable Postern confirms
 * nothing, so they end as soon as before. What it spares is renewing every caller twice a
 * second while nothing changes.
 */
export const RENEW_PATH = '/_postern/nginx/renew'
export const RENEW_EVERY_MS = 100
/** The header of a renewal answer that says the view's epoch (or `stale`: nothing stands on it). */
export const EPOCH_HEADER = 'x-postern-epoch'
/** At most this many lines in one renewal (more wait for the next). */
export const RENEW_MAX_LINES = 2000

/** Upstream failures are answered by Postern too, so the bodies are the Node gateway's. */
export const UPSTREAM_ERROR_PATH = '/_postern/nginx/upstream-error'
/** The header with which nginx shows it is Postern's own data plane (decision-key.ts): on every question it asks. */
export const DECISION_KEY_HEADER = 'x-postern-decision-key'

/** The Host nginx sends its decision requests with: no service's, so the gateway's internal endpoints answer. */
export const DECISION_HOST = 'postern-decision.invalid'

/** The original request, as nginx describes it on its decision subrequest (which carries the client's other headers as they came). */
export const ORIGINAL = {
  method: 'x-postern-original-method',
  uri: 'x-postern-original-uri',
  host: 'x-postern-original-host',
  connection: 'x-postern-original-connection',
  contentLength: 'x-postern-original-content-length',
  transferEncoding: 'x-postern-original-transfer-encoding',
  protocol: 'x-postern-original-protocol',
  upgrade: 'x-postern-original-upgrade',
} as const

/**
 * Postern's answer. `verdict: answer` means: send this response as it is (status, headers, body);
 * `verdict: close`: send it, then end the connection (a request refused for its form, whose
 * connection the Node gateway ends too);
 * `verdict: gateway`: pass the request whole to Postern's own gateway, which decides it again and
 * forwards it (an HTTP/1.1 request to an upstream that speaks HTTP/2, which nginx cannot reach).
 */
export const VERDICT = {
  verdict: 'x-postern-verdict',
  /**
   * The service's upstream, named and with the addresses to forward to (decision.ts
   * upstreamField), its base path, its Host, its timeout in seconds.
   */
  upstream: 'x-postern-upstream',
  basePath: 'x-postern-base-path',
  upstreamHost: 'x-postern-upstream-host',
  timeout: 'x-postern-timeout',
  resource: 'x-postern-resource',
  /** How long nginx may reuse this verdict for the same host, method and credentials (0: not at all). */
  cacheMs: 'x-postern-cache-ms',
  /**
   * With an `allow` for a request whose only credential was a Postern ID token in Authorization:
   * the public key (DER SubjectPublicKeyInfo, base64) that verifies tokens with that token's
   * header, so that nginx may admit further tokens of the same caller itself (nginx-lua-tokens.ts).
   */
  tokenKey: 'x-postern-token-key',
} as const

/**
 * A verdict is reused for at most this long, and never past the token's expiry. Half a second, so
 * that a revocation — carried to every process by the change feed within a few hundred
 * milliseconds — is enforced by nginx within a second, as by the Node gateway.
 */
export const VERDICT_CACHE_MS = 500

/** Header names the verdict carries, in the order nginx-lua.ts reads them. */
export const VERDICT_FIELDS = [
  VERDICT.upstream,
  VERDICT.basePath,
  VERDICT.upstreamHost,
  VERDICT.timeout,
  VERDICT.resource,
  'x-postern-authenticated-principal',
  'x-postern-authenticated-email',
  'x-postern-jwt-assertion',
  'x-postern-authorization',
  'x-postern-serverless-authorization',
  'x-postern-cookie',
] as const
