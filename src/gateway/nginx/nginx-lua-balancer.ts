/**
 * The Lua that picks a plain-HTTP service's peer (balancer_by_lua in the one upstream block of
 * such services, nginx-config.ts): the service's first address as Postern resolved them (IPv4
 * first), and the next one when that one cannot be connected to, as a client would. A plain-HTTP
 * service's addresses come in its verdicts (`http://NAME@host:port,host:port`, decision.ts
 * upstreamField), so creating or re-pointing one needs no reload; an https service's block is
 * written into the configuration (PEERS). Defines upstream_of, which names the block a verdict's
 * upstream is forwarded to — or none, for a service without addresses (its host name not yet
 * resolved, or resolved to nothing) or an https one this configuration does not hold (nginx not
 * yet reloaded since it was created or re-pointed): Postern's gateway forwards those, resolving
 * the name as it connects.
 */
export function balancerLua(o: {
  block: string
  /** Each https service as its verdicts name its upstream, and its addresses, tab-separated. */
  peers: readonly string[]
}): string {
  return `
    local balancer = require "ngx.balancer"
    local HTTP_BLOCK = ${JSON.stringify(`http://${o.block}`)}
    -- Each https service this configuration holds, by the name its verdicts give its upstream, and
    -- its addresses ({ { host, port }, ... }; its block has them too, and nginx picks among those).
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

    -- Plain-HTTP services' addresses as their verdicts name them, read once: by the whole
    -- upstream, so that other addresses are another entry. Emptied when it holds LEARNED_MAX (a
    -- worker that has lived through many changes); a request whose entry went meanwhile reads it again.
    local LEARNED, learned, LEARNED_MAX = {}, 0, 10000
    local function learn(upstream)
      local at = upstream:find("@", 8, true)
      if not at then return nil end
      local service = {}
      for field in upstream:sub(at + 1):gmatch("[^,]+") do
        local host, port = field:match("^(.*):(%d+)$")
        if host then service[#service + 1] = { host, tonumber(port) } end
      end
      if #service == 0 then return nil end
      if learned >= LEARNED_MAX then LEARNED, learned = {}, 0 end
      learned = learned + 1
      LEARNED[upstream] = service
      return service
    end

    -- The block to forward to (the first value) for a verdict's upstream, and, for a plain-HTTP
    -- service, its key for postern.balance; nil when there is no address to forward to.
    local function upstream_of(upstream)
      if upstream:byte(5) == 58 then -- http:
        if LEARNED[upstream] or learn(upstream) then return HTTP_BLOCK, upstream end
        return nil
      end
      local service = PEERS[upstream]
      if not service or #service == 0 then return nil end
      return upstream
    end

    function postern.balance()
      local peer = ngx.var.p_peer
      local service = LEARNED[peer] or learn(peer)
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
