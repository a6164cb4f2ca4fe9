// What metrics cost on the hot paths, and the latency histogram against the ring it
// replaced: nanoseconds per call, best of ROUNDS rounds, in a release build. CPU only, a few
// seconds; run on a quiet machine. Usage: Benchmarks/metrics_cost.sh [ROUNDS=5]
#if canImport(Glibc)
import Glibc
#endif
import Delivery
import Gateway
import GatewayMetrics
import HTTPServer

let rounds = CommandLine.arguments.count > 1 ? max(1, Int(CommandLine.arguments[1]) ?? 5) : 5

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Best per-call time over the rounds.
func measure(_ name: String, calls: Int, _ body: (Int) -> Void) {
    var best = Double.infinity
    for _ in 0..<rounds {
        let start = now()
        for index in 0..<calls { body(index) }
        best = min(best, Double(now() - start) / Double(calls))
    }
    print(name.padding(toLength: 62, withPad: " ", startingAt: 0), String(format: "%9.1f ns", best))
}

/// Log-uniform durations from 100 µs to 2 s, the spread of webhook attempts.
var random = UInt64(0x9E37_79B9_7F4A_7C15)
let durations: [Int64] = (0..<4096).map { _ in
    random = random &* 6364136223846793005 &+ 1442695040888963407
    return Int64(100 * pow(20_000, Double(random >> 11) / Double(1 << 53)))
}
var sink: Int64 = 0

// MARK: - The attempt-duration ring (before) against the histograms (now)

/// The ring `DeliveryLedger` kept before (the latest 1024 durations, sorted per read).
struct DurationRing {
    var values: [Int64] = []
    var next = 0

    mutating func record(_ duration: Int64) {
        if values.count < 1024 {
            values.append(duration)
        } else {
            values[next] = duration
            next = (next + 1) % 1024
        }
    }

    func percentile(_ fraction: Double) -> Int64? {
        let sorted = values.sorted()
        return sorted.isEmpty ? nil : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction + 0.5))]
    }
}

/// In a function, on local values, as the fold holds them (not through top-level globals,
/// whose every access is checked).
@MainActor func compareRingAndHistograms() {
    var ring = DurationRing()
    measure("ring of 1024: record (before)", calls: 2_000_000) { index in ring.record(durations[index & 4095]) }
    var histograms = AttemptDurations()
    measure("AttemptDurations (HDR, 2 windows of 1024): record (now)", calls: 2_000_000) { index in
        histograms.record(durations[index & 4095])
    }
    measure("ring: p50 + p99 (sorts twice per read, before)", calls: 2_000) { _ in
        sink &+= (ring.percentile(0.5) ?? 0) &+ (ring.percentile(0.99) ?? 0)
    }
    measure("AttemptDurations: p50 + p99 (one merge per read, now)", calls: 2_000) { _ in
        let latency = histograms.percentiles([50, 99])
        sink &+= (latency[0] ?? 0) &+ (latency[1] ?? 0)
    }
}
compareRingAndHistograms()

// MARK: - Observers, as the hot paths call them

let metrics = GatewayMetrics()
var router = Router()
router.post("/v1/events") { _, _ in .response(HTTPResponse(status: 202)) }
let http = metrics.http(for: router)
measure("HTTP response observed (counter + duration histogram)", calls: 1_000_000) { index in
    http.responded(route: 0, status: 202, nanoseconds: UInt64(durations[index & 4095]) * 10)
}
/// What each loop thread runs; handed over as the thread's argument, since a C thread
/// function captures nothing (and top-level globals belong to the main actor).
final class LoopJob: @unchecked Sendable {
    let observer: any HTTPServerObserver
    let calls: Int
    init(observer: any HTTPServerObserver, calls: Int) {
        self.observer = observer
        self.calls = calls
    }
}
/// Outside the top-level code, whose closures belong to the main actor (and would trap when
/// run on another thread).
nonisolated func startLoopThread(_ job: LoopJob) -> pthread_t {
    var handle = pthread_t()
    pthread_create(&handle, nil, { argument in
        let job = Unmanaged<LoopJob>.fromOpaque(argument!).takeUnretainedValue()
        for index in 0..<job.calls { job.observer.responded(route: 0, status: 202, nanoseconds: UInt64(index & 4095) * 1000) }
        return nil
    }, Unmanaged.passUnretained(job).toOpaque())
    return handle
}
let threads = 2
let job = LoopJob(observer: http, calls: 500_000)
var wall: Double = 0
for _ in 0..<rounds {
    var handles: [pthread_t] = []
    let start = now()
    for _ in 0..<threads {
        handles.append(startLoopThread(job))
    }
    for handle in handles { pthread_join(handle, nil) }
    let perCall = Double(now() - start) / Double(threads * job.calls)
    wall = wall == 0 ? perCall : min(wall, perCall)
}
print("HTTP response observed, \(threads) threads on one route (wall / calls)".padding(toLength: 62, withPad: " ", startingAt: 0),
      String(format: "%9.1f ns", wall))
measure("event stored (type, source counter)", calls: 1_000_000) { _ in
    metrics.ingest.eventStored(type: "order.created", publisher: .source("shop"))
}
measure("journal group written + fsync observed", calls: 1_000_000) { index in
    metrics.journal.groupWritten(records: 12, bytes: 4000)
    metrics.journal.synced(nanoseconds: UInt64(durations[index & 4095]))
}
measure("delivery attempt observed (outcome counter + latency histogram)", calls: 1_000_000) { index in
    metrics.delivery.attemptFinished(.delivered, latencyMicroseconds: durations[index & 4095])
}
measure("clock_gettime(CLOCK_MONOTONIC), for scale", calls: 1_000_000) { _ in
    sink &+= Int64(now() & 1)
}
if sink == 42 { print(sink) }
