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
  -- Pre-formatted requests, so request() costs a table read, not a string build.
  function init(args)
    local all = {}
    for line in io.lines(token_file) do
      if line ~= "" then all[#all + 1] = line end
    end
    reqs = {}
    for i = index + 1, #all, nthreads do
      local headers = { Authorization = "Bearer " .. all[i] }
      if host ~= "" then headers["Host"] = host end
      reqs[#reqs + 1] = wrk.format("GET", path, headers)
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
