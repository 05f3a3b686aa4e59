import { DECISION_HOST, DECISION_KEY_HEADER, EPOCH_HEADER, RENEW_EVERY_MS, RENEW_MAX_LINES, RENEW_PATH } from './decision-protocol.js'

/**
 * The Lua that renews verdicts in bulk (decision-protocol.ts RENEW_PATH). A verdict past half
 * its life that rests on a token alone is put on its worker's list by the request that finds it
 * so (the one that takes the shared lock; the others go on using it), and a timer sends the list
 * to Postern every RENEW_EVERY_MS in one request over a connection of its own: no request waits
 * for a renewal, and a thousand callers each using the plane all the time cost Postern ten
 * requests a second rather than thousands. A verdict Postern no longer gives is dropped, so the
 * next request is decided — and refused, and audited — as any other; one Postern does not answer
 * for simply runs out (fail closed). Every answer says the view's epoch, which holds the
 * verdicts Postern stamped (decision-protocol.ts EPOCH_HEADER), so a caller whose verdict stands
 * is renewed every few seconds, not twice a second; with no lines to send, one worker asks for the
 * epoch alone every EPOCH_EVERY while verdicts are held, and the others read its answer from
 * shared memory. Over a kept-alive connection: on this machine a connection cost Postern about
 * 1.8 ms of CPU (accept, read, write, close, most of it the kernel's), ten times a second per worker.
 * Needs, in scope: shared, shm, mine, concat, remember, saw_epoch, epoch, epoch_until, held_at,
 * CONFIRMED_FOR, NFIELDS, REP, STAMP.
 */
export function renewalLua(decisions: string, decisionKey: string): string {
  const unix = decisions.startsWith('unix:')
  const [host, port] = unix ? [decisions, ''] : [decisions.slice(0, decisions.lastIndexOf(':')), decisions.slice(decisions.lastIndexOf(':') + 1)]
  return `
    local RENEW_EVERY, RENEW_MAX = ${RENEW_EVERY_MS / 1000}, ${RENEW_MAX_LINES}
    local RENEW_REQUEST = ${JSON.stringify(`POST ${RENEW_PATH} HTTP/1.1\r\nHost: ${DECISION_HOST}\r\n${DECISION_KEY_HEADER}: ${decisionKey}\r\nContent-Length: `)}
    local DECISIONS_HOST, DECISIONS_PORT = ${JSON.stringify(host.replace(/^\[|\]$/g, ''))}, ${port ? Number(port) : 'nil'}
    local unescape = ngx.unescape_uri
    local due = {}

    -- Renew the verdict f under key (a request of this method to this host, resting on the token
    -- in f[REP]) with the next batch; its stamp names the answer it came from, if any.
    local function renew_later(key, f, method, host)
      due[#due + 1] = { key = key, f = f, line = method .. "\\t" .. host .. "\\t" .. f[REP] .. "\\t" .. (f[STAMP] or "") }
    end

    -- The answer's body and the epoch it says, or nil.
    local function read_answer(sock)
      local status = sock:receive("*l")
      if not status or not status:find("^HTTP/1%.1 200 ") then return nil end
      local length, said
      while true do
        local line = sock:receive("*l")
        if not line then return nil end
        if line == "" then break end
        local name, value = line:match("^([^:]+):%s*(.-)%s*$")
        name = name and name:lower()
        if name == "content-length" then length = value:match("^%d+$") and tonumber(value)
        elseif name == ${JSON.stringify(EPOCH_HEADER)} then said = value end
      end
      if not length or not said then return nil end
      if length == 0 then return "", said end
      local body = sock:receive(length)
      if not body then return nil end
      return body, said
    end

    -- One request to Postern over this worker's kept-alive connection (one retry on a new one,
    -- should Postern have closed the kept one meanwhile): the answer's body and epoch, or nil.
    local function ask(body)
      for _ = 1, 2 do
        local sock = ngx.socket.tcp()
        sock:settimeout(5000)
        local ok
        if DECISIONS_PORT then ok = sock:connect(DECISIONS_HOST, DECISIONS_PORT, { pool = "postern_renew" }) else ok = sock:connect(DECISIONS_HOST, { pool = "postern_renew" }) end
        if not ok then return nil end
        local reused = (sock:getreusedtimes() or 0) > 0
        local answer, said
        if sock:send({ RENEW_REQUEST, #body, "\\r\\n\\r\\n", body }) then answer, said = read_answer(sock) end
        if answer then
          sock:setkeepalive(10000, 1)
          return answer, said
        end
        sock:close()
        if not reused then return nil end
      end
    end

    -- The epoch one worker asked for, for the others (shared memory: EPOCH_NAME), so that an nginx
    -- asks about every EPOCH_EVERY seconds however many workers it has.
    local EPOCH_NAME, EPOCH_ASKING, EPOCH_EVERY = "E", "E?", 0.2
    local function share_epoch()
      shared:set(EPOCH_NAME, epoch .. "\\t" .. epoch_until, CONFIRMED_FOR)
    end
    local function adopt_epoch()
      local v = shared:get(EPOCH_NAME)
      local e, u = (v or ""):match("^(.*)\\t(.*)$")
      u = tonumber(u)
      if u and u > epoch_until then saw_epoch(e, u - CONFIRMED_FOR) end
    end

    local function flush(premature)
      if premature then return end
      adopt_epoch()
      if #due == 0 then
        -- Nothing to renew: asked only by a worker that held a verdict by its epoch within a
        -- second, when no worker has asked in the last EPOCH_EVERY (the others adopt its answer).
        local now = ngx.now()
        if now - held_at > 1 or epoch_until - now > CONFIRMED_FOR - EPOCH_EVERY then return end
        if not shared:add(EPOCH_ASKING, true, EPOCH_EVERY) then return end
      end
      local batch = due
      due = {}
      for i = RENEW_MAX + 1, #batch do
        due[#due + 1] = batch[i]
        batch[i] = nil
      end
      local lines = {}
      for i = 1, #batch do lines[i] = batch[i].line end
      local body = concat(lines, "\\n")
      ngx.update_time()
      local asked = ngx.now()
      local answer, said = ask(body)
      if not answer then return end
      saw_epoch(said, asked)
      share_epoch()
      local i = 0
      for line in (answer .. "\\n"):gmatch("([^\\n]*)\\n") do
        i = i + 1
        local d = batch[i]
        if not d then break end
        local parts = {}
        for part in (line .. "\\t"):gmatch("([^\\t]*)\\t") do parts[#parts + 1] = part end
        local ms = (parts[1] == "allow" or parts[1] == "same") and tonumber(parts[2]) or 0
        if ms > 0 and parts[1] == "same" and #parts == 3 then
          -- The answer the verdict came from still holds: the fields stay, its time starts again.
          remember(d.key, false, d.f, ms, asked, tonumber(parts[3]))
        elseif ms > 0 and #parts == NFIELDS + 4 then
          local f = {}
          -- Only fields that needed it are percent-encoded (renewal.ts): they alone hold a %.
          for j = 1, NFIELDS do
            local p = parts[j + 2]
            f[j] = p:find("%", 1, true) and unescape(p) or p
          end
          f[REP] = d.f[REP]
          f[STAMP] = parts[NFIELDS + 3]
          remember(d.key, false, f, ms, asked, tonumber(parts[NFIELDS + 4]))
        else
          shared:delete(shm(d.key))
          mine:delete(d.key)
        end
      end
    end

    local function start_renewal()
      ngx.timer.every(RENEW_EVERY, flush)
    end
`
}
