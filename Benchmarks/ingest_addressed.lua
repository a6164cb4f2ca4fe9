-- wrk script: ingest ~300-byte JSON events (POST /v1/events, keep-alive), each addressed to a
-- random tenant t00000..t{TENANTS-1}: `"tenant":"t01234"`. With TENANT_FIELD=x the same bytes
-- carry the id in a member the gateway ignores, for a baseline without tenants that pays the
-- same request size and the same per-request Lua work. Token from BENCH_TOKEN.
local tenants = tonumber(os.getenv("TENANTS") or "10000")
local field = os.getenv("TENANT_FIELD") or "tenant"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "bench-token")
local pad = string.rep("a", 180)
local prefix = '{"type":"order.created","' .. field .. '":"t'
local suffix = '","data":{"order_id":"ord_0123456789","amount":1234,"note":"' .. pad .. '"}}'

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  return wrk.format(nil, nil, nil, prefix .. string.format("%05d", math.random(0, tenants - 1)) .. suffix)
end
