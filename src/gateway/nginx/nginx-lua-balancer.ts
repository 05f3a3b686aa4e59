/**
 * The Lua that picks a plain-HTTP service's peer (balancer_by_lua in the one upstream block of
 * such services, nginx-config.ts): the service's first address as Postern resolved them (IPv4
 * first), and the next one when that one cannot be connected to, as a client would. Defines
 * PEERS, and upstream_of, which names the block a verdict's upstream is forwarded to: this one,
 * or an https service's own — or none, for a service this configuration does not hold (nginx not
 * yet reloaded since it was created or re-pointed) or whose host name resolved to nothing when it
 * was written: Postern's gateway forwards those, resolving the name as it connects.
 */
export function balancerLua(o: {
  block: string
  /** Each service as its verdicts name its upstream, and its addresses, tab-separated. */
  peers: readonly string[]
}): string {
  return `
    local balancer = require "ngx.balancer"
    local HTTP_BLOCK = ${JSON.stringify(`http://${o.block}`)}
    -- Each service this configuration holds, by the name its verdicts give its upstream, and its
    -- addresses in the order they are tried: { { host, port }, ... } (an https one's block has
    -- them too, and nginx picks among those).
    local PEERS = {}
    -- One short string a service (nginx refuses a configuration token over 4 KB), a function a
    -- few thousand of them (LuaJIT counts a function's constants in 16 bits).
    for _, lines in ipairs({
${chunks(o.peers, 4000).map((chunk) => `      function() return {\n${chunk.map((line) => `        ${JSON.stringify(line)},`).join('\n')}\n      } end,`).join('\n')}
    }) do
      for _, line in ipairs(lines()) do
        local service
        for field in line:gmatch("[^\\t]+") do
          if not service then
            service = {}
            PEERS[field] = service
          else
            local host, port = field:match("^(.*):(%d+)$")
            service[#service + 1] = { host, tonumber(port) }
          end
        end
      end
    end

    -- The block to forward to (the first value) for a verdict's upstream, and the service's key in
    -- PEERS when it is this block; nil when this configuration does not hold the service or has
    -- no address for it.
    local function upstream_of(upstream)
      local service = PEERS[upstream]
      if not service or #service == 0 then return nil end
      if upstream:byte(5) ~= 58 then return upstream end -- https: a block of its own
      return HTTP_BLOCK, upstream
    end

    function postern.balance()
      local service = PEERS[ngx.var.p_peer]
      local try = 1
      if balancer.get_last_failure() then
        -- Only a request whose first address failed keeps count (ngx.ctx costs a table).
        local ctx = ngx.ctx
        try = (ctx.postern_try or 1) + 1
        ctx.postern_try = try
        -- nginx also tries again, beyond the addresses, when a kept-alive connection closed before
        -- answering a request it may send twice (the upstream's idle timeout crossing it): then
        -- the last address once more.
        if try > #service then try = #service end
      elseif #service > 1 then
        balancer.set_more_tries(#service - 1)
      end
      balancer.set_current_peer(service[try][1], service[try][2])
    end
`
}

function chunks<T>(all: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size))
  return out
}
