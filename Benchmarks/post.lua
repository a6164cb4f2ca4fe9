-- wrk script: POST a ~300-byte JSON event (keep-alive is wrk's default).
-- The same body as the reference benchmarks, so figures compare across runs.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local pad = string.rep("a", 180)
wrk.body = '{"type":"order.created","source":"bench","ts":"2024-01-01T00:00:00Z","data":{"order_id":"ord_0123456789","amount":1234,"note":"' .. pad .. '"}}'
function init(args) if not _G.__printed then io.stderr:write("body bytes: " .. #wrk.body .. "\n"); _G.__printed = true end end
