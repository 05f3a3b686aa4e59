-- The one wrk script of `npm run bench`. Parameters come from the environment:
--   BENCH_HOST     the Host header (the gateway routes by it)
--   BENCH_PATH     the request path (default /)
--   BENCH_TOKEN    one token, sent as Authorization: Bearer (the warm case)
--   BENCH_TOKENS   a file of tokens, one a line, each thread walking its own share in order
--                  (the cold case); BENCH_THREADS must then equal wrk's -t
-- done() prints one line, BENCH_JSON {...}, with the counts and latency percentiles (µs).

local host = os.getenv("BENCH_HOST") or ""
local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN") or ""
local token_file = os.getenv("BENCH_TOKENS") or ""
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

wrk.path = path
if host ~= "" then wrk.headers["Host"] = host end
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

if token_file ~= "" then
  -- Pre-formatted requests, so request() costs a table read, not a string build. wrk runs each
  -- thread's init on its main thread just before starting that thread, and its clock starts after
  -- the last one: requests a thread sends while a later thread's init runs are counted in a
  -- duration that leaves that time out. So init is kept short: one read of the file and one
  -- concatenation per token of this thread's share. (wrk.format took about 7 µs a token: with the
  -- file read line by line, the first thread had 0.6 s of head start on a 120,000-token set,
  -- against about 0.2 s this way, some 2% of a 4-second run's requests.)
  function init(args)
    local f = assert(io.open(token_file, "rb"))
    local all = f:read("*a")
    f:close()
    local head = "GET " .. path .. " HTTP/1.1\r\n" .. (host ~= "" and "Host: " .. host .. "\r\n" or "") .. "Authorization: Bearer "
    reqs = {}
    local line, at = 0, 1
    while true do
      local nl = all:find("\n", at, true) or #all + 1
      if nl > at then
        if line % nthreads == index then reqs[#reqs + 1] = head .. all:sub(at, nl - 1) .. "\r\n\r\n" end
        line = line + 1
      end
      if nl > #all then break end
      at = nl + 1
    end
    ntokens = #reqs
    sent = 0
  end

  function request()
    sent = sent + 1
    return reqs[((sent - 1) % ntokens) + 1]
  end
end

function done(summary, latency, requests)
  local sent_total, repeats, distinct = 0, 0, 0
  for _, t in ipairs(threads) do
    local s = t:get("sent") or 0
    local n = t:get("ntokens") or 0
    sent_total = sent_total + s
    distinct = distinct + n
    if n > 0 and s > n then repeats = repeats + (s - n) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%.1f,"p90":%.1f,"p99":%.1f,"p999":%.1f,"max":%.1f,"mean":%.1f},' ..
    '"tokens":{"sent":%d,"distinct":%d,"repeats":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    sent_total, distinct, repeats))
end
