-- wrk script: ingest a ~300-byte JSON event into gatewayd (POST /v1/events, keep-alive),
-- the same body as post.lua, with the admin token from the environment (BENCH_TOKEN).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "bench-token")
local pad = string.rep("a", 180)
wrk.body = '{"type":"order.created","source":"bench","ts":"2024-01-01T00:00:00Z","data":{"order_id":"ord_0123456789","amount":1234,"note":"' .. pad .. '"}}'
