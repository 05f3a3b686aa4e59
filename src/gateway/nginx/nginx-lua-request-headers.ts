import { MAX_HEADER_BYTES, MAX_HEADERS } from '../request-shape.js'

/** Header lists up to this long are read into a buffer allocated once per worker (longer ones get their own). */
const PREALLOCATED_HEADERS = 100

/**
 * The Lua that reads, once per request, what the access phase needs from the request's headers:
 * whether any is one the header hygiene removes (HEADER_RULES: Postern's namespace, forwarding
 * claims, hop-by-hop headers nginx would pass) and the values of the few it reads. It walks
 * nginx's own list of the headers it parsed — the list it forwards — through the FFI functions
 * lua-resty-core's ngx.req.get_headers is built on, comparing the lower-cased names where they
 * lie: a Lua string only for the values wanted, nothing LuaJIT cannot compile.
 *
 * Why not ngx.var.http_*: each such read walks the whole list again and copies the value
 * (seven of them cost ~2 µs a request); why not a regular expression over ngx.req.raw_header():
 * a copy of the whole block into a new string each request, ~3–6 µs.
 *
 * Defines control_in(s), whether a header value holds a control character, and read_headers(),
 * which returns, in this order:
 *   suspect      a header hygiene() removes is present
 *   reusable     no more headers than the Node gateway takes (MAX_HEADERS): a verdict may be reused
 *   authorization, host, upgrade   the first of each (as nginx's $http_* variables)
 *   x-request-id the only one, or false when there are two or more
 *   cookie       every Cookie header, joined with "; " (as $http_cookie)
 *   connection   every Connection header, joined with ", "
 *   serverless   the first X-Serverless-Authorization, and how many there are
 *   too_large    more header bytes than the gateway takes (MAX_HEADER_BYTES, counted as name, value and
 *                ": " and CRLF each): refused, warm or cold, as by Node on the gateway port
 *   malformed    a header value holds a control character other than HTAB (RFC 9110's field-value):
 *                refused, as by Node's parser on the gateway port. nginx itself refuses only NUL, CR
 *                and LF, and would pass the rest to the upstream (an escape sequence into its logs,
 *                say), whose own parser may refuse the request or read it otherwise. The first
 *                Authorization header, most of a request's header bytes, is left to the caller to
 *                check with control_in() when no verdict is found under its exact value: a verdict
 *                is kept only for a value checked before it was asked for.
 * Needs, in scope: ffi, C, DROP_NAMES, POSTERN_PREFIX, FORWARDING_PREFIX.
 */
export function requestHeadersLua(): string {
  return `
    pcall(ffi.cdef, "int memcmp(const void *a, const void *b, size_t n);")
    -- lua-resty-core declares the header list's functions and types.
    require "resty.core.request"
    local get_request = require("resty.core.base").get_request
    local ffi_string = ffi.string
    local HEADER_LIST = ffi.typeof("ngx_http_lua_ffi_table_elt_t[?]")
    local PREALLOCATED = ${PREALLOCATED_HEADERS}
    local MAX_REUSED = ${MAX_HEADERS}
    local MAX_BYTES = ${MAX_HEADER_BYTES}
    local preallocated = HEADER_LIST(PREALLOCATED)
    local truncated = ffi.new("int[1]")
    local DROP_BY_LENGTH = {}
    for name in pairs(DROP_NAMES) do
      DROP_BY_LENGTH[#name] = DROP_BY_LENGTH[#name] or {}
      table.insert(DROP_BY_LENGTH[#name], name)
    end
    local WANTED_BY_LENGTH = {}
    for _, name in ipairs({ "authorization", "host", "upgrade", "x-request-id", "cookie", "connection", "x-serverless-authorization" }) do
      assert(not WANTED_BY_LENGTH[#name], "read_headers tells the names it wants apart by their length")
      WANTED_BY_LENGTH[#name] = name
    end
    local NPOSTERN, NFORWARDING = #POSTERN_PREFIX, #FORWARDING_PREFIX

    -- The control characters a header value may not hold: all but HTAB, and DEL. (NUL, CR and LF
    -- never reach here: nginx refuses them.)
    pcall(ffi.cdef, "size_t strcspn(const char *s, const char *reject);")
    local CONTROL_BYTES = {}
    for b = 1, 31 do if b ~= 9 then CONTROL_BYTES[#CONTROL_BYTES + 1] = string.char(b) end end
    local CONTROL = table.concat(CONTROL_BYTES) .. "\\127"
    local IS_CONTROL = ffi.new("uint8_t[256]")
    for i = 1, #CONTROL do IS_CONTROL[CONTROL:byte(i)] = 1 end
    -- Whether len bytes at p hold one. Lua strings, and each header value nginx parsed, end with a
    -- NUL, which lets glibc's strcspn scan them (about 0.35 µs for a token); bytes without one
    -- (never seen) are read one by one.
    local function has_control(p, len)
      if p[len] == 0 then return C.strcspn(p, CONTROL) < len end
      for i = 0, len - 1 do
        if IS_CONTROL[p[i]] == 1 then return true end
      end
      return false
    end
    local const_chars = ffi.typeof("const char *")
    local function control_in(s)
      return has_control(ffi.cast(const_chars, s), #s)
    end

    local function read_headers()
      local r = get_request()
      -- (0: no limit; the count's own default would stop at 100.)
      local n = C.ngx_http_lua_ffi_req_get_headers_count(r, 0, truncated)
      if n < 0 then return true, false end
      local suspect, authorization, host, upgrade, request_id, cookie, connection, serverless = false
      local serverless_count, bytes, malformed = 0, 0, false
      if n == 0 then return suspect, true, authorization, host, upgrade, request_id, cookie, connection, serverless, serverless_count end
      local list = n <= PREALLOCATED and preallocated or HEADER_LIST(n)
      -- raw = 0: each name as nginx lower-cased it when parsing.
      if C.ngx_http_lua_ffi_req_get_headers(r, list, n, 0) ~= 0 then return true, false end
      for i = 0, n - 1 do
        local key = list[i].key
        local len, name = key.len, key.data
        bytes = bytes + len + list[i].value.len + 4
        if not suspect then
          if len >= NPOSTERN and C.memcmp(name, POSTERN_PREFIX, NPOSTERN) == 0 then
            suspect = true
          elseif len >= NFORWARDING and C.memcmp(name, FORWARDING_PREFIX, NFORWARDING) == 0 then
            suspect = true
          else
            local same = DROP_BY_LENGTH[len]
            if same then
              for j = 1, #same do
                if C.memcmp(name, same[j], len) == 0 then
                  suspect = true
                  break
                end
              end
            end
          end
        end
        local v = list[i].value
        local wanted = WANTED_BY_LENGTH[len]
        if wanted and C.memcmp(name, wanted, len) == 0 then
          local value = ffi_string(v.data, v.len)
          if wanted ~= "authorization" or authorization then malformed = malformed or has_control(v.data, v.len) end
          if wanted == "authorization" then authorization = authorization or value
          elseif wanted == "host" then host = host or value
          elseif wanted == "upgrade" then upgrade = upgrade or value
          -- Two ids are none (false): the Node gateway reads them joined with ", ", no sane token, and makes its own.
          elseif wanted == "x-request-id" then request_id = request_id == nil and value
          elseif wanted == "cookie" then cookie = cookie and cookie .. "; " .. value or value
          elseif wanted == "connection" then connection = connection and connection .. ", " .. value or value
          else
            serverless = serverless or value
            serverless_count = serverless_count + 1
          end
        else
          malformed = malformed or has_control(v.data, v.len)
        end
      end
      return suspect, n <= MAX_REUSED, authorization, host, upgrade, request_id, cookie, connection, serverless, serverless_count, bytes > MAX_BYTES, malformed
    end
`
}
