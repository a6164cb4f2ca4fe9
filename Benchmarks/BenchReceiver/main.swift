// The latency benchmark's webhook receiver: our HTTPServer answering `POST /hook/{n}` with
// 200, and recording for every delivery how long after the gateway committed the event
// (the envelope's `timestamp`, microsecond precision) it arrived. On SIGTERM/SIGINT it
// prints the count and the p50/p99/max latency per path and overall.
// Usage: bench-receiver [HOST:PORT=127.0.0.1:18086]
import Gateway
import JSON
import Runtime
import HTTPServer
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

let address = try SocketAddress(parsing: CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "127.0.0.1:18086")
let latencies = Mutex<[String: [Int64]]>([:])

var router = Router()
router.post("/hook/{name}") { request, _ in
    let now = wallClockMicroseconds()
    if let envelope = try? JSONParser.parse(request.body), case .string(let stamp)? = envelope["timestamp"],
       let committed = Timestamp.parse(stamp) {
        let name = request.pathParameters["name"] ?? "?"
        latencies.withLock { $0[name, default: []].append(now - committed) }
    }
    return .response(HTTPResponse(status: 200))
}

var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGTERM)
sigaddset(&signals, SIGINT)
pthread_sigmask(SIG_BLOCK, &signals, nil)

var configuration = HTTPServerConfiguration(address: address)
configuration.eventLoopCount = 1
let server = HTTPServer(configuration: configuration, responder: router, logger: Logger(label: "bench-receiver"))
try server.start()
var received: Int32 = 0
sigwait(&signals, &received)
server.shutdown(gracePeriod: .seconds(1))
server.wait()

func report(_ name: String, _ values: [Int64]) {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return print("\(name): no deliveries") }
    func at(_ fraction: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]) / 1000 }
    print("\(name): \(sorted.count) deliveries, p50 \(at(0.5)) ms, p99 \(at(0.99)) ms, max \(at(1)) ms")
}
let all = latencies.withLock { $0 }
for name in all.keys.sorted() { report("/hook/\(name)", all[name]!) }
report("all", all.values.flatMap { $0 })
