-- wrk script for the latency benchmark: ingest ~300-byte events at a steady rate. Each
-- connection waits DELAY_MS between requests (wrk's delay()), so the offered rate is about
-- connections * 1000 / DELAY_MS events per second.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "bench-token")
local pad = string.rep("a", 180)
wrk.body = '{"type":"order.created","data":{"order_id":"ord_0123456789","amount":1234,"note":"' .. pad .. '"}}'
local delay_ms = tonumber(os.getenv("DELAY_MS") or "2")
function delay() return delay_ms end
