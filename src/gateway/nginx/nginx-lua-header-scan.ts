/** Requests with more headers than this are decided by Postern every time (the Node gateway takes up to 2,000). */
export const MAX_SCANNED_HEADERS = 100

/**
 * The Lua that tells, on every request, whether any request header is one the header hygiene
 * removes (HEADER_RULES: Postern's namespace, forwarding claims, hop-by-hop headers nginx would
 * pass). It reads nginx's own list of the headers it parsed — the list it forwards — through the
 * FFI functions lua-resty-core's ngx.req.get_headers is built on, and compares the lower-cased
 * names where they lie: no Lua string per header, nothing LuaJIT cannot compile. (A regular
 * expression over ngx.req.raw_header() cost ~5 µs a request, a sixth of the data plane's: a copy
 * of the header block, a new string every request, and a C call that stops the trace.)
 *
 * Defines header_scan(): true when such a header is present (then hygiene walks the headers),
 * false when none is, nil when there are more than MAX_SCANNED_HEADERS. Needs, in scope: ffi, C,
 * DROP_NAMES, POSTERN_PREFIX, FORWARDING_PREFIX.
 */
export function headerScanLua(): string {
  return `
    pcall(ffi.cdef, "int memcmp(const void *a, const void *b, size_t n);")
    -- resty.core (loaded by the module) declares the header list functions and types.
    require "resty.core.request"
    local get_request = require("resty.core.base").get_request
    local MAX_SCANNED = ${MAX_SCANNED_HEADERS}
    local scanned = ffi.new("ngx_http_lua_ffi_table_elt_t[?]", MAX_SCANNED)
    local scan_truncated = ffi.new("int[1]")
    local DROP_BY_LENGTH = {}
    for name in pairs(DROP_NAMES) do
      DROP_BY_LENGTH[#name] = DROP_BY_LENGTH[#name] or {}
      table.insert(DROP_BY_LENGTH[#name], name)
    end
    local NPOSTERN, NFORWARDING = #POSTERN_PREFIX, #FORWARDING_PREFIX

    local function header_scan()
      local r = get_request()
      scan_truncated[0] = 0
      local n = C.ngx_http_lua_ffi_req_get_headers_count(r, MAX_SCANNED, scan_truncated)
      if n < 0 or scan_truncated[0] ~= 0 then return nil end
      -- raw = 0: each name as nginx lower-cased it when parsing.
      if n == 0 or C.ngx_http_lua_ffi_req_get_headers(r, scanned, n, 0) ~= 0 then return n == 0 and false or nil end
      for i = 0, n - 1 do
        local key = scanned[i].key
        local len, name = key.len, key.data
        if len >= NPOSTERN and C.memcmp(name, POSTERN_PREFIX, NPOSTERN) == 0 then return true end
        if len >= NFORWARDING and C.memcmp(name, FORWARDING_PREFIX, NFORWARDING) == 0 then return true end
        local same = DROP_BY_LENGTH[len]
        if same then
          for j = 1, #same do
            if C.memcmp(name, same[j], len) == 0 then return true end
          end
        end
      end
      return false
    end
`
}
