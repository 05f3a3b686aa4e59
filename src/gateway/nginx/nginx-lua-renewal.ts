import { DECISION_HOST, DECISION_KEY_HEADER, EPOCH_HEADER, RENEW_EVERY_MS, RENEW_MAX_LINES, RENEW_PATH } from './decision-protocol.js'

/**
 * The Lua that renews verdicts in bulk (decision-protocol.ts RENEW_PATH). A verdict past half
 * its life that rests on a token alone is put on its worker's list by the request that finds it
 * so (the one that takes the shared lock; the others go on using it), and a timer sends the list
 * to Postern every RENEW_EVERY_MS in one request over a connection of its own: no request waits
 * for a renewal, and a thousand callers each using the plane all the time cost Postern ten
 * requests a second rather than thousands. A verdict Postern no longer gives is dropped, so the
 * next request is decided — and refused, and audited — as any other; one Postern does not answer
 * for simply runs out (fail closed). The request goes every RENEW_EVERY_MS, lines or not: its
 * answer says the view's epoch, which holds the verdicts Postern stamped (decision-protocol.ts
 * EPOCH_HEADER), so a caller whose verdict stands is renewed every few seconds, not twice a second.
 * Needs, in scope: shared, shm, mine, concat, remember, saw_epoch, held_at, NFIELDS, REP, STAMP.
 */
export function renewalLua(decisions: string, decisionKey: string): string {
  const unix = decisions.startsWith('unix:')
  const [host, port] = unix ? [decisions, ''] : [decisions.slice(0, decisions.lastIndexOf(':')), decisions.slice(decisions.lastIndexOf(':') + 1)]
  return `
    local RENEW_EVERY, RENEW_MAX = ${RENEW_EVERY_MS / 1000}, ${RENEW_MAX_LINES}
    local RENEW_REQUEST = ${JSON.stringify(`POST ${RENEW_PATH} HTTP/1.1\r\nHost: ${DECISION_HOST}\r\n${DECISION_KEY_HEADER}: ${decisionKey}\r\nConnection: close\r\nContent-Length: `)}
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

    local function flush(premature)
      -- Nothing to renew, and no verdict held by its epoch for a second: nothing to ask.
      if premature or (#due == 0 and ngx.now() - held_at > 1) then return end
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
      local sock = ngx.socket.tcp()
      sock:settimeout(5000)
      local ok
      if DECISIONS_PORT then ok = sock:connect(DECISIONS_HOST, DECISIONS_PORT) else ok = sock:connect(DECISIONS_HOST) end
      if not ok then return end
      local answer, said
      if sock:send({ RENEW_REQUEST, #body, "\\r\\n\\r\\n", body }) then answer, said = read_answer(sock) end
      sock:close()
      if not answer then return end
      saw_epoch(said, asked)
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
