-- Replay prepared requests (one per line, each sent once) and count non-2xx answers.
--
-- wrk -s bench/replay.lua URL -- PREFIX MODE CAPTURE
--   PREFIX   each wrk thread N reads PREFIX.N.req (its own slice) and writes PREFIX.N.out
--   MODE     "once": every line is sent at most once; when a thread runs out it stops and
--            says so (the result is then not a valid measure). "repeat": the file's single
--            line is sent again and again (client_credentials, where nothing must be unique).
--   CAPTURE  "none", "code" (write each 2xx answer's access_token: the embed code) or
--            "tokens" (write "refresh_token<TAB>access_token" of each 2xx answer)
-- A line is METHOD<TAB>PATH<TAB>BODY<TAB>Header: value<TAB>Header: value...
-- done() prints one line "BENCHJSON {...}" that bench/run.py reads.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function split(line)
  local fields = {}
  for field in string.gmatch(line .. "\t", "([^\t]*)\t") do
    table.insert(fields, field)
  end
  return fields
end

function init(args)
  local prefix, capture_kind = args[1], args[3]
  mode = args[2]
  capture = capture_kind
  prepared = {}
  index = 0
  non2xx = 0
  exhausted = 0
  for line in io.lines(prefix .. "." .. id .. ".req") do
    local f = split(line)
    local headers = {}
    for i = 4, #f do
      local name, value = string.match(f[i], "^([^:]+): (.*)$")
      headers[name] = value
    end
    local body = nil
    if f[3] ~= "" then body = f[3] end
    table.insert(prepared, wrk.format(f[1], f[2], headers, body))
  end
  total = #prepared
  -- What a thread sends once it has run out: a harmless read, never a used request again.
  filler = wrk.format("GET", "/oauth/jwks")
  if capture ~= "none" then
    out = io.open(prefix .. "." .. id .. ".out", "w")
    out:setvbuf("line")
  end
end

function request()
  if mode == "repeat" then
    return prepared[1]
  end
  index = index + 1
  if index > total then
    exhausted = 1
    wrk.thread:stop()
    return filler
  end
  return prepared[index]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    return
  end
  if capture == "code" then
    local code = string.match(body, '"access_token"%s*:%s*"([^"]+)"')
    if code then out:write(code, "\n") end
  elseif capture == "tokens" then
    local refresh = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
    local access = string.match(body, '"access_token"%s*:%s*"([^"]+)"')
    if refresh and access then out:write(refresh, "\t", access, "\n") end
  end
end

function done(summary, latency, requests)
  local non2xx_total, exhausted_threads, sent = 0, 0, 0
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
    exhausted_threads = exhausted_threads + thread:get("exhausted")
    sent = sent + math.min(thread:get("index"), thread:get("total"))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non2xx": %d, '
      .. '"exhausted_threads": %d, "sent_prepared": %d, "socket_errors": {"connect": %d, '
      .. '"read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    non2xx_total, exhausted_threads, sent, e.connect, e.read, e.write, e.timeout))
end
