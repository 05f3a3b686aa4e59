import { MAX_TIMEOUT_SECONDS } from '../../api/service-timeout.js'
import type { TrustedProxies } from '../../http/client-address.js'
import { MAX_RELAYED_HEADER_BYTES, MAX_RESPONSE_HEADER_BYTES, UPSTREAM_IDLE_SECONDS } from '../../http/limits.js'
import { PLAIN_HTTP_REFUSED } from '../../http/plain-on-tls-port.js'
import { errorAnswer, grpcAnswer } from '../answer.js'
import { CONNECT_REFUSED } from '../client-errors.js'
import { repeatedHeaderMessage } from '../extract-token.js'
import { HEADER_RULES } from '../headers.js'
import { MAX_HEADER_BYTES, TRACE_REFUSED } from '../request-shape.js'
import { invalidRequestChallenge } from '../responses.js'
import { DECISION_HOST, DECISION_KEY_HEADER, DECISION_PATH, ORIGINAL, UPSTREAM_ERROR_PATH } from './decision-protocol.js'
import { CONNECT_SECONDS, TLS_BLOCK_PREFIX } from './nginx-lua-balancer.js'
import { nginxLua } from './nginx-lua.js'
import { MAX_BODY_TIMEOUT_SECONDS, type NginxShape } from './nginx-shape.js'
import { LOOKUP_WAIT_MS } from './upstream-peers.js'

/** The timeout services are created with (control/routes/services.ts): forwarded without a redirect. */
export const DEFAULT_TIMEOUT_SECONDS = 300

export interface NginxPlaneOptions {
  /** Where nginx listens for callers: Postern's gateway address. */
  listen: { host: string; port: number }
  /** Where nginx asks Postern: `unix:/path/gateway.sock`, or `host:port` of a Postern gateway. */
  decisions: string
  /** What nginx shows on each question it asks there (decision-key.ts): the configuration holds a secret. */
  decisionKey: string
  /** A directory nginx may write (pid, temporary bodies); relative paths in the config are under it. */
  runDir: string
  /** What of the services the configuration holds (nginx-shape.ts): the rest comes in verdicts. */
  shape: NginxShape
  /** Debian's dynamic modules (libnginx-mod-http-lua and its NDK). */
  modulesDir: string
  workerProcesses: 'auto' | number
  /** `user` for the workers: set only when nginx starts as root (then it would otherwise switch to nobody). */
  user?: string
  tls?: { cert: string; key: string }
  /**
   * The CAs (a PEM file) an https upstream's certificate must chain to. nginx checks it, and its
   * name against the upstream URL's host, before a request and its credentials go upstream.
   */
  upstreamCa: string
  /**
   * `--trusted-proxies`: proxies in front whose X-Forwarded-For names the client. The upstream
   * then learns the chain they vouch for, as from the Node gateway; by default, the peer alone.
   */
  trustedProxies: TrustedProxies
  /**
   * X-Forwarded-Proto for upstreams (public-scheme.ts): `https` behind a proxy that ends TLS;
   * undefined, nginx's own scheme (`postern nginx-config` for an nginx whose listen decides it).
   */
  proto?: 'http' | 'https'
  /**
   * The port of the gateway's public URL ('' for its scheme's default): X-Forwarded-Host is the
   * service URL's host, as the Node gateway sends it (nginx's $host, lowercased, with this port),
   * whatever port the caller's Host named.
   */
  publicPort: string
  /**
   * The gateway URL's host name, lower-case: a service's host is `{service}.{project}.` and it
   * (routes.ts). /healthz and /readyz on any other host are the gateway's own, whatever Postern
   * holds, and are given a bound of their own (postern.health).
   */
  gatewayHost: string
  /**
   * `--max-connections`: each worker's connections, its callers' and its upstream connections
   * together (nginx's worker_connections). At the limit nginx closes idle keep-alive connections
   * to make room, then refuses new ones.
   */
  maxConnections: number
  /** Postern's pid when nginx is its child: nginx quits within seconds of that process being gone (never an orphan holding the port; watchParents). */
  watchPid?: number
}

/**
 * How long nginx waits to connect to Postern for a decision. Postern's own nginx asks on a Unix
 * socket, which connects at once or is refused at once; an nginx of your own asks over TCP, and
 * two seconds outlast one lost SYN (resent after a second) where one second would not.
 */
export const DECIDE_CONNECT_SECONDS = 2
/**
 * How long nginx waits for Postern's answer before the caller's 503 (fail closed). A decision
 * takes milliseconds: Postern decides from its view of the database, in memory. The longest it
 * waits on purpose is an upstream's first DNS lookup, cut at LOOKUP_WAIT_MS (2 s), so this is
 * that and a second more: room for a burst of new callers, each a token signature checked and
 * an assertion signed (about a millisecond each, on libuv's four threads: a thousand at once
 * queue for a quarter of a second), that must not be cut off as if Postern were gone. A Postern
 * that is wedged (stopped, hung) costs a caller these 3 s, not the 10 s it did.
 */
export const DECIDE_READ_SECONDS = LOOKUP_WAIT_MS / 1000 + 1
/**
 * How long nginx waits on Postern's gateway for a request it hands it whole, to send it and for
 * each read of the answer: a minute past the longest service timeout. The gateway bounds the wait
 * on a service's upstream by the service's timeout and answers its own 504 then, so nginx never
 * cuts a request off first (its default, 60 s, did, with a 504 of its own).
 */
export const GATEWAY_WAIT_SECONDS = MAX_TIMEOUT_SECONDS + 60

/** The buffer for an answer Postern's own gateway relays to nginx (upgrades, and requests nginx hands it whole). */
const FROM_GATEWAY_BUFFER = `
      proxy_buffer_size ${MAX_RELAYED_HEADER_BYTES / 1024}k;`

/** The one upstream block of every plain-HTTP service (postern.balance picks the peer). */
const HTTP_BLOCK = 'postern_http'
/** What an upstream block forwarding to services holds: no address of its own (Lua picks the peer). */
const BALANCED = 'server 0.0.0.1:1; balancer_by_lua_block { postern.balance() }'
/**
 * What nginx would act on in an upstream's answer, where the Node gateway passes it on to the
 * caller: X-Accel-Redirect sends the request on to any location, Postern's own among them (its
 * decisions' answers, assertion and all, reached the caller); the others change how nginx relays.
 */
const X_ACCEL = ['X-Accel-Redirect', 'X-Accel-Expires', 'X-Accel-Limit-Rate', 'X-Accel-Buffering', 'X-Accel-Charset']
/** Connection slots each worker keeps beyond `--max-connections` for nginx's own: listening sockets, Lua timers, the renewal's connection. */
const NGINX_OWN_CONNECTIONS = 16

/**
 * The variables Lua sets for the forwarding (postern.access in nginx-lua.ts), and what each
 * holds. Their names are short on purpose: nginx lowercases and hashes a variable's name each
 * time Lua sets or reads one, about eight times a request, and shorter names cut the data plane's
 * instructions per request by about 5% (callgrind, one worker).
 */
const LUA_VARIABLES: Record<string, string> = {
  p_block: 'the upstream block forwarded to, when not the plain-HTTP one',
  p_target: 'the target forwarded, under the service\'s base path',
  p_host: 'the Host header the upstream gets',
  p_sni: 'the server name an https upstream is asked for',
  p_base: 'the service\'s base path, when it has one, for its redirects (nginx-lua-redirects.ts)',
  p_fail: 'the timeout and the service\'s name, for an upstream error',
  p_turned: 'why the upstream\'s answer was turned away (response_headers), for its 502',
  p_close: 'an answer to send before the connection ends (a request refused for its form), for @postern_close',
  p_who: HEADER_RULES.identity.principal,
  p_email: HEADER_RULES.identity.email,
  p_jwt: HEADER_RULES.identity.assertion,
  p_auth: 'Authorization, a Postern token\'s signature removed',
  p_mark: 'what takes the place of a removed signature',
  p_sauth: 'X-Serverless-Authorization, likewise',
  p_cookie: 'Cookie without Postern\'s cookies',
  p_otarget: 'the request\'s target, for a decision',
  p_oconn: 'the request\'s Connection header, for a decision',
  p_rid: 'X-Request-Id',
  p_peer: 'the upstream\'s key in postern.balance\'s peers, after the service\'s timeout when not the default',
  p_xff: 'X-Forwarded-For, with --trusted-proxies',
}

/** A file path as an nginx string (Postern's own paths: no quote, no `$`, no line break). */
const q = (s: string) => {
  if (/["$\\\r\n]/.test(s)) throw new Error(`nginx cannot be given the path ${JSON.stringify(s)}: it holds a quote, a $ or a line break.`)
  return `"${s}"`
}

/**
 * The nginx data plane's whole configuration (issue "A data plane at nginx speed"): nginx
 * carries the bytes, Postern decides. Each request is admitted by Lua from a verdict cached in
 * shared memory for at most a second (decision-protocol.ts), or asks Postern over keep-alive
 * connections; the upstream's addresses and the service's timeout come in its verdict, and the
 * one keep-alive block of plain-HTTP upstreams or an https server name's own forwards to them
 * (nginx-lua-balancer.ts); what verdicts cannot carry is in o.shape (nginx-shape.ts). Header
 * rules come from HEADER_RULES, bodies of refusals from Postern itself, so both data planes
 * answer alike.
 */
export function nginxConfig(o: NginxPlaneOptions): string {
  const listen = `${o.listen.host.includes(':') && !o.listen.host.startsWith('[') ? `[${o.listen.host}]` : o.listen.host}:${o.listen.port}`
  // https upstreams' blocks, one a server name (nginx-lua-balancer.ts): nginx keeps idle upstream
  // connections by address alone, and a TLS connection must not pass from one server name to another.
  const tlsBlocks = Array.from({ length: o.shape.tlsBlocks }, (_, i) => `  upstream ${TLS_BLOCK_PREFIX}${i + 1} { ${BALANCED} keepalive 64; keepalive_requests 100000; keepalive_timeout ${UPSTREAM_IDLE_SECONDS}s; }`)
  // Written unquoted into the configuration and into a Lua string: base64url letters only, which neither reads as anything else.
  const decisionKey = o.decisionKey
  if (!/^[\w-]{32,}$/.test(decisionKey)) throw new Error('nginx-config: the decision key must be base64url')
  const toPostern = (path: string) => `
      internal;
      proxy_pass http://postern_decisions${path};
      proxy_http_version 1.1;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Transfer-Encoding "";
      proxy_set_header Connection "";
      proxy_set_header Host ${DECISION_HOST};
      proxy_set_header ${DECISION_KEY_HEADER} ${decisionKey};
      proxy_set_header ${ORIGINAL.method} $request_method;
      proxy_set_header ${ORIGINAL.uri} $p_otarget;
      proxy_set_header ${ORIGINAL.host} $http_host;
      proxy_set_header ${ORIGINAL.connection} $p_oconn;
      proxy_set_header ${ORIGINAL.contentLength} $http_content_length;
      proxy_set_header ${ORIGINAL.transferEncoding} $http_transfer_encoding;
      proxy_set_header ${ORIGINAL.protocol} $server_protocol;
      proxy_set_header ${ORIGINAL.upgrade} $http_upgrade;
      # A Postern that does not answer fails closed in seconds (503), not ten: DECIDE_CONNECT_SECONDS, DECIDE_READ_SECONDS.
      proxy_connect_timeout ${DECIDE_CONNECT_SECONDS}s;
      proxy_send_timeout ${DECIDE_READ_SECONDS}s;
      proxy_read_timeout ${DECIDE_READ_SECONDS}s;
      proxy_buffering on;
      # An allow verdict carries the caller's Cookie and token headers back (cleaned): as large as
      # the headers the gateway takes, and room for the rest.
      proxy_buffer_size ${MAX_HEADER_BYTES / 1024 + 64}k;
      proxy_busy_buffers_size ${MAX_HEADER_BYTES / 1024 + 64}k;
      proxy_buffers 8 64k;`
  /**
   * Forwarding to the service's upstream (postern.balance sets a timeout other than the default,
   * but for the body's, `bodySeconds`, which only a location can): to the block and target Lua
   * names (`variable`), or to the plain-HTTP block with the request's own target, as the caller
   * sent it — for a service without a base path, the most common, this spares nginx parsing a URL
   * and finding a block by its name on every request.
   */
  const forwarding = (to: 'variable' | 'plain', bodySeconds = MAX_BODY_TIMEOUT_SECONDS) => `
      proxy_pass ${to === 'variable' ? '$p_block$p_target' : `http://${HTTP_BLOCK}`};
      proxy_http_version 1.1;
      proxy_connect_timeout ${CONNECT_SECONDS}s;
      proxy_send_timeout ${DEFAULT_TIMEOUT_SECONDS}s;
      proxy_read_timeout ${DEFAULT_TIMEOUT_SECONDS}s;
      # A body that stops arriving for the service's timeout (a minute at most) ends the request.
      # nginx times only the pauses, where the Node gateway times the whole body (README).
      client_body_timeout ${bodySeconds}s;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_ssl_server_name on;
      proxy_ssl_name $p_sni;${to === 'variable' ? `
      # As Postern's gateway does: an upstream whose certificate does not chain to a trusted CA, or
      # does not name the upstream's host, gets no request (nginx would send it to anyone); nor one
      # that offers nothing newer than TLS 1.1 (Node's minimum is 1.2; nginx 1.22 still offers 1.0).
      proxy_ssl_verify on;
      proxy_ssl_verify_depth 10;
      proxy_ssl_protocols TLSv1.2 TLSv1.3;
      proxy_ssl_trusted_certificate ${q(o.upstreamCa)};` : ''}
      proxy_set_header Host $p_host;
      proxy_set_header Connection "";
      # Redirects to the upstream's own address are the header filter's (nginx-lua-redirects.ts);
      # nginx's default would rewrite those naming the upstream block (http://postern_…/), which
      # the Node gateway passes on.
      proxy_redirect off;
      proxy_set_header Authorization $p_auth$p_mark;
      proxy_set_header X-Serverless-Authorization $p_sauth;
      proxy_set_header Cookie $p_cookie;
      proxy_set_header ${HEADER_RULES.identity.principal} $p_who;
      proxy_set_header ${HEADER_RULES.identity.email} $p_email;
      proxy_set_header ${HEADER_RULES.identity.assertion} $p_jwt;
      proxy_set_header X-Forwarded-For ${o.trustedProxies.cidrs.length > 0 ? '$p_xff' : '$remote_addr'};
      proxy_set_header X-Forwarded-Proto ${o.proto ?? '$scheme'};
      proxy_set_header X-Forwarded-Host $host${o.publicPort ? `:${o.publicPort}` : ''};
      proxy_set_header X-Request-Id $p_rid;
      # Hop-by-hop answer headers nginx itself would pass on (HEADER_RULES.hopByHop; it hides
      # Connection, Keep-Alive and Transfer-Encoding, the header filter what Connection nominates).
      # Upgrades are Postern's gateway's, in other locations: no answer here switches protocols.
      proxy_hide_header Upgrade;
      proxy_hide_header Proxy-Authenticate;
      proxy_hide_header Proxy-Connection;
      proxy_hide_header Trailer;
      proxy_hide_header TE;
      add_header Cache-Control $p_cache_private always;
      header_filter_by_lua_block { postern.response_headers() }
      error_page 400 /_postern/nginx-400;
      error_page 494 =431 /_postern/nginx-431;
      error_page 502 = @postern_502;
      error_page 504 = @postern_504;`
  /** Passed whole to Postern's gateway on its socket, the caller named in X-Real-IP. */
  const toGateway = `
      proxy_pass http://postern_decisions;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "";
      proxy_set_header X-Real-IP $remote_addr;
      proxy_buffering off;
      proxy_request_buffering off;${FROM_GATEWAY_BUFFER}`
  // Most services are plain HTTP without a base path and keep the default timeout: they are
  // forwarded from \`location /\` itself. The others are handed to a named location (an internal
  // redirect costs a little): @postern_forward, or the one with their body's timeout when under a minute.
  const named = o.shape.bodyTimeouts.map((t) => `    location @postern_t${t} {${forwarding('variable', t)}
    }`)
  const unreachable = 'Postern cannot be reached to decide on this request; try again shortly.'
  const unavailable = errorAnswer('UNAVAILABLE', unreachable, undefined).body
  // /healthz and /readyz, as Postern's /readyz words not ready (observability/endpoints.ts).
  const notReady = JSON.stringify({ status: 'not ready', error: unreachable })
  const unavailableGrpc = grpcAnswer('UNAVAILABLE', unreachable).headers
  const badGateway = errorAnswer('BAD_GATEWAY', 'The upstream of this service is unreachable.', undefined).body
  // Completed in Lua with the service's name and the reason, which nginx learns as the request runs.
  const unrelayable = errorAnswer('BAD_GATEWAY', 'The upstream of \0 is unreachable (\0).', undefined).body.split('\\u0000') as [string, string, string]
  const badRequest = errorAnswer('INVALID_ARGUMENT', 'The request is malformed (nginx refused it before it could be decided).', undefined).body
  // nginx refuses a repeated Authorization header itself (400, before any Lua): Lua words it as
  // the Node gateway does (gateway.ts decideAccess), challenge and all.
  const repeatedAuthorization = { body: errorAnswer('INVALID_ARGUMENT', repeatedHeaderMessage('authorization'), undefined).body, challenge: invalidRequestChallenge(repeatedHeaderMessage('authorization')) }
  const tooLarge = errorAnswer('REQUEST_HEADER_FIELDS_TOO_LARGE', 'The request headers are too large.', undefined).body
  const notFound = errorAnswer('NOT_FOUND', 'Not found.', undefined).body
  // Plain HTTP on the TLS port (nginx's 497), worded as Postern's own TLS ports word it.
  const plainHttp = errorAnswer('INVALID_ARGUMENT', PLAIN_HTTP_REFUSED, undefined).body
  // nginx refuses TRACE and CONNECT itself (405); each is worded as the Node gateway words it.
  const methodNotAllowed = { trace: errorAnswer('METHOD_NOT_ALLOWED', TRACE_REFUSED, undefined).body, connect: errorAnswer('METHOD_NOT_ALLOWED', CONNECT_REFUSED, undefined).body }
  return `# Written by Postern (the nginx data plane); \`postern nginx-config\` prints it. Do not edit: it is rewritten when services change.
${o.user ? `user ${o.user};\n` : ''}load_module ${o.modulesDir}/ndk_http_module.so;
load_module ${o.modulesDir}/ngx_http_lua_module.so;
worker_processes ${o.workerProcesses};
pid nginx.pid;
error_log stderr warn;
# nginx's own (listening sockets, the Lua timers and their connection to Postern) take a few more.
events { worker_connections ${o.maxConnections + NGINX_OWN_CONNECTIONS}; }

http {
  access_log off;
  server_tokens off;
  keepalive_requests 100000;
  # As the Node gateway: idle connections closed after 5 s, and clients told so (Keep-Alive:
  # timeout=5), so that those that read it never reuse one nginx is closing.
  keepalive_timeout 5s 5s;
  client_max_body_size 0;
  client_header_timeout 10s;
  # An upstream's answer may carry as many header bytes as through the Node gateway (nginx's own
  # limit is a page, 4 KB). Unbuffered, it is also the most nginx reads from an upstream at once.
  proxy_buffer_size ${MAX_RESPONSE_HEADER_BYTES / 1024}k;
  proxy_buffers 4 ${MAX_RESPONSE_HEADER_BYTES / 1024}k;
  # An upstream's X-Accel-* headers reach the caller as from the Node gateway, never acted on.
  proxy_ignore_headers ${X_ACCEL.join(' ')};
  grpc_ignore_headers ${X_ACCEL.join(' ')};
${X_ACCEL.map((h) => `  proxy_pass_header ${h};\n  grpc_pass_header ${h};`).join('\n')}
  # An upstream's Server header too, as the Node gateway relays it (nginx would put its own in its
  # place), and none when it sends none. Not Date: passed, an answer without one would get none
  # (RFC 9110 §6.6.1 has a proxy add it), and adding it in Lua costs every answer a variable read.
  proxy_pass_header Server;
  grpc_pass_header Server;
  # A refused request's body is not waited for: nginx answers at once, then reads and discards
  # what the caller still sends before closing (30 s by default). nginx counts this time in whole
  # seconds of its clock, so 1s ended anywhere from a moment to a second after the answer, and
  # reset half of the refused uploads that took half a second to send; 2s lingers one to two
  # seconds, never less than the Node gateway's LINGER_MS.
  lingering_time 2s;
  # And a caller that sends nothing more is not waited for past a second (5 s by default): a body
  # held back for 100 Continue never comes, and the refusal has told it the connection ends.
  lingering_timeout 1s;
  # nginx keeps the request line, and each header line, whole in one of these: one as long as
  # the Node gateway takes (all its headers together, MAX_HEADER_BYTES, which the Lua counts).
  large_client_header_buffers 4 ${MAX_HEADER_BYTES / 1024 + 8}k;
  client_body_temp_path body;
  proxy_temp_path proxy;
  fastcgi_temp_path fastcgi;
  uwsgi_temp_path uwsgi;
  scgi_temp_path scgi;
  # Cache-Control: private for an answer to an admitted caller (HEADER_RULES.cacheDecided: one
  # the Lua gave a principal, $p_who), unless the upstream's first Cache-Control already decides.
  # Maps are looked up only when read, and add_header skips an empty value (a public service's).
  map $p_who $p_cache_private { "" ""; default $p_cache_upstream; }
  # (An answer without Cache-Control, the most common, is found by its empty key, before any regex.)
  map $upstream_http_cache_control $p_cache_upstream { "" private; "~*${HEADER_RULES.cacheDecided}" ""; default private; }
  # What the header filter needs of the upstream's Transfer-Encoding and Connection, in one
  # variable read (postern.response_headers): "" for no Transfer-Encoding and a Connection that
  # nominates nothing, "chunked" for chunked alone and such a Connection, "other" for anything
  # else, which the Lua looks at closer. (A map compares without regard to case.)
  map "$upstream_http_transfer_encoding|$upstream_http_connection" $p_up { default other; "|" ""; "|keep-alive" ""; "|close" ""; "chunked|" chunked; "chunked|keep-alive" chunked; "chunked|close" chunked; }
  lua_shared_dict postern_verdicts 64m;
  init_by_lua_block {
${nginxLua({ decisions: o.decisions, decisionKey, gatewayHost: o.gatewayHost, bodies: { unavailable, notReady, unavailableGrpc, badGateway, unrelayable, badRequest, repeatedAuthorization, tooLarge, notFound, plainHttp, methodNotAllowed }, defaultTimeout: DEFAULT_TIMEOUT_SECONDS, http: { block: HTTP_BLOCK, tlsBlocks: o.shape.tlsBlocks }, bodyTimeouts: o.shape.bodyTimeouts, http2: o.tls !== undefined, trustedProxies: o.trustedProxies, publicUrl: { proto: o.proto, publicPort: o.publicPort } })}
  }
  init_worker_by_lua_block {
    postern.init_worker()
${watchParents(o.watchPid)}  }

  upstream postern_decisions { server ${o.decisions}; keepalive 128; keepalive_requests 1000000; keepalive_timeout 60s; }
  # The same Postern, spoken to over h2c (grpc_pass): a block of its own, or its keep-alive cache
  # would hand an HTTP/1.1 connection to the HTTP/2 module and back.
  upstream postern_h2 { server ${o.decisions}; keepalive 32; keepalive_timeout 60s; }
  # Every plain-HTTP service's upstream, its peer chosen by Lua from the addresses Postern
  # resolved (postern.balance): nginx finds a block named in a variable by comparing its name with
  # every block's, so one block per service made each request cost more with each service (ten
  # thousand services: a quarter of the speed). Idle connections are kept per address.
  upstream ${HTTP_BLOCK} { ${BALANCED} keepalive 1024; keepalive_requests 100000; keepalive_timeout ${UPSTREAM_IDLE_SECONDS}s; }
${tlsBlocks.join('\n')}

  server {
    # Under TLS, ALPN offers h2 beside http/1.1. In cleartext nginx 1.22 cannot tell h2c from
    # HTTP/1.1 on one port (preface detection came in 1.25.1): HTTP/1.1 only, and a client that
    # opens with the h2c preface is refused (400) — the README says so.
    listen ${listen}${o.tls ? ' ssl http2' : ''} reuseport;
${o.tls ? `    ssl_certificate ${q(o.tls.cert)};\n    ssl_certificate_key ${q(o.tls.key)};\n    # TLS 1.2 and 1.3, as Node's TLS servers offer on Postern's other ports: nginx 1.22's default\n    # offers 1.0 to 1.2 (1.3 joined its default in 1.23.4), and OpenSSL on Debian refuses below 1.2.\n    ssl_protocols TLSv1.2 TLSv1.3;\n` : ''}    # What nginx refuses itself in the one error shape: malformed requests (400, and so a target
    # too long, or a coding or an HTTP version it does not take), headers too large (431), TRACE
    # and CONNECT (405), its own internal locations asked for by name (404) and, under TLS, plain
    # HTTP sent to the port (497).
    error_page 400 414 501 505 =400 /_postern/nginx-400;
    error_page 494 =431 /_postern/nginx-431;
    error_page 404 /_postern/nginx-404;
    error_page 405 /_postern/nginx-405;
${o.tls ? '    error_page 497 =400 /_postern/nginx-497;\n' : ''}
    # What Lua hands the forwarding below (the verdict, the target, the identity), declared once
    # here (a location nothing reaches) rather than reset by "set" on every request; unset, they
    # read as empty.
    uninitialized_variable_warn off;
    location @postern_variables {
${Object.entries(LUA_VARIABLES).map(([v, holds]) => `      set $${v} ''; # ${holds}`).join('\n')}
      # Never run: named here, the upstream's Transfer-Encoding is found by its name in nginx's
      # hash of variables, and keeps reading as the upstream's header (nginx gives a "set" of an
      # $upstream_http_* name back to its prefix), nil when absent, "" when empty. The header
      # filter reads it on most answers (postern.response_headers): looked for among the prefixes
      # instead, each read cost about 1,400 instructions.
      set $upstream_http_transfer_encoding '';
    }

    location / {
      access_by_lua_block { postern.access() }${forwarding('plain')}
    }
    location @postern_forward {${forwarding('variable')}
    }
    location = /_postern/nginx-decide {${toPostern(DECISION_PATH)}
    }
    location = /_postern/nginx-upstream-error {${toPostern(UPSTREAM_ERROR_PATH + '$is_args$args')}
    }
    location = /_postern/nginx-400 { internal; content_by_lua_block { postern.refused(400) } }
    location = /_postern/nginx-431 { internal; content_by_lua_block { postern.refused(431) } }
    location = /_postern/nginx-404 { internal; content_by_lua_block { postern.refused(404) } }
    location = /_postern/nginx-497 { internal; content_by_lua_block { postern.refused(497) } }
    location = /_postern/nginx-405 { internal; content_by_lua_block { postern.refused(405) } }
    # Upgrades (WebSockets) are Postern's own gateway's to decide and splice: it closes an open
    # tunnel within a second of its caller losing access, which nginx alone could not.
    location @postern_upgrade {
      proxy_pass http://postern_decisions;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "upgrade";
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_read_timeout 1d;
      proxy_send_timeout 1d;
      proxy_buffering off;
      proxy_request_buffering off;${FROM_GATEWAY_BUFFER}
      # An upgrade the upstream did not switch ends its connection, as on the Node gateway.
      keepalive_timeout 0;
      error_page 502 504 =503 /_postern/nginx-503;
    }
    # HTTP/1.x requests to services whose upstream speaks HTTP/2 (useHttp2), which nginx cannot
    # reach (grpc_pass takes HTTP/2 callers alone): Postern's gateway decides them again and sends
    # them over h2c. So too requests to services nginx cannot forward itself (an upstream's host
    # name not resolved, a timeout under a minute it has no location for). It bounds the wait by
    # the service's timeout (an hour at most), so nginx waits longer (GATEWAY_WAIT_SECONDS).
    location @postern_gateway {${toGateway}
      # nginx drops TE (hop-by-hop); "trailers" tells the upstream they are welcome, as gRPC servers want.
      proxy_set_header TE $http_te;
      proxy_read_timeout ${GATEWAY_WAIT_SECONDS}s;
      proxy_send_timeout ${GATEWAY_WAIT_SECONDS}s;
      error_page 502 504 =503 /_postern/nginx-503;
    }
    # HTTP/2 streams are Postern's own gateway's, over h2c (grpc_pass), as upgrades are: the Lua
    # module's subrequests (ngx.location.capture), which a decision needs, do not exist for HTTP/2,
    # and the gateway relays trailers (gRPC), forwards over h2c to upstreams that speak HTTP/2
    # (useHttp2) and resets a stream within a second of its caller losing access. :authority is
    # the caller's; X-Real-IP names the caller.
    location @postern_h2 {
      grpc_pass grpc://postern_h2;
      grpc_set_header Host $http_host;
      grpc_set_header X-Real-IP $remote_addr;
      grpc_read_timeout 1d;
      grpc_send_timeout 1d;
      grpc_buffer_size ${MAX_RELAYED_HEADER_BYTES / 1024}k;
      error_page 502 504 =503 /_postern/nginx-503;
    }
    location = /_postern/nginx-503 { internal; content_by_lua_block { postern.refused(503) } }
    # The gateway's own health, readiness and forward-auth (on a host that is no service: a proxy
    # in front asking, a load balancer) or the service's own path of that name: Postern's gateway
    # tells which, as it does on its own port. Exact and prefix locations, not one regular
    # expression: nginx would run a regular expression on every request's path.
    # A service's own path waits for its upstream as long as the service's timeout allows, as
    # @postern_gateway does: the gateway answers its own 504 then, which nginx passes on.
    # When Postern cannot be reached (nginx's own 502, or 504: not connected within
    # DECIDE_CONNECT_SECONDS, or silent past every service's timeout), each answers as Postern's
    # gateway would rather than with nginx's HTML page: /healthz and /readyz say not ready (503),
    # and forward-auth fails closed (503 UNAVAILABLE), as requests to services do.
    # /healthz and /readyz on a host no service can have (the load balancer's probe, by address
    # or by the gateway's own name) are the gateway's own: Postern answers them in milliseconds
    # (/readyz bounds its database ping at READY_PING_MS), so a Postern silent past
    # DECIDE_READ_SECONDS is not ready. Waited for as long as a service's path, a hung Postern
    # left its probes unanswered for an hour. A host a service may have goes on, after Lua's look
    # at it, to @postern_service_health, which waits as before.
${['/healthz', '/readyz'].map((path) => `    location = ${path} {
      access_by_lua_block { postern.health() }${toGateway}
      proxy_connect_timeout ${DECIDE_CONNECT_SECONDS}s;
      proxy_send_timeout ${DECIDE_READ_SECONDS}s;
      proxy_read_timeout ${DECIDE_READ_SECONDS}s;
      error_page 502 504 =503 /_postern/nginx-not-ready;
    }`).join('\n')}
${['@postern_service_health', '= /forward-auth', '^~ /forward-auth/'].map((l) => `    location ${l} {${toGateway}
      proxy_connect_timeout ${DECIDE_CONNECT_SECONDS}s;
      proxy_send_timeout ${GATEWAY_WAIT_SECONDS}s;
      proxy_read_timeout ${GATEWAY_WAIT_SECONDS}s;
      error_page 502 504 =503 ${l.includes('forward-auth') ? '/_postern/nginx-503' : '/_postern/nginx-not-ready'};
    }`).join('\n')}
    location = /_postern/nginx-not-ready { internal; content_by_lua_block { postern.not_ready() } }
    location @postern_502 { content_by_lua_block { postern.upstream_error(502) } }
    # nginx closes the caller's connection after an answer its header filter turned away (an
    # upstream status nginx cannot relay): said so (Connection: close), or a client would send its
    # next request on a connection about to close, and see it closed unanswered.
    location @postern_turned { keepalive_timeout 0; content_by_lua_block { postern.turned() } }
    location @postern_close { keepalive_timeout 0; content_by_lua_block { postern.close() } }
    location @postern_504 { content_by_lua_block { postern.upstream_error(504) } }
${named.join('\n')}
  }
}
`
}

/**
 * Every worker looks at its parents each second. Its master gone (killed outright: a SIGKILL,
 * the OOM killer), the worker has been handed to another parent and nothing will ever tell it to
 * stop, so it stops itself (SIGQUIT to its own pid, which cannot be another process's while it
 * runs: it stops listening at once and finishes what it carries); otherwise orphaned workers would
 * hold the gateway port forever. And when nginx is Postern's child (`postern`, Postern's pid):
 * Postern starts nginx in the foreground and stops it on the way out, but killed outright it
 * cannot, so a worker that finds its master no longer Postern's child (handed to another parent
 * too) stops the master (SIGQUIT: in-flight requests finish). The master is signalled only while
 * it is this worker's parent, so never a pid since given to another process; and Postern is
 * recognised as the master's parent, not by its pid existing, which another process may have
 * taken since. Every worker watches, not one: any of them may be the last left.
 */
function watchParents(postern: number | undefined): string {
  return `    if require("ngx.process").type() == "worker" then
      local ffi = require "ffi"
      pcall(ffi.cdef, "int kill(int pid, int sig);")
      pcall(ffi.cdef, "int getppid(void);")
      local SIGQUIT = 3
      local master = require("ngx.process").get_master_pid()
      local me = ngx.worker.pid()${postern === undefined ? '' : `
      local function parent_of(pid)
        local f = io.open("/proc/" .. pid .. "/stat")
        if not f then return nil end
        local stat = f:read("*a")
        f:close()
        return tonumber(stat:match("%)%s+%S+%s+(%d+)"))
      end`}
      local function watch(premature)
        if premature then return end
        if ffi.C.getppid() ~= master then
          ffi.C.kill(me, SIGQUIT)
          return
        end${postern === undefined ? '' : `
        local parent = parent_of(master)
        if parent and parent ~= ${postern} then ffi.C.kill(master, SIGQUIT) end`}
      end
      ngx.timer.every(1, watch)
    end
`
}
