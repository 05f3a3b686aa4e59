import { METHODS } from 'node:http'
import type { TrustedProxies } from '../../http/client-address.js'
import { MAX_STATUS } from '../../http/limits.js'
import { CODING_BESIDE_LENGTH, UNRELAYABLE_TRANSFER_CODING } from '../../http/transfer-coding.js'
import { HEADER_RULES, SIGNATURE_REMOVED } from '../headers.js'
import { VERDICT, VERDICT_CACHE_MS, VERDICT_FIELDS } from './decision-protocol.js'
import { balancerLua } from './nginx-lua-balancer.js'
import { forwardedForLua } from './nginx-lua-forwarded-for.js'
import { requestHeadersLua } from './nginx-lua-request-headers.js'
import { renewalLua } from './nginx-lua-renewal.js'
import { redirectsLua } from './nginx-lua-redirects.js'
import { requestIdLua } from './nginx-lua-request-id.js'
import { tokenLua } from './nginx-lua-tokens.js'
import { workerCacheLua } from './nginx-lua-worker-cache.js'
import { MAX_BODY_TIMEOUT_SECONDS } from './nginx-shape.js'

const luaString = (s: string) => JSON.stringify(s)

/**
 * The most header bytes (name, value and 32 each, as RFC 9113 §6.5.2 counts a header list) an
 * HTTP/2 caller of the nginx plane may send. nginx hands HTTP/2 streams to Postern over h2c, and
 * re-encodes the headers in frames of 16 KB; Postern's nghttp2 takes at most eight CONTINUATION
 * frames after a HEADERS frame (its defence against CONTINUATION floods), so a header block of
 * more than 144 KB as nginx encodes it ended the hop, and the caller got a 503 that said Postern
 * could not be reached. Under this bound the block fits whatever nginx's encoding; over it, 431.
 */
export const NGINX_H2_HEADER_BYTES = 128 * 1024
const luaLong = (s: string) => {
  let eq = '='
  while (s.includes(`]${eq}]`)) eq += '='
  return `[${eq}[${s}]${eq}]`
}

/**
 * The Lua nginx runs per request (loaded once, by init_by_lua). The hot path — a verdict found in
 * this worker's cache or in shared memory — is a few table-free operations: one walk over the
 * header names where nginx keeps them (nginx-lua-request-headers.ts), the cache key from the
 * method, the host and the credentials, the verdict's fields into nginx variables, the header
 * hygiene of HEADER_RULES (a walk that removes headers only when the first found one); most
 * services are then forwarded by `location /` itself, the others by a named location.
 * Everything Postern says (refusals, redirects, pages) is relayed as it is.
 */
export function nginxLua(o: {
  decisions: string
  /** What the bulk renewals show Postern (decision-key.ts). */
  decisionKey: string
  /** The gateway URL's host name, lower-case (nginx-config.ts). */
  gatewayHost: string
  bodies: { unavailable: string; notReady: string; unavailableGrpc: Record<string, string | string[]>; badGateway: string; unrelayable: [string, string, string]; badRequest: string; repeatedAuthorization: { body: string; challenge: string }; tooLarge: string; notFound: string; plainHttp: string; methodNotAllowed: { trace: string; connect: string } }
  defaultTimeout: number
  /** The upstream block of plain-HTTP services, and how many blocks https server names have (nginx-lua-balancer.ts). */
  http: { block: string; tlsBlocks: number }
  /** The timeouts under a minute that have a named location (@postern_tN) in this configuration (nginx-shape.ts). */
  bodyTimeouts: readonly number[]
  /** Whether nginx speaks HTTP/2 to callers (under TLS only: ALPN; nginx-config.ts). */
  http2: boolean
  /** `--trusted-proxies`: when there are any, Lua writes X-Forwarded-For (nginx-lua-forwarded-for.ts); else nginx sets the peer. */
  trustedProxies: TrustedProxies
  /** The scheme (undefined: nginx's own) and port ('' for the scheme's default) of the public URL, for redirects (nginx-lua-redirects.ts). */
  publicUrl: { proto?: 'http' | 'https'; publicPort: string }
}): string {
  const bodies = o.bodies
  const forwardingNames = [...HEADER_RULES.forwarding.names, ...HEADER_RULES.foreignIdentity, ...HEADER_RULES.hopByHop.filter((n) => !NGINX_SETS.has(n))]
  const notNominated = ['close', 'content-length', ...NGINX_SETS]
  const cookiePattern = `^\\s*=?\\s*${HEADER_RULES.posternCookie.source.replace(/^\^/, '')}`
  return `
    postern = {}
    local shared = ngx.shared.postern_verdicts
    -- Each worker's own copies of the verdicts it uses (nginx-lua-worker-cache.ts).
${workerCacheLua()}
    local ngx_now = ngx.now
    local capture = ngx.location.capture
    local find = ngx.re.find
    local concat = table.concat
    local FIELDS = { ${VERDICT_FIELDS.map(luaString).join(', ')} }
    local NFIELDS = #FIELDS
    local DEFAULT_TIMEOUT = ${luaString(String(o.defaultTimeout))}
    local BODY_TIMEOUTS = { ${o.bodyTimeouts.map((t) => `[${luaString(String(t))}] = true`).join(', ')} }
    local MAX_BODY_TIMEOUT = ${MAX_BODY_TIMEOUT_SECONDS}
    local NOT_NOMINATED = { ${notNominated.map((n) => `[${luaString(n)}] = true`).join(', ')} }
    local DROP_NAMES = { ${forwardingNames.map((n) => `[${luaString(n)}] = true`).join(', ')} }
    local POSTERN_PREFIX = ${luaString(HEADER_RULES.posternPrefix)}
    local FORWARDING_PREFIX = ${luaString(HEADER_RULES.forwarding.prefix)}
    local POSTERN_COOKIE = ${luaString(cookiePattern)}
    local UNAVAILABLE = ${luaLong(bodies.unavailable)}
    local NOT_READY = ${luaLong(bodies.notReady)}
    local BAD_GATEWAY = ${luaLong(bodies.badGateway)}
    local UNRELAYABLE = { ${bodies.unrelayable.map(luaLong).join(', ')} }
    local BAD_REQUEST = ${luaLong(bodies.badRequest)}
    local REPEATED_AUTHORIZATION, REPEATED_AUTHORIZATION_CHALLENGE = ${luaLong(bodies.repeatedAuthorization.body)}, ${luaString(bodies.repeatedAuthorization.challenge)}
    local TOO_LARGE = ${luaLong(bodies.tooLarge)}
    local NOT_FOUND = ${luaLong(bodies.notFound)}
    local PLAIN_HTTP = ${luaLong(bodies.plainHttp)}
    local TRACE_REFUSED, CONNECT_REFUSED = ${luaLong(bodies.methodNotAllowed.trace)}, ${luaLong(bodies.methodNotAllowed.connect)}
    -- The methods Node's parser knows (http.METHODS): the Node gateway refuses any other, where
    -- nginx takes any token for one and an upstream's own parser may refuse it.
    local KNOWN_METHOD = { ${METHODS.map((m) => `[${luaString(m)}] = true`).join(', ')} }
    -- How long an epoch Postern said confirms the verdicts it holds: as long as a verdict is cached.
    local CONFIRMED_FOR = ${VERDICT_CACHE_MS / 1000}
    local UNAVAILABLE_GRPC = { ${Object.entries(bodies.unavailableGrpc).map(([k, v]) => `[${luaString(k)}] = ${luaString(String(v))}`).join(', ')} }
${tokenLua()}
${requestHeadersLua()}
${balancerLua(o.http)}
${o.trustedProxies.cidrs.length > 0 ? forwardedForLua(o.trustedProxies) : ''}
    local SIGNATURE_REMOVED = ${luaString(SIGNATURE_REMOVED)}
    local HOP = { ["connection"] = true, ["keep-alive"] = true, ["transfer-encoding"] = true, ["content-length"] = true, [${luaString(VERDICT.verdict)}] = true }

    -- Whether a string holds only bytes up to 0x7F (a loop LuaJIT compiles: targets are short).
    local const_bytes = ffi.typeof("const uint8_t *")
    local function ascii(s)
      local p = ffi.cast(const_bytes, s)
      for i = 0, #s - 1 do
        if p[i] > 127 then return false end
      end
      return true
    end

    -- Whether a target's path needs Postern's eyes every time: it may be one of Postern's own
    -- (every spelling of /_postern holds "postern", in any case, or a %), or it holds ".." (it may
    -- climb above its root as an upstream reads it: http/request-target.ts climbsAboveRoot).
    -- Plain searches (the Lua module's PCRE has no JIT here).
    local function needs_postern(uri)
      local query = uri:find("?", 1, true)
      local path = query and uri:sub(1, query - 1) or uri
      return path:find("%", 1, true) ~= nil or path:find("..", 1, true) ~= nil or path:lower():find("postern", 1, true) ~= nil
    end

    -- The cache key of a request's credentials: its method and host, then the token headers and
    -- Postern's cookies. The Authorization header last: a new token's key then ends in its
    -- signature, and LuaJIT's string hash (which reads a string's last bytes) tells such keys apart.
    local function credentials_key(method, host, authz, serverless, cookies)
      -- An empty header is not an absent one: Postern refuses an empty X-Serverless-Authorization.
      return method .. " " .. host .. "\\n" .. (serverless and "=" .. serverless or "") .. "\\n" .. cookies .. "\\n" .. (authz or "")
    end

    -- The name shared memory keeps a verdict under: the SHA-256 of its key, after a "#" (no other
    -- name there begins so). A credentials key is most of a kilobyte, and the dictionary hashes
    -- each key it is given with a CRC taken a nibble at a time and keeps it whole: about 3 µs of
    -- every new token's check went to that one lookup.
    local shm_name = ffi.new("unsigned char[33]")
    shm_name[0] = 35
    local function shm(key)
      C.SHA256(key, #key, shm_name + 1)
      return ffi.string(shm_name, 33)
    end

    -- Sets an nginx variable to the first len bytes of s, without making them a Lua string.
    local var_lowcase, var_error, var_error_len = ffi.new("unsigned char[64]"), ffi.new("unsigned char[256]"), ffi.new("size_t[1]")
    local function set_var_bytes(name, s, len)
      var_error_len[0] = 256
      if C.ngx_http_lua_ffi_var_set(get_request(), name, #name, var_lowcase, s, len, var_error, var_error_len) ~= 0 then
        error(ffi.string(var_error, var_error_len[0]))
      end
    end

    -- An answer that is not the upstream's: a body the caller waits to be asked for (Expect:
    -- 100-continue) is not asked for (nginx would send 100 Continue as it discards the body); and
    -- no Server header, as none is on the Node gateway's own answers: nginx names itself in any
    -- answer whose Server is unset (server_tokens off drops only its version). An upstream's answer
    -- needs nothing: the proxy module marks a Server it did not send as empty, and nginx adds none.
    local function own_answer()
      if ngx.var.http_expect then ngx.req.clear_header("Expect") end
      ngx.header["Server"] = nil
    end

    local function json_error(status, body, challenge)
      own_answer()
      ngx.status = status
      ngx.header["Content-Type"] = "application/json; charset=utf-8"
      ngx.header["Cache-Control"] = "no-store"
      ngx.header["X-Content-Type-Options"] = "nosniff"
      if status == 503 then ngx.header["Retry-After"] = "5" end
      if challenge then ngx.header["WWW-Authenticate"] = challenge end
      ngx.header["Content-Length"] = #body
      ngx.print(body)
      return ngx.exit(ngx.HTTP_OK)
    end

    -- Postern's answer, sent as it is: status, headers, body.
    local function relay(r)
      own_answer()
      ngx.status = r.status
      for name, value in pairs(r.header) do
        if not HOP[name:lower()] then ngx.header[name] = value end
      end
      ngx.header["Content-Length"] = #r.body
      ngx.print(r.body)
      return ngx.exit(ngx.HTTP_OK)
    end

    -- A request refused for its form is answered, then its connection ends, as the Node gateway
    -- ends it: nothing more is read from a client that sent what Postern would not frame or take
    -- (a smuggling attempt's next "request", say). nginx keeps a connection open after an answer
    -- Lua sends; it closes one answered in a location with keepalive_timeout 0, @postern_close.
    -- ngx.exec keeps a request's variables, not ngx.ctx: the answer goes in $p_close as its status,
    -- its header lines and its body, one line break apart and an empty line before the body.
    local function closing(status, header, body)
      local head = { status }
      for name, value in pairs(header) do
        if not HOP[name:lower()] then
          if type(value) ~= "table" then value = { value } end
          for _, v in ipairs(value) do head[#head + 1] = name .. ": " .. v end
        end
      end
      ngx.var.p_close = concat(head, "\\n") .. "\\n\\n" .. body
      return ngx.exec("@postern_close")
    end

    local JSON_HEADERS = { ["Content-Type"] = "application/json; charset=utf-8", ["Cache-Control"] = "no-store", ["X-Content-Type-Options"] = "nosniff" }
    local function json_error_closing(status, body)
      return closing(status, JSON_HEADERS, body)
    end

    function postern.close()
      local answer = ngx.var.p_close or ""
      local at = answer:find("\\n\\n", 1, true)
      if not at then return json_error(400, BAD_REQUEST) end
      own_answer()
      local header = {}
      for line in answer:sub(1, at):gmatch("([^\\n]*)\\n") do
        local name, value = line:match("^([^:]+): (.*)$")
        if not name then
          ngx.status = tonumber(line)
        elseif header[name] then
          if type(header[name]) ~= "table" then header[name] = { header[name] } end
          header[name][#header[name] + 1] = value
        else
          header[name] = value
        end
      end
      for name, value in pairs(header) do ngx.header[name] = value end
      local body = answer:sub(at + 2)
      ngx.header["Content-Length"] = #body
      ngx.print(body)
      return ngx.exit(ngx.HTTP_OK)
    end

    -- The gateway's 502 for an answer the header filter turned away (response_headers), which
    -- names the service and why. A subrequest made once the upstream has answered never completes,
    -- so Postern is not asked to word it. A request nginx has marked HTTP/0.9 (its upstream
    -- answered with no status line) gets no status line or headers from nginx, so they are written
    -- here with the body, on a connection then closed; nginx drops the body of an answer to HEAD,
    -- so such a HEAD's connection closes unanswered.
    local function unrelayable(resource, reason)
      local body = UNRELAYABLE[1] .. (resource:gsub('[\\\\"]', '')) .. UNRELAYABLE[2] .. reason .. UNRELAYABLE[3]
      if (ngx.req.http_version() or 1) >= 1 then return json_error(502, body) end
      ngx.print(concat({
        "HTTP/1.1 502 Bad Gateway", "Content-Type: application/json; charset=utf-8", "Cache-Control: no-store",
        "X-Content-Type-Options: nosniff", "Content-Length: " .. #body, "Connection: close", "", body,
      }, "\\r\\n"))
      return ngx.exit(ngx.HTTP_OK)
    end

    -- HEADER_RULES: no client header in Postern's namespace, no forwarding claim, no hop-by-hop
    -- header nginx would pass, nothing the Connection header nominates. Only when read_headers found
    -- one of them are the headers walked.
    local function hygiene(suspect, nominated)
      if not suspect and not nominated then return end
      for name in pairs(ngx.req.get_headers(0, true)) do
        local n = name:lower()
        if n:sub(1, #POSTERN_PREFIX) == POSTERN_PREFIX or n:sub(1, #FORWARDING_PREFIX) == FORWARDING_PREFIX or DROP_NAMES[n] or (nominated and nominated[n]) then
          ngx.req.clear_header(name)
        end
      end
    end

    -- What a Connection header says: the names it nominates for removal, and whether it asks for
    -- an upgrade (an Upgrade header alone does not: the Node gateway forwards such a request as it is).
    -- Never nominated: the headers nginx reads itself to frame and route the request (NOT_NOMINATED,
    -- which it never forwards as sent): clearing Content-Length would have nginx read the body as
    -- the next request on the connection.
    local function read_connection(connection)
      if not connection then return nil, false end
      local nominated, upgrade = nil, false
      for token in connection:gmatch("[^,%s]+") do
        local t = token:lower()
        if t == "upgrade" then
          upgrade = true
        elseif not NOT_NOMINATED[t] then
          nominated = nominated or {}
          nominated[t] = true
        end
      end
      return nominated, upgrade
    end

    -- A verdict as the hot path uses it: the fields in VERDICT_FIELDS order, then when to renew it
    -- and when it ends (seconds, ngx.now()), the Authorization header it rests on when that is
    -- all it rests on (then it is renewed in bulk, nginx-lua-renewal.ts), else "", the stamp of
    -- the renewal answer it came from ("" for none), and until when that answer may be held while
    -- its epoch stands (0 for none; decision-protocol.ts EPOCH_HEADER). f.epoch: the stamp's epoch.
    local RENEW_AT, EXPIRES_AT, REP, STAMP, HOLD_END = NFIELDS + 1, NFIELDS + 2, NFIELDS + 3, NFIELDS + 4, NFIELDS + 5
    local function epoch_of(f)
      return f[HOLD_END] > 0 and f[STAMP]:match("^(.+)%.[^.]*$") or nil
    end
    local function parse(v)
      local f = {}
      local at = 1
      for i = 1, HOLD_END do
        local nl = v:find("\\n", at, true)
        f[i] = v:sub(at, (nl or 0) - 1)
        at = (nl or #v) + 1
      end
      f[RENEW_AT] = tonumber(f[RENEW_AT])
      f[EXPIRES_AT] = tonumber(f[EXPIRES_AT])
      f[HOLD_END] = tonumber(f[HOLD_END]) or 0
      f.epoch = epoch_of(f)
      return f
    end

    -- The epoch Postern last said (nginx-lua-renewal.ts asks every RENEW_EVERY) and until when
    -- that confirms it; the one before, and until when its last confirmation lasts.
    local epoch, epoch_until, previous_epoch, previous_until = nil, 0, nil, 0
    -- When this worker last held a verdict by its epoch: a worker that holds none does not ask.
    local held_at = 0
    local function saw_epoch(e, asked)
      if e ~= epoch then previous_epoch, previous_until, epoch = epoch, epoch_until, e end
      epoch_until = asked + CONFIRMED_FOR
    end

    -- Whether a verdict may be used now: within its cache time, or held by its epoch. A held one
    -- whose epoch has passed is used for what is left of its last confirmation, and renewed (once
    -- a worker finds it so) when it rests on a token; a token's copy of its caller's verdict,
    -- which rests on nothing renewable, is simply not used once its epoch has passed.
    local function usable(f, now)
      if now < f[EXPIRES_AT] then return true end
      local e = f.epoch
      if not e or now >= f[HOLD_END] then return false end
      held_at = now
      if e == epoch then return now < epoch_until end
      if e ~= previous_epoch or now >= previous_until then return false end
      if f[REP] ~= "" and f.renewing ~= epoch then
        f.renewing = epoch
        f[RENEW_AT] = 0
      end
      return true
    end

    -- How long a verdict is kept: its cache time, or its hold.
    local function kept_until(f)
      return math.max(f[EXPIRES_AT], f[HOLD_END])
    end

    -- The verdict for these credentials: this worker's own copy (a table lookup), else the one
    -- every worker shares (a copy out of shared memory, parsed once per worker). Verdicts that
    -- rest on Postern's cookies are read from shared memory every time, so that signing out
    -- (which deletes them there) takes effect at once in every worker.
    local function cached(key, personal)
      local now = ngx_now()
      if personal then
        local v = shared:get(shm(key))
        local f = v and parse(v)
        return f and usable(f, now) and f or nil
      end
      local f = mine:get(key)
      if f and usable(f, now) then return f end
      local v = shared:get(shm(key))
      if not v then return nil end
      f = parse(v)
      if not usable(f, now) then return nil end
      mine:set(key, f)
      return f
    end

    -- Keeps a verdict Postern gave for ms milliseconds, counted from when nginx asked (asked):
    -- an answer that was slow to come does not live longer for it. One Postern stamped may be
    -- held for hold milliseconds while its epoch stands, and is renewed a cache time before then.
    local function remember(key, personal, f, ms, asked, hold)
      f[EXPIRES_AT] = asked + ms / 1000
      f[HOLD_END] = (hold or 0) > ms and f[STAMP] ~= "" and asked + hold / 1000 or 0
      f[RENEW_AT] = f[HOLD_END] > 0 and f[HOLD_END] - ms / 1000 or asked + ms / 2000
      f.epoch, f.renewing = epoch_of(f), nil
      if f.epoch then held_at = asked end
      local ttl = kept_until(f) - ngx_now()
      if ttl <= 0 then return end
      shared:set(shm(key), concat(f, "\\n", 1, HOLD_END), ttl)
      if personal then return end
      mine:set(key, f)
    end

    -- One request at a time asks Postern about the same credentials (one token, or new tokens of
    -- one caller: the identity nginx-lua-tokens.ts admits them on); the others wait for its answer
    -- and use the verdict it kept, so a burst of them is one decision, not one each. (Without
    -- turns, new tokens of a thousand callers whose verdicts had lapsed cost Postern 1.9 s of CPU
    -- in a 4-second run, every request asking while the first answers were on their way; with
    -- them, 0.6 s, for about one decision a caller.) A turn lasts ASK_TURN seconds at most, should
    -- its request never end it; one that kept no verdict (a refusal, an answer Postern's gateway
    -- forwards) is marked so, and for ASK_TURN the requests after it ask for themselves without
    -- waiting.
    local ASK_TURN = 1
    local function turn_for(k)
      return shm(k) .. "?"
    end
    local function wait_turn(turn)
      local step, waited = 0.001, 0
      while waited < ASK_TURN and shared:get(turn) == true do
        ngx.sleep(step)
        waited = waited + step
        step = math.min(step * 2, 0.064)
      end
    end
    local function end_turn(turn, kept)
      if not turn then return end
      if kept then shared:delete(turn) else shared:set(turn, "pass", ASK_TURN) end
    end

    -- The caller's verdict a token of theirs is admitted on (nginx-lua-tokens.ts), if one is held.
    -- The token's next requests to this worker then find it under their own key, checked once,
    -- until the caller's verdict ends (renewed, it is taken up again here).
    local function on_identity(key, identity, before)
      local f = cached(identity, false)
      if not f then return nil end
      local mine_too = { unpack(f, 1, HOLD_END) }
      mine_too[9], mine_too.before_signature = "", before
      mine_too[REP], mine_too.epoch = "", f.epoch
      mine_too[RENEW_AT] = kept_until(f)
      mine:set(key, mine_too)
      return f
    end
${renewalLua(o.decisions, o.decisionKey)}
${requestIdLua()}
${redirectsLua(o.publicUrl)}
    function postern.init_worker()
      start_renewal()
      new_id_prefix()
    end
${o.http2 ? h2HandoffLua() : ''}
    -- Where an allow verdict is forwarded, worked out the first time this worker uses it and kept
    -- with it: the upstream block, the peer's key for postern.balance (after the service's timeout
    -- when not the default), an https upstream's server name and the named location. Nothing,
    -- and nothing kept, when nginx cannot forward it itself.
    local function forwarding_of(f)
      local sni = f[1]:byte(5) == 115 and (f[3]:gsub(":%d+$", "")) or nil -- https:
      local block, peer = upstream_of(f[1], sni)
      if not block then return nil end
      local timeout, location = f[4], "@postern_forward"
      if timeout ~= DEFAULT_TIMEOUT then
        if tonumber(timeout) < MAX_BODY_TIMEOUT then
          if not BODY_TIMEOUTS[timeout] then return nil end
          location = "@postern_t" .. timeout
        end
        peer = timeout .. " " .. peer
      end
      f.block, f.peer, f.sni, f.location = block, peer, sni, location
      return block
    end

    function postern.access()
      local var = ngx.var
      -- HTTP/2 streams go to Postern's own gateway (over h2c): this module's subrequests do not
      -- exist for HTTP/2, and the gateway relays trailers and resets a stream
      -- whose caller lost access. (HTTP/2 has no upgrades: an Upgrade header is the gateway's to refuse.)
      -- nginx speaks HTTP/2 only under TLS: without it, no request needs the check.
      -- nginx reads a request line of HTTP/1.2 to 1.9 as 1.1 but names no version for it (nil):
      -- refused here, as the Node gateway refuses it, before it is forwarded with no answer to come.
      if not ngx.req.http_version() then return json_error_closing(400, BAD_REQUEST) end
${o.http2 ? '      if ngx.req.http_version() == 2 then return h2_handoff() end\n' : ''}      local suspect, reusable, authz, host, upgrade, given_id, cookie, connection, serverless, serverless_count, too_large, malformed = read_headers()
      if too_large then return json_error_closing(431, TOO_LARGE) end
      if malformed then return json_error_closing(400, BAD_REQUEST) end
      -- Upgrades go to Postern's own gateway, which decides, splices after 101, and closes the
      -- tunnel within a second of its caller losing access. One to h2c is a plain request here,
      -- its Upgrade not passed on (http/h2c-upgrade.ts upgradesToH2c).
      local nominated, upgrading = read_connection(connection)
      if upgrade and upgrading and not upgrade:lower():find("h2c", 1, true) then return ngx.exec("@postern_upgrade") end
      local method = ngx.req.get_method()
      local line = var.request
      local uri = var.request_uri
      -- As Node's parser on the gateway port: a method it does not know, or a byte above 0x7F in
      -- the target (which nginx passes on as sent), is a malformed request.
      if not KNOWN_METHOD[method] or not ascii(uri) then return json_error_closing(400, BAD_REQUEST) end
      -- A fragment is no part of the target (the Node gateway drops it too).
      local hash = uri:find("#", 1, true)
      if hash then uri = uri:sub(1, hash - 1) end
      cookie = cookie or ""
      local own_cookies = cookie ~= "" and find(cookie, "postern", "ijo") ~= nil
      local key
      host = host or ""
      -- Reused verdicts only for plain requests: an origin-form target (the request line's target
      -- begins with "/") that needs no check of Postern's (needs_postern), no nominations in
      -- Connection, no more headers than the gateway takes, and one X-Serverless-Authorization at
      -- most. Anything else is decided by Postern every time.
      if not nominated and reusable and serverless_count <= 1 and line:byte(#method + 2) == 47 and not needs_postern(uri) then
        key = credentials_key(method, host, authz, serverless, own_cookies and cookie or "")
      end
      local f = key and cached(key, own_cookies)
      -- The Authorization header read_headers left unchecked: a verdict found under its exact
      -- value was given after it was checked.
      if not f and authz and control_in(authz) then return json_error_closing(400, BAD_REQUEST) end
      -- A token never seen here, of a caller Postern admitted on this host and method within the
      -- verdict's life: admitted on that verdict once nginx has checked the token itself
      -- (nginx-lua-tokens.ts), with its own Authorization header, signature removed, upstream.
      local identity, before_signature, before
      if key and not own_cookies and not serverless and not f then
        local id
        id, before = token_identity(authz)
        if id then
          identity = "I" .. key:sub(1, key:find("\\n", 1, true)) .. id
          f = on_identity(key, identity, before)
          if f then before_signature = before end
        end
      end
      local still
      -- Past half its life, one request (the first to take the lock) has it renewed while the
      -- others keep using it: no herd of decisions when it ends. One that rests on a token alone
      -- is renewed in bulk, by a timer, and the request goes on; any other is asked for again by
      -- that request. A worker that finds the lock taken uses its copy until it ends, then the
      -- renewed one from shared memory.
      if f and f[RENEW_AT] <= ngx_now() then
        local k = identity or key
        if shared:add(shm(k) .. "\\0", true, 0.2) then
          if f[REP] ~= "" then
            renew_later(k, f, method, host)
            f[RENEW_AT] = kept_until(f)
          else
            still, f = f, nil
          end
        elseif not own_cookies then
          f[RENEW_AT] = kept_until(f)
        end
      end
      -- No verdict held: this request asks Postern, unless another with the same credentials is
      -- asking (turn_for). After waiting for it, or on taking the turn (the last one may have
      -- ended just now), the verdict is looked for again.
      local turn
      if not f and key and not still then
        turn = turn_for(identity or key)
        if not shared:add(turn, true, ASK_TURN) then
          wait_turn(turn)
          turn = nil
        end
        if identity then
          f = on_identity(key, identity, before)
          if f then before_signature = before end
        else
          f = cached(key, own_cookies)
        end
        if f then
          end_turn(turn, true)
          turn = nil
        end
      end
      if not f then
        -- A subrequest has its own variables: the target is handed to it.
        -- (HTTP/0.9 has no protocol in its request line, nor headers to carry a credential.)
        local protocol = var.server_protocol
        if not protocol then return json_error(400, BAD_REQUEST) end
        local target = line:sub(#method + 2, -(#protocol + 2))
        ngx.update_time()
        local asked = ngx_now()
        local r = capture("/_postern/nginx-decide", { vars = { p_otarget = target, p_oconn = connection or "" } })
        -- A request to one of Postern's own paths with Postern's cookies (signing out, say) may
        -- end the session those cookies carry: its reused verdicts go with it.
        if not key and own_cookies then
          shared:delete(shm(credentials_key("GET", host, authz, serverless, cookie)))
          shared:delete(shm(credentials_key("HEAD", host, authz, serverless, cookie)))
        end
        local verdict = r.header[${luaString(VERDICT.verdict)}]
        -- No verdict: Postern refused the request before deciding (relayed), or could not be reached (fail closed).
        -- (A verdict being renewed still holds until it expires.)
        if verdict ~= "allow" then end_turn(turn, false) end
        if verdict == nil then
          -- (Refused before deciding, the request was refused for its form: its connection ends.)
          if r.status == 400 or r.status == 431 then return closing(r.status, r.header, r.body) end
          if r.status >= 200 and r.status < 500 then return relay(r) end
          if not still then return json_error(503, UNAVAILABLE) end
          f = still
        elseif verdict == "gateway" then
          -- A service whose upstream speaks HTTP/2 (useHttp2): Postern's gateway sends it over h2c.
          return ngx.exec("@postern_gateway")
        elseif verdict ~= "allow" then
          for _, k in ipairs({ key or false, identity or false }) do
            if k then
              shared:delete(shm(k))
              mine:delete(k)
            end
          end
          -- A refused request's body is not waited for: nginx drops what arrives of it for two
          -- seconds at most (lingering_time), then ends the connection, which a body held back
          -- for 100 Continue never reaches. Said so (Connection: close) and ended, as on the Node
          -- gateway, rather than a keep-alive promised and broken under the client's next request.
          local length = var.http_content_length
          if verdict == "close" or (length and length ~= "0") or var.http_transfer_encoding then return closing(r.status, r.header, r.body) end
          return relay(r)
        else
          f = {}
          for i = 1, NFIELDS do f[i] = r.header[FIELDS[i]] or "" end
          f[REP] = (key and not own_cookies and not serverless and authz) or ""
          f[STAMP], f[HOLD_END] = "", 0
          local ms = tonumber(r.header[${luaString(VERDICT.cacheMs)}]) or 0
          if key and ms > 0 then
            remember(key, own_cookies, f, ms, asked)
            -- Postern's key for this token's header comes with the verdict when nginx may use it.
            local der = r.header[${luaString(VERDICT.tokenKey)}]
            if der and not own_cookies and not serverless then
              local id = learn_key(authz, der)
              if id then remember("I" .. key:sub(1, key:find("\\n", 1, true)) .. id, false, f, ms, asked) end
            end
          end
          -- (Once kept: whoever waits for this turn looks for the verdict as soon as it ends.)
          end_turn(turn, key and ms > 0)
          before_signature = nil
        end
      end
      local block = f.block or forwarding_of(f)
      -- What nginx cannot forward itself: a verdict that names no address (its host name resolved
      -- to nothing), an https server name this worker has no block left for, a timeout under a
      -- minute this configuration has no location for (nginx not reloaded since; nginx-shape.ts).
      -- Postern's gateway forwards it as it stands now (its 502 for an upstream it cannot reach).
      if not block then return ngx.exec("@postern_gateway") end
      -- A plain-HTTP service without a base path, at the default timeout, is forwarded by location /
      -- itself, to its peer, with the request's target as the caller sent it; any other (or a target
      -- with a fragment, which never goes upstream) by a named location, to the block and target named here.
      local direct = block == HTTP_BLOCK and f[2] == "" and f[4] == DEFAULT_TIMEOUT and not hash
      var.p_peer = f.peer
      if not direct then
        var.p_block = block
        var.p_target = f[2] .. uri
      end
      var.p_host = f[3]
      if f.sni then var.p_sni = f.sni end
      if f[2] ~= "" then var.p_base = f[2] end
      -- What Postern words an upstream failure with (postern.upstream_error): made once a verdict.
      local failure = f.failure
      if not failure then
        failure = f[4] .. " " .. f[5]
        f.failure = failure
      end
      var.p_fail = failure
      -- Each variable set is a name lookup in nginx: the ones a verdict usually leaves empty are
      -- set only when they are not (unset, they read as empty).
      if f[6] ~= "" then var.p_who = f[6] end
      if f[7] ~= "" then var.p_email = f[7] end
      if f[8] ~= "" then var.p_jwt = f[8] end
      -- A token admitted on its caller's verdict goes upstream without its signature: its own
      -- header and payload (the before_signature bytes of its Authorization header) and the mark Postern puts in the signature's place. (Set from the
      -- Authorization header where it lies and joined by nginx, not made into Lua strings: one
      -- string per token ending alike would make LuaJIT's string table chain them all; see
      -- nginx-lua-tokens.ts.)
      before_signature = before_signature or f.before_signature
      if before_signature then
        set_var_bytes("p_auth", authz, before_signature)
        var.p_mark = SIGNATURE_REMOVED
      else
        var.p_auth = f[9]
      end
      if f[10] ~= "" then var.p_sauth = f[10] end
      -- (Cookie, as the headers above, is set by proxy_set_header: a nomination must take it out here.)
      local forwarded_cookie = (nominated and nominated.cookie) and "" or own_cookies and f[11] or cookie
      if forwarded_cookie ~= "" then var.p_cookie = forwarded_cookie end
      set_request_id(given_id)
${o.trustedProxies.cidrs.length > 0 ? '      var.p_xff = forwarded_for(var.remote_addr, var.http_x_forwarded_for)\n' : ''}      hygiene(suspect, nominated)
      if not direct then return ngx.exec(f.location) end
    end

    -- Requests nginx refuses itself, before any Lua, get the one error shape too; so does an
    -- HTTP/2 stream when Postern's gateway cannot be reached (503, fail closed).
    function postern.refused(status)
      if status == 431 then return json_error(431, TOO_LARGE) end
      if status == 404 then return json_error(404, NOT_FOUND) end
      -- nginx's 497: plain HTTP sent to the TLS port.
      if status == 497 then return json_error(400, PLAIN_HTTP) end
      -- (An error page is asked for by GET: the request line says which method nginx refused.)
      if status == 405 then return json_error(405, find(ngx.var.request, "^CONNECT ", "jo") and CONNECT_REFUSED or TRACE_REFUSED) end
      if status == 503 then
        -- A gRPC caller gets it as gRPC says errors, as from the Node gateway (trailers-only, UNAVAILABLE).
        local ct = ngx.var.http_content_type
        if ct and ngx.req.http_version() == 2 and find(ct, "^application/grpc(?:$|[+;])", "ijo") then
          own_answer()
          ngx.status = 200
          for name, value in pairs(UNAVAILABLE_GRPC) do ngx.header[name] = value end
          ngx.header["Content-Length"] = 0
          return ngx.exit(ngx.HTTP_OK)
        end
        return json_error(503, UNAVAILABLE)
      end
      -- nginx stops reading headers at the second Authorization (its "duplicate header line"), so
      -- two of them among what it read mean that was why: the Node gateway's answer, 400
      -- invalid_request (RFC 6750 §3.1), not the generic one.
      if type(ngx.req.get_headers(0)["authorization"]) == "table" then
        return json_error(400, REPEATED_AUTHORIZATION, REPEATED_AUTHORIZATION_CHALLENGE)
      end
      return json_error(400, BAD_REQUEST)
    end

    -- /healthz or /readyz when Postern cannot be reached: not ready, in the words and headers of
    -- Postern's own /readyz (observability/endpoints.ts), not nginx's HTML page.
    function postern.not_ready()
      own_answer()
      ngx.status = 503
      ngx.header["Content-Type"] = "application/json"
      ngx.header["Cache-Control"] = "no-store"
      ngx.header["Content-Length"] = #NOT_READY
      ngx.print(NOT_READY)
      return ngx.exit(ngx.HTTP_OK)
    end

    -- /healthz or /readyz: the gateway's own on a host no service can have, answered in this
    -- location within DECIDE_READ_SECONDS (nginx-config.ts); on a host ending in the gateway's
    -- name, which a service's may be ({service}.{project}. and that name, routes.ts), Postern's
    -- gateway tells which, and a service's own path waits for its upstream as on the Node gateway.
    -- ($host: lower-case, without the port or a trailing dot.)
    local SERVICE_HOST_END = ${luaString('.' + o.gatewayHost.toLowerCase())}
    function postern.health()
      local host = ngx.var.host or ""
      if #host > #SERVICE_HOST_END and host:sub(-#SERVICE_HOST_END) == SERVICE_HOST_END then return ngx.exec("@postern_service_health") end
    end

    -- An upstream may not set or clear Postern's cookies; nor answer first with an interim answer
    -- (103 Early Hints, a 100 not asked for, a 101 no one asked for: upgrades go to Postern's
    -- gateway) or a status below 100: nginx 1.22 takes that for the final answer and would pass
    -- on the upstream's next bytes, its real answer, unread as its body — headers unfiltered and
    -- the client connection's framing lost. The caller gets the gateway's 502 (the Node gateway
    -- drops interim answers and relays the final one); so too for a status past 599, which no
    -- caller is handed (limits.ts MAX_STATUS).
    local function filter_answer(status, framing)
      -- An answer with no HTTP/1.x status line (an upstream that speaks HTTP/2 only, or no HTTP
      -- at all): nginx takes it for HTTP/0.9 and would pass its bytes on with no status line or
      -- headers. The caller gets the gateway's 502 instead, as for an interim answer. (A request
      -- that is itself HTTP/0.9 has no protocol in its request line, and its answers pass.)
      local no_status_line = (ngx.req.http_version() or 1) < 1 and (ngx.var.server_protocol or "") ~= ""
      if no_status_line or status < 200 or status > ${MAX_STATUS} or framing then
        local turned = no_status_line and "it answered with no HTTP/1.x status line"
          or framing
          or (status < 100 or status > ${MAX_STATUS}) and "it answered with status " .. status
          or "it answered " .. status .. " first, an interim answer nginx 1.22 cannot relay"
        ngx.log(ngx.WARN, "the upstream of ", ngx.var.host, " is turned away, the caller gets 502: ", turned)
        ngx.var.p_turned = turned
        return ngx.exit(502)
      end
      -- Hop-by-hop headers stay on the upstream's hop, as the Node gateway keeps them
      -- (HEADER_RULES.hopByHop): nginx hides Connection, Keep-Alive and Transfer-Encoding itself,
      -- the configuration the fixed others (proxy_hide_header); here what Connection nominates,
      -- at the cost of one variable read per answer.
      local upstream_var = ngx.var
      local nominates = upstream_var.upstream_http_connection
      if nominates then
        for token in nominates:gmatch("[^,%s]+") do
          local name = token:lower()
          if name ~= "close" and name ~= "keep-alive" and not name:find("[^%w!#$%%&'*+.^_\`|~-]") then ngx.header[name] = nil end
        end
      end
      -- Only the upstream's answers: Postern's own, relayed before anything was forwarded, set its cookies.
      if not upstream_var.upstream_http_set_cookie then return end
      -- Every value: ngx.header reads at most 100 of a field (lua-resty-core), so an upstream's
      -- 101st Set-Cookie would pass unread, and the field rewritten from 100 would lose the rest.
      local cookies = ngx.resp.get_headers(0)["set-cookie"]
      if not cookies then return end
      if type(cookies) == "string" then cookies = { cookies } end
      local kept = {}
      for _, c in ipairs(cookies) do
        if not find(c, POSTERN_COOKIE, "ijo") then kept[#kept + 1] = c end
      end
      if #kept < #cookies then ngx.header["Set-Cookie"] = #kept > 0 and kept or nil end
    end

    -- Every answer passes here (header_filter_by_lua), and most need nothing done but their
    -- status set: a final status, no Set-Cookie, no Transfer-Encoding beside a length, and a
    -- Connection header that nominates nothing. That much is read from the fields nginx keeps for
    -- the answer (ngx.status, ngx.header) and from one variable, $p_up (nginx-config.ts): the
    -- upstream's Transfer-Encoding and Connection read together by a map, "" when it sent no
    -- Transfer-Encoding and a Connection that nominates nothing, "chunked" for chunked alone (in
    -- any case) with such a Connection, "other" for the rest. The header filter ran about 3,100
    -- instructions a warm request (npm run bench -- --only instructions), 130 of them setting the
    -- status; reading $p_up rather than $upstream_http_connection took it from 3,785 to 4,112,
    -- where reading $upstream_http_transfer_encoding as well cost 1,400. filter_answer asks for the request's HTTP version, reads two variables (each looked
    -- up by name, then the upstream's headers walked) and walks the Connection header's tokens:
    -- 5,600 instructions of a warm request's 49,000 (callgrind, one nginx worker).
    -- An answer with no status line has status 9 here (lua-nginx-module's ngx.status for what nginx
    -- read as HTTP/0.9), so it goes on to filter_answer too ("an upstream that does not answer in
    -- HTTP/1.x" in gateway-forwarding fails should that change).
    -- Whether the upstream sent a Content-Length nginx could not read ("abc", "-1", "5, 5", more
    -- digits than it counts, or a second one that is any of these): nginx 1.22 then knows no
    -- length and reads the body until the upstream closes, which a kept-alive upstream never
    -- does, and the caller waits out the service's timeout for a cut body. The Node gateway
    -- answers 502 at once; so does this plane. A length nginx read is in the answer's own
    -- Content-Length, so the upstream's header is looked up only for answers without one
    -- (chunked, or until close); a 204, a 304 and an answer to HEAD have no body to read.
    -- Whether it sent a Transfer-Encoding beside a Content-Length (CODING_BESIDE_LENGTH): RFC 9112
    -- §6.2 forbids a sender both, and the Node gateway answers 502; nginx 1.22 relayed a coding
    -- other than chunked by the length (the coded bytes for the content), and took chunked beside
    -- a length for chunked.
    -- And whether it sent a Transfer-Encoding other than chunked alone (UNRELAYABLE_TRANSFER_CODING,
    -- http/transfer-coding.ts): nginx 1.22 de-chunks any value that holds "chunked", reads any
    -- other until the upstream closes, and drops the header, so the caller would take the coded
    -- bytes for the content. Of two Transfer-Encoding fields $upstream_http_transfer_encoding
    -- holds the first alone (nginx 1.22's variables; README), so "chunked" then "gzip" passes as
    -- chunked, and the coded bytes break its chunk parser, which cuts the answer.
    local LENGTH_UNREAD = "its answer broke HTTP/1.1: its Content-Length is not one length nginx can read"
    local CODED = ${luaString(UNRELAYABLE_TRANSFER_CODING)}
    local BESIDE_LENGTH = ${luaString(CODING_BESIDE_LENGTH)}
    -- An empty Transfer-Encoding ("Transfer-Encoding:" and nothing) reads as none in $p_up's map
    -- (a map sees an empty field as an absent one), and nginx relays the answer by its length, or
    -- until the close: the Node gateway answers 502 (CODED: no coding it knows, so none it
    -- decodes). So the field itself is looked at whenever $p_up does not already say chunked:
    -- ngx.var tells an empty field ("") from an absent one (nil). That read is cheap because the
    -- configuration names $upstream_http_transfer_encoding in @postern_variables (nginx-config.ts):
    -- nginx then finds it by its name in its hash of variables, where an $upstream_http_* name
    -- is otherwise looked for among every prefix and made anew on each read.
    -- A 204 or a 304 has no body, whatever its framing says (RFC 9110 §6.4.1), and is relayed
    -- as such; beside a Transfer-Encoding its Content-Length is dropped (RFC 9112 §6.3: a
    -- recipient does not trust it, and a proxy removes it), as the Node gateway drops it.
    -- (nginx itself drops it beside chunked, and from every 204.)
    local function framing_unread(status, up)
      local var = ngx.var
      if status == 204 or status == 304 then
        if status == 304 and ngx.header["Content-Length"] ~= nil and var.upstream_http_transfer_encoding then ngx.header["Content-Length"] = nil end
        return nil
      end
      local te = up == "chunked" and up or var.upstream_http_transfer_encoding
      if te then
        if te == "" then return CODED end
        -- (nginx keeps no length of its own beside chunked: the upstream's header is looked up.)
        if ngx.header["Content-Length"] ~= nil or var.upstream_http_content_length ~= nil then return BESIDE_LENGTH end
        if te ~= "chunked" and not te:lower():find("^%s*chunked%s*$") then return CODED end
        return nil
      end
      if ngx.header["Content-Length"] ~= nil then return nil end
      if var.upstream_http_content_length ~= nil and ngx.req.get_method() ~= "HEAD" then return LENGTH_UNREAD end
      return nil
    end

    function postern.response_headers()
      local status = ngx.status
      local up = ngx.var.p_up
      local framing = framing_unread(status, up)
      if framing then return filter_answer(status, framing) end
      -- A redirect to the upstream's own address goes to the service URL (nginx-lua-redirects.ts).
      -- Looking for the two headers took the header filter from 3,989 to 4,347 instructions a warm
      -- request (npm run bench -- --only instructions).
      local header = ngx.header
      local location, refresh = header["Location"], header["Refresh"]
      if location or refresh then public_redirects(location, refresh) end
      if status >= 200 and status <= ${MAX_STATUS} then
        -- Set, the status has nginx write a status line of its own, the code and its standard
        -- reason, as the Node gateway does. Otherwise nginx relays the upstream's text after the
        -- code as it read it: the upstream's own reason, and, from an upstream that spaced the
        -- code's digits ("3 04", which nginx reads as 304), a line no client can read. For a 204
        -- it also drops Content-Length, which a 204 cannot have (RFC 9110 §8.6).
        ngx.status = status
        -- ("other": its Connection may nominate a header, which filter_answer removes.)
        if up ~= "other" and not header["Set-Cookie"] then return end
      end
      return filter_answer(status)
    end

    -- An answer the header filter turned away (response_headers): its 502, in @postern_turned.
    function postern.turned()
      local resource = (ngx.var.p_fail or ""):match("^%d* (.*)$")
      return unrelayable(resource or "", ngx.var.p_turned)
    end

    -- The upstream failed: the Node gateway's 502 or 504, as Postern words it.
    function postern.upstream_error(status)
      local turned = ngx.var.p_turned
      if turned and turned ~= "" then return ngx.exec("@postern_turned") end
      local timeout, resource = (ngx.var.p_fail or ""):match("^(%d*) (.*)$")
      local r = capture("/_postern/nginx-upstream-error", { args = { status = status, resource = resource or "", timeout = timeout or "" } })
      if r.header[${luaString(VERDICT.verdict)}] == nil then return json_error(502, BAD_GATEWAY) end
      return relay(r)
    end
`
}

/** Hop-by-hop headers nginx itself never passes upstream (it sets them, or empties them by default). */
const NGINX_SETS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'host', 'expect'])

/** The Lua that hands an HTTP/2 stream to Postern's gateway (`@postern_h2`), unless its header list is more than that hop can carry (NGINX_H2_HEADER_BYTES). */
function h2HandoffLua(): string {
  return `
    local H2_MAX_HEADER_BYTES = ${NGINX_H2_HEADER_BYTES}
    local function h2_handoff()
      local bytes = 0
      for name, value in pairs(ngx.req.get_headers(0, true)) do
        if type(value) == "table" then
          for _, v in ipairs(value) do bytes = bytes + #name + #v + 32 end
        else
          bytes = bytes + #name + #value + 32
        end
      end
      if bytes > H2_MAX_HEADER_BYTES then return json_error(431, TOO_LARGE) end
      return ngx.exec("@postern_h2")
    end
`
}
