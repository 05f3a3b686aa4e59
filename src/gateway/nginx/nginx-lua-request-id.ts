/**
 * The Lua that gives each forwarded request its X-Request-Id, as the Node gateway does
 * (gateway.ts requestIdOf): the caller's own when it is a sane token, else a new UUID-shaped one.
 *
 * A new one is this worker's random prefix and a counter, not random bytes per request: nginx's
 * $request_id draws from OpenSSL's RAND_bytes, which makes a getpid() system call on every draw
 * (its fork check) and, with the map that shaped it like a UUID, cost ~3 µs a request — a tenth
 * of the whole data plane's. The prefix (96 random bits from /dev/urandom, drawn again when the
 * 32-bit counter wraps) keeps ids unique across workers, restarts and machines; the layout is a
 * version-8 ("custom") UUID, RFC 9562.
 *
 * The id is written in a buffer of this worker's and set from there (set_var_bytes), never made a
 * Lua string: two new strings a request (the counter's digits, then the whole id) were garbage
 * the collector then swept, ~2% of the data plane's instructions a request (callgrind).
 * Needs, in scope: find, ffi, set_var_bytes.
 */
export function requestIdLua(): string {
  return `
    local band, rshift = bit.band, bit.rshift
    local SANE_REQUEST_ID = "^[A-Za-z0-9._:-]{1,128}$"
    local HEX = ffi.new("const char[17]", "0123456789abcdef")
    -- xxxxxxxx-xxxx-8xxx-Vxxx-xxxx then the counter's 8 hex digits; V holds the RFC 9562 variant (10xx).
    local ID_PREFIX, ID_LENGTH = 28, 36
    local id = ffi.new("unsigned char[?]", ID_LENGTH)
    local id_count = 0

    local function new_id_prefix()
      local urandom = assert(io.open("/dev/urandom", "rb"))
      local bytes = urandom:read(12)
      urandom:close()
      local hex = bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end)
      local variant = string.format("%x", 8 + tonumber(hex:sub(17, 17), 16) % 4)
      local prefix = hex:sub(1, 8) .. "-" .. hex:sub(9, 12) .. "-8" .. hex:sub(13, 15) .. "-" .. variant .. hex:sub(18, 20) .. "-" .. hex:sub(21, 24)
      assert(#prefix == ID_PREFIX)
      ffi.copy(id, prefix, ID_PREFIX)
      id_count = 0
    end

    -- Sets p_rid to the request's id.
    local function set_request_id(given)
      if given and find(given, SANE_REQUEST_ID, "jo") then
        ngx.var.p_rid = given
        return
      end
      id_count = id_count + 1
      if id_count > 0xffffffff then new_id_prefix() id_count = 1 end
      for i = 0, 7 do id[ID_LENGTH - 1 - i] = HEX[band(rshift(id_count, 4 * i), 15)] end
      set_var_bytes("p_rid", id, ID_LENGTH)
    end
`
}
