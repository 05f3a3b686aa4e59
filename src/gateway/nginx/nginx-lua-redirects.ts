/**
 * The Lua that points an upstream's redirect to its own address at the service URL, by the rule
 * the Node gateway applies (http/redirect-location.ts, whose unit tests hold the cases; a change
 * there is a change here). nginx's own `proxy_redirect default` cannot: it is refused beside a
 * proxy_pass with variables, and one with variables matches a prefix only, by case, with no
 * regard to default ports or where the host ends (`http://127.0.0.1:1400` would match
 * `http://127.0.0.1:14002/`).
 *
 * What it rewrites from: the upstream's scheme (https when Lua set $p_sni), its host ($p_host, the
 * Host it is sent: URL.host of its URL) and its base path ($p_base, set only when there is one);
 * to: the scheme and host upstreams are told in X-Forwarded-Proto and X-Forwarded-Host.
 * `proto`: the public scheme, or undefined for nginx's own ($scheme); `publicPort`: the gateway
 * URL's port, '' for the scheme's default.
 */
export function redirectsLua(o: { proto?: 'http' | 'https'; publicPort: string }): string {
  return `
    local PUBLIC_PROTO = ${o.proto === undefined ? 'nil' : JSON.stringify(o.proto)}
    local PUBLIC_PORT = ${JSON.stringify(o.publicPort ? `:${o.publicPort}` : '')}
    local DEFAULT_PORT = { http = "80", https = "443" }

    -- An authority as URL.host writes it for the scheme: lower case, no default (or empty) port,
    -- no leading zeros in the port.
    local function normalised_host(authority, scheme)
      local lower = authority:lower()
      local host, port = lower:match("^(.*):(%d*)$")
      if not host or port == "" then return host or lower end
      port = port:match("^0*(%d+)$")
      if port == DEFAULT_PORT[scheme] then return host end
      return host .. ":" .. port
    end

    -- A Location with the upstream's URL at its start replaced by the public one; nil when it does
    -- not start with it (redirect-location.ts rewrittenLocation).
    local function public_location(value, r)
      local rest, relative
      if value:sub(1, 2) == "//" then
        rest, relative = value:sub(3), true
      else
        local scheme, after = value:match("^(%a[%w+.-]*)://()")
        if not scheme or scheme:lower() ~= r.scheme then return nil end
        rest = value:sub(after)
      end
      local stop = rest:find("[/?#]")
      if normalised_host(stop and rest:sub(1, stop - 1) or rest, r.scheme) ~= r.host then return nil end
      local tail = stop and rest:sub(stop) or ""
      local base = r.base
      if base ~= "" then
        if tail:sub(1, #base) ~= base then return nil end
        local next_char = tail:sub(#base + 1, #base + 1)
        if next_char ~= "" and next_char ~= "/" and next_char ~= "?" and next_char ~= "#" then return nil end
        tail = tail:sub(#base + 1)
      end
      return (relative and "//" or r.to_scheme .. "://") .. r.to_host .. tail
    end

    -- A Refresh with its URL rewritten so (rewrittenRefresh): after the delay, ; or , and an
    -- optional url= and quote.
    local function public_refresh(value, r)
      local at = value:match("^[ \\t]*[0-9.]*[ \\t]*[;,][ \\t]*()")
      if not at then return nil end
      at = value:match("^[uU][rR][lL][ \\t]*=[ \\t]*()", at) or at
      local quote = value:sub(at, at)
      if quote == "'" or quote == '"' then at = at + 1 end
      local url = public_location(value:sub(at), r)
      return url and value:sub(1, at - 1) .. url
    end

    local function rewritten(values, rewrite, r)
      if type(values) ~= "table" then return rewrite(values, r) end
      local out, changed = {}, false
      for i, v in ipairs(values) do
        out[i] = rewrite(v, r) or v
        changed = changed or out[i] ~= v
      end
      return changed and out or nil
    end

    -- Called by the header filter for an answer with a Location or a Refresh (either may be nil).
    -- An answer of Postern's own, relayed before anything was forwarded (a sign-in's redirect),
    -- has no upstream ($p_host unset) and is left alone.
    local function public_redirects(location, refresh)
      local var = ngx.var
      local host = var.p_host
      if host == "" then return end
      local r = {
        scheme = var.p_sni ~= "" and "https" or "http",
        host = host,
        base = var.p_base,
        to_scheme = PUBLIC_PROTO or var.scheme,
        to_host = var.host .. PUBLIC_PORT,
      }
      if location then
        local v = rewritten(location, public_location, r)
        if v then ngx.header["Location"] = v end
      end
      if refresh then
        local v = rewritten(refresh, public_refresh, r)
        if v then ngx.header["Refresh"] = v end
      end
    end
`
}
