/** The https upstream blocks' names, numbered from 1. */
export const TLS_BLOCK_PREFIX = 'postern_tls_'
/** The longest an upstream may take to accept a connection (proxy_connect_timeout), shorter when the service's timeout is. */
export const CONNECT_SECONDS = 10

/**
 * The Lua that says where a verdict is forwarded, and picks the peer (balancer_by_lua in every
 * upstream block that forwards to services, nginx-config.ts). A service's addresses come in its
 * verdicts (`http://NAME@host:port,host:port`, decision.ts upstreamField), so creating, deleting
 * or re-pointing one needs no reload of nginx, whose retiring workers would close the kept-alive
 * connections callers are sending on. The balancer tries the first address as Postern resolved
 * them (IPv4 first), and the next when that one cannot be connected to, as a client would; it
 * sets the service's timeouts when they are not the default.
 *
 * A plain-HTTP service goes to the one block HTTP_BLOCK. An https one goes to a block of its
 * server name's own: nginx keeps idle upstream connections by address alone, and one TLS
 * connection must never carry a request for another server name than it was opened and checked
 * for (lua-nginx-module 0.10.23's balancer cannot key its pool by name). The configuration holds
 * `tlsBlocks` of them, which each worker gives out, one a server name, the first time it forwards
 * to that name, and never to another name while it lives; a worker that has given them all out
 * hands a new name's requests to Postern's gateway (which Postern avoids by writing more blocks,
 * nginx-shape.ts).
 */
export function balancerLua(o: {
  block: string
  /** How many upstream blocks https services have (postern_tls_1 …), one a server name. */
  tlsBlocks: number
}): string {
  return `
    local balancer = require "ngx.balancer"
    local HTTP_BLOCK = ${JSON.stringify(`http://${o.block}`)}
    local TLS_BLOCKS = ${o.tlsBlocks}
    -- Each server name's block, as this worker gave them out.
    local tls_block_of, tls_blocks = {}, 0
    local function tls_block(name)
      local block = tls_block_of[name]
      if block or tls_blocks == TLS_BLOCKS then return block end
      tls_blocks = tls_blocks + 1
      block = "https://${TLS_BLOCK_PREFIX}" .. tls_blocks
      tls_block_of[name] = block
      return block
    end

    -- Services' addresses as their verdicts name them, read once: by the whole upstream, so that
    -- other addresses are another entry. Emptied when it holds LEARNED_MAX (a worker that has
    -- lived through many changes); a request whose entry went meanwhile reads it again.
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

    -- The block to forward a verdict's upstream to, and its key for postern.balance; nil when
    -- there is no address to forward to (a host name not resolved yet, or to nothing) or, for an
    -- https one, no block left for its server name: Postern's gateway forwards those.
    local function upstream_of(upstream, server_name)
      if not (LEARNED[upstream] or learn(upstream)) then return nil end
      if upstream:byte(5) == 58 then return HTTP_BLOCK, upstream end -- http:
      local block = tls_block(server_name)
      if block then return block, upstream end
    end

    function postern.balance()
      local peer = ngx.var.p_peer
      -- A service's own timeout comes first ("N http…"): nginx's are per location, and a location
      -- per timeout would be a reload per new one.
      if peer:byte(1) ~= 104 then -- h
        local space = peer:find(" ", 1, true)
        local seconds = tonumber(peer:sub(1, space - 1))
        balancer.set_timeouts(seconds < ${CONNECT_SECONDS} and seconds or ${CONNECT_SECONDS}, seconds, seconds)
        peer = peer:sub(space + 1)
      end
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
