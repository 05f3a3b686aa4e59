import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WORKER_CACHE_GENERATION, workerCacheLua } from '../../src/gateway/nginx/nginx-lua-worker-cache.js'
import { startNginxSite, type FrontProxy } from '../support/front-proxies.js'

/**
 * The nginx data plane's per-worker verdict cache, run by Debian's nginx and its Lua module as the
 * plane runs it. Each location plays one story against a fresh cache and says what it found.
 */
const STORIES = `
  local function fresh()
${workerCacheLua()}
    return mine
  end
  local G = ${WORKER_CACHE_GENERATION}
  local function fill(cache, from, count, each)
    for i = from, from + count - 1 do
      cache:set("k" .. i, i)
      if each then each(i) end
    end
  end
  local function size(cache)
    local n = 0
    for _ in pairs(cache.current) do n = n + 1 end
    for k in pairs(cache.previous) do if cache.current[k] == nil then n = n + 1 end end
    return n
  end
  stories = {
    -- Set, then read back; a key never set reads nil.
    read_back = function()
      local c = fresh()
      c:set("a", "verdict")
      return tostring(c:get("a")) .. " " .. tostring(c:get("b"))
    end,
    -- A key read at least once a generation stays, however many new keys come after it.
    in_use_stays = function()
      local c = fresh()
      c:set("a", "verdict")
      fill(c, 1, 5 * G, function(i) if i % (G / 2) == 0 then assert(c:get("a") == "verdict") end end)
      return tostring(c:get("a"))
    end,
    -- A key no one reads is gone after two generations of new keys, and the cache never holds more than two.
    unused_goes = function()
      local c = fresh()
      c:set("b", "verdict")
      local most = 0
      -- Largest just before a generation turns: the current one full.
      fill(c, 1, 2 * G, function() if c.count == G then most = math.max(most, size(c)) end end)
      return tostring(c:get("b")) .. " " .. most
    end,
    -- A deleted key is gone from both generations.
    deleted_goes = function()
      local c = fresh()
      c:set("a", "verdict")
      fill(c, 1, G)
      c:set("x", 1)
      local before = c.previous.a
      c:delete("a")
      return tostring(before) .. " " .. tostring(c:get("a"))
    end,
  }
`

describe("the nginx data plane's per-worker verdict cache (two generations)", () => {
  let nginx: FrontProxy
  beforeAll(async () => {
    nginx = await startNginxSite(
      (listen) => `
  init_by_lua_block {${STORIES}}
  server {
    listen ${listen};
    location = / { return 204; }
    location ~ ^/(\\w+)$ { content_by_lua_block { ngx.print(stories[ngx.var[1]]()) } }
  }
`,
    )
  })
  afterAll(async () => {
    await nginx?.stop()
  })
  const story = async (name: string) => {
    const res = await fetch(`http://127.0.0.1:${nginx.port}/${name}`)
    const text = await res.text()
    expect(res.status, `${text}\n${nginx.log()}`).toBe(200)
    return text
  }

  it('gives back what was set, and nothing for a key never set', async () => {
    expect(await story('read_back')).toBe('verdict nil')
  })

  it('keeps a verdict read at least once a generation through any number of new ones', async () => {
    expect(await story('in_use_stays')).toBe('verdict')
  })

  it('drops a verdict no one reads after two generations of new ones, and never holds more than two generations', async () => {
    expect(await story('unused_goes')).toBe(`nil ${2 * WORKER_CACHE_GENERATION}`)
  })

  it('forgets a deleted verdict in both generations', async () => {
    expect(await story('deleted_goes')).toBe('verdict nil')
  })
})
