/**
 * The status line and headers of an upstream's answer Postern relays, in bytes: an app's cookies,
 * security policy and preload links add up past Node's default (16 KB) and nginx's (4 KB), where
 * an answer would be 502. Every hop takes the same: the gateway's upstream pools and upgrades,
 * nginx's proxy_buffer_size on the nginx data plane, and `postern services proxy`.
 */
export const MAX_RESPONSE_HEADER_BYTES = 64 * 1024

/**
 * What a hop behind Postern's gateway takes of the gateway's answers (nginx's locations the
 * gateway answers, `postern services proxy`): an upstream's head of MAX_RESPONSE_HEADER_BYTES and
 * the fields the gateway adds to it (framing, Connection, X-Request-Id). With exactly
 * MAX_RESPONSE_HEADER_BYTES there, such a head was nginx's HTML 502 (upstream-answer-fuzz, seed 991013).
 */
export const MAX_RELAYED_HEADER_BYTES = MAX_RESPONSE_HEADER_BYTES + 16 * 1024

/**
 * How long a kept-alive connection to an upstream may stay idle before the gateway closes it,
 * when the upstream does not say (`Keep-Alive: timeout=N`, which the Node gateway heeds). Below
 * the 5 s of Node's, uvicorn's and Apache's servers, so that the gateway closes first and does
 * not reuse a connection as the upstream closes it: a request with a body that meets one cannot
 * be sent again (http/resend.ts). Both data planes: the Node gateway's pools, nginx's upstream
 * blocks.
 */
export const UPSTREAM_IDLE_SECONDS = 4

/**
 * The highest status code an answer may carry (RFC 9110 §15: 100 to 599). An upstream's answer
 * with a higher one gets the caller the gateway's 502: clients do not agree on what such a code
 * means, and node:http2 will not write one.
 */
export const MAX_STATUS = 599
