/**
 * The Lua that gives each forwarded request its X-Request-Id, as the Node gateway does
 * (gateway.ts requestIdOf): the caller's own when it is a sane token, else a new UUID-shaped one.
 *
 * A new one is this worker's random prefix and a counter, not random bytes per request: nginx's
 * $request_id draws from OpenSSL's RAND_bytes, which makes a getpid() system call on every draw
 * (its fork check) and, with the map that shaped it like a UUID, cost ~3 µs a request — a tenth
 * of the whole data plane's. The prefix (96 random bits from /dev/urandom, drawn again when the
 * 32-bit counter wraps) keeps ids unique across workers, restarts and machines; the layout is a
 * version-8 ("custom") UUID, RFC 9562. Needs, in scope: find.
 */
export function requestIdLua(): string {
  return `
    local tohex = bit.tohex
    local SANE_REQUEST_ID = "^[A-Za-z0-9._:-]{1,128}$"
    local id_prefix, id_count = nil, 0

    local function new_id_prefix()
      local urandom = assert(io.open("/dev/urandom", "rb"))
      local bytes = urandom:read(12)
      urandom:close()
      local hex = bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end)
      -- xxxxxxxx-xxxx-8xxx-Vxxx-xxxx + the counter's 8 digits; V holds the RFC 9562 variant (10xx).
      local variant = string.format("%x", 8 + tonumber(hex:sub(17, 17), 16) % 4)
      id_prefix = hex:sub(1, 8) .. "-" .. hex:sub(9, 12) .. "-8" .. hex:sub(13, 15) .. "-" .. variant .. hex:sub(18, 20) .. "-" .. hex:sub(21, 24)
      id_count = 0
    end

    local function request_id(given)
      if given and find(given, SANE_REQUEST_ID, "jo") then return given end
      id_count = id_count + 1
      if id_count > 0xffffffff then new_id_prefix() id_count = 1 end
      return id_prefix .. tohex(id_count, 8)
    end
`
}
