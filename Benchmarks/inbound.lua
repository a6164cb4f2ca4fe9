-- wrk script for Benchmarks/inbound_github.sh: POSTs the body in BODY_FILE. With SIGNATURE
-- set, as GitHub does to /in/{source} (X-Hub-Signature-256, X-GitHub-Event, and a new
-- X-GitHub-Delivery each request, so every one is stored, none is a repeat); without, to
-- /v1/events with the admin token (BENCH_TOKEN), the body being an event envelope.
local file = io.open(os.getenv("BODY_FILE"), "rb")
local body = file:read("*a")
file:close()
local signature = os.getenv("SIGNATURE")
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if signature then
  wrk.headers["X-GitHub-Event"] = "push"
  wrk.headers["X-Hub-Signature-256"] = "sha256=" .. signature
else
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "bench")
end
local thread_id = 0
local counter = 0

function init(args)
  thread_id = math.random(1, 1000000000)
end

function request()
  if not signature then return wrk.format() end
  counter = counter + 1
  -- wrk.format takes the whole header set: the common ones and this request's delivery id.
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["X-GitHub-Delivery"] = string.format("%d-%d", thread_id, counter)
  return wrk.format(nil, nil, headers)
end
