import type { TrustedProxies } from '../../http/client-address.js'

const luaString = (s: string) => JSON.stringify(s)

/**
 * The Lua that tells an upstream who the client is, in X-Forwarded-For, as the Node gateway does
 * (headers.ts clientAddressChain): the peer alone, unless the peer is one of `--trusted-proxies`;
 * then the chain that proxy vouches for, read from the right of the X-Forwarded-For it sent and
 * ending at the first address that is not a trusted proxy, client first. Left of that is what the
 * client wrote itself, and is dropped. Without trusted proxies nginx sets the peer itself
 * ($remote_addr) and none of this runs.
 *
 * Addresses are read by libc's inet_pton (as Node's isIP, with a port or brackets allowed as
 * canonicalAddress allows them) and written in canonicalAddress's one form — IPv4-mapped IPv6 as
 * IPv4, IPv6 as RFC 5952 — so the upstream reads what the Node gateway would have sent. A range
 * is matched on the 16-byte form (IPv4 as IPv4-mapped), as Node's BlockList matches either family
 * against the other. Needs, in scope: ffi, C.
 */
export function forwardedForLua(trusted: TrustedProxies): string {
  const ranges = trusted.cidrs.map((cidr) => {
    const [address, bits] = cidr.split('/') as [string, string]
    return `{ ${luaString(address)}, ${bits} }`
  })
  return `
    pcall(ffi.cdef, "int inet_pton(int af, const char *src, void *dst);")
    local AF_INET, AF_INET6 = 2, 10
    local pton = ffi.new("unsigned char[16]")
    local MAPPED = "\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\255\\255"
    -- X-Forwarded-For hops read before giving up (client-address.ts MAX_HOPS).
    local MAX_HOPS = 20

    -- An address as canonicalAddress writes it, and its 16 bytes; nil when it is none.
    local function address_of(raw)
      -- (C reads a string up to a NUL: nginx refuses one in a header, and so does this.)
      if raw:find("\0", 1, true) then return nil end
      local s = raw:match("^%s*(.-)%s*$")
      local inner, rest = s:match("^%[([^%]]+)%](.*)$")
      if inner then
        if rest ~= "" and not rest:match("^:%d%d?%d?%d?%d?$") then return nil end
        s = inner
      else
        s = s:match("^(%d%d?%d?%.%d%d?%d?%.%d%d?%d?%.%d%d?%d?):%d%d?%d?%d?%d?$") or s
      end
      s = s:lower()
      if s:sub(1, 7) == "::ffff:" and C.inet_pton(AF_INET, s:sub(8), pton) == 1 then s = s:sub(8) end
      if C.inet_pton(AF_INET, s, pton) == 1 then return s, MAPPED .. ffi.string(pton, 4) end
      if C.inet_pton(AF_INET6, s, pton) ~= 1 then return nil end
      local bytes = ffi.string(pton, 16)
      -- RFC 5952: groups in lowercase hex without leading zeros, the first longest run of two or more zero groups as "::".
      local groups, best, best_len = {}, 0, 1
      for i = 1, 8 do groups[i] = string.format("%x", bytes:byte(2 * i - 1) * 256 + bytes:byte(2 * i)) end
      local i = 1
      while i <= 8 do
        if groups[i] ~= "0" then
          i = i + 1
        else
          local j = i
          while j <= 8 and groups[j] == "0" do j = j + 1 end
          if j - i > best_len then best, best_len = i, j - i end
          i = j
        end
      end
      if best == 0 then return table.concat(groups, ":"), bytes end
      return table.concat(groups, ":", 1, best - 1) .. "::" .. table.concat(groups, ":", best + best_len, 8), bytes
    end

    -- The trusted ranges: { the network's 16 bytes, its prefix length over 128 bits }.
    local TRUSTED = {}
    for _, r in ipairs({ ${ranges.join(', ')} }) do
      local text, bytes = address_of(r[1])
      TRUSTED[#TRUSTED + 1] = { bytes, r[2] + (text:find(":", 1, true) and 0 or 96) }
    end

    local function is_trusted(bytes)
      for _, r in ipairs(TRUSTED) do
        local net, bits = r[1], r[2]
        local whole = math.floor(bits / 8)
        if bytes:sub(1, whole) == net:sub(1, whole) then
          local rest = bits - whole * 8
          if rest == 0 then return true end
          local shift = 8 - rest
          if math.floor(bytes:byte(whole + 1) / 2 ^ shift) == math.floor(net:byte(whole + 1) / 2 ^ shift) then return true end
        end
      end
      return false
    end

    -- X-Forwarded-For for the upstream: the peer, or the chain a trusted peer vouches for.
    local function forwarded_for(peer, sent)
      local text, bytes = address_of(peer or "")
      if not text then return "unknown" end
      if sent == nil or not is_trusted(bytes) then return text end
      -- Hop by hop from the right, MAX_HOPS at most: a long header costs no more than its last hops.
      local chain = { text }
      local stop = #sent
      for _ = 1, MAX_HOPS do
        local comma = stop
        while comma > 0 and sent:byte(comma) ~= 44 do comma = comma - 1 end
        local hop = sent:sub(comma + 1, stop)
        stop = comma - 1
        if hop:find("%S") then
          local hop_text, hop_bytes = address_of(hop)
          -- Garbage where an address should be: the trusted proxy that passed it on is all we know.
          if not hop_text then break end
          table.insert(chain, 1, hop_text)
          if not is_trusted(hop_bytes) then break end
        end
        if comma == 0 then break end
      end
      return table.concat(chain, ", ")
    end
`
}
