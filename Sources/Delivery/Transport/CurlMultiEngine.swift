import Runtime
import TargetPolicy
#if canImport(Glibc)
import Glibc
#endif
import CCurl
import Logging
import Synchronization

/// The delivery transport: webhook POSTs over libcurl's multi interface, on a few transfer
/// threads (`Configuration.threads`), each with its own multi handle.
///
/// Each thread alone calls `curl_multi_*` on its handle and owns its easy handles. `submit`
/// may be called from any thread: it gives a small batch to the least busy transfer thread
/// and splits a large one over them, appends each share to that thread's queue under a lock
/// and, when the queue was empty, wakes it with `curl_multi_wakeup`. A thread loops
/// `curl_multi_perform` + `curl_multi_poll`, reaps finished transfers with
/// `curl_multi_info_read` and hands their results, in batches, to the `onCompletions`
/// callback. No `Task` or Dispatch work item per delivery; easy handles
/// and their buffers are pooled, connections are kept per host by each multi handle.
///
/// A libcurl thread spends most of a POST in the kernel and in libcurl itself (BENCHMARKS.md,
/// fan-out), so one thread is the ceiling of a single busy subscription; two use the second
/// core.
///
/// `onCompletions` runs on a transfer thread, between transfers: every transfer of that
/// thread waits while it runs, so it must only record the results (append them to a queue,
/// signal a scheduler) and return. Different threads may call it at the same time. It may
/// call `submit`, and `shutdown`, which then does not wait.
///
/// Call `shutdown()` when done: the threads hold `onCompletions`, so an engine that is
/// merely dropped keeps running while anything it captured keeps it alive.
public final class CurlMultiEngine: Sendable {
    /// Every limit and timeout of the engine, with its default.
    public struct Configuration: Sendable {
        /// Time to resolve, connect and finish the TLS handshake (`CURLOPT_CONNECTTIMEOUT_MS`).
        public var connectTimeout: Duration = .seconds(5)
        /// Time for the whole exchange, connecting included (`CURLOPT_TIMEOUT_MS`).
        public var timeout: Duration = .seconds(30)
        /// Transfer threads, each with its own multi handle, connections and limits below.
        public var threads: Int = 2
        /// Transfers running at once, per thread; more wait in its queue, costing no handle.
        /// Also the most easy handles its pool will hold.
        public var maxConcurrentTransfers: Int = 1024
        /// Open connections to one host, per thread (`CURLMOPT_MAX_HOST_CONNECTIONS`);
        /// transfers beyond it wait inside libcurl for a free connection. 0 is no limit.
        public var maxConnectionsPerHost: Int = 64
        /// Open connections in all, per thread (`CURLMOPT_MAX_TOTAL_CONNECTIONS`). 0 is no limit.
        public var maxConnections: Int = 1024
        /// Idle connections kept for reuse (`CURLMOPT_MAXCONNECTS`); the least recently used
        /// beyond it are closed.
        public var maxIdleConnections: Int = 1024
        /// Bytes of each response body kept in `DeliveryResult.responseBody`.
        public var responseBodyLimit: Int = 1024
        public var userAgent: String = "webhook-gateway"
        /// Judges every address before a connection is opened to it (the DNS-rebinding
        /// defence); nil connects anywhere. A refusal fails the delivery as `.blocked`.
        public var addressCheck: AddressCheck?

        public init() {}
    }

    /// Counts since the engine started, for metrics.
    public struct Statistics: Sendable, Equatable {
        /// Submitted and not yet handed to `onCompletions` (queued or running).
        public var inFlight: Int
        /// Finished with a complete HTTP response, whatever its status.
        public var completed: Int
        /// Finished with an error (including those ended by `shutdown`).
        public var failed: Int
    }

    /// Why the engine could not start.
    public struct StartError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    private let shareds: [CurlMultiShared]
    private let threads: [pthread_t]
    private let joined = Mutex(false)
    /// Where the next single `submit` goes.
    private let nextThread = Atomic(0)

    /// Starts the transfer threads. `onCompletions` receives each finished batch on one of them.
    public init(
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "delivery.curl-multi"),
        onCompletions: @escaping @Sendable (_ results: [DeliveryResult]) -> Void
    ) throws(StartError) {
        // With CURLOPT_NOSIGNAL libcurl leaves SIGPIPE alone; a write to a peer that reset
        // (inside TLS, where MSG_NOSIGNAL cannot reach) must be an error, not the process's end.
        signal(SIGPIPE, SIG_IGN)
        guard Libcurl.initialize() else { throw StartError(description: "libcurl could not be initialised") }
        var shareds: [CurlMultiShared] = []
        var threads: [pthread_t] = []
        do throws(StartError) {
            for index in 0..<max(1, configuration.threads) {
                let shared = try Self.makeShared(configuration)
                let loop = CurlMultiLoop(shared: shared, configuration: configuration, logger: logger, onCompletions: onCompletions)
                do {
                    threads.append(try spawnThread(name: "curl-engine-\(index)") { loop.run() })
                } catch {
                    throw StartError(description: "could not start a transfer thread: \(error)")
                }
                shareds.append(shared)
            }
        } catch {
            // Those already running stop; nothing was submitted to them.
            for shared in shareds { shared.stop(deadline: .now) }
            for thread in threads { pthread_join(thread, nil) }
            throw error
        }
        self.shareds = shareds
        self.threads = threads
    }

    private static func makeShared(_ configuration: Configuration) throws(StartError) -> CurlMultiShared {
        guard let multi = curl_multi_init() else { throw StartError(description: "libcurl could not be initialised") }
        let shared = CurlMultiShared(multi: multi)
        for (option, value) in [
            (CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost),
            (CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.maxConnections),
            (CURLMOPT_MAXCONNECTS, configuration.maxIdleConnections),
        ] {
            let code = ccurl_multi_setopt_long(multi, option, max(0, value))
            guard code == CURLM_OK else {
                throw StartError(description: "curl_multi_setopt(\(option.rawValue)) failed: \(String(cString: curl_multi_strerror(code)))")
            }
        }
        return shared
    }

    private var onTransferThread: Bool {
        threads.contains { pthread_equal(pthread_self(), $0) != 0 }
    }

    deinit {
        // After a join the ids may belong to new threads: never compare or detach them then.
        if joined.withLock({ $0 }) { return }
        if onTransferThread {
            // The last reference went inside `onCompletions`: a thread cannot join itself.
            for shared in shareds { shared.stop(deadline: .now) }
            for thread in threads { pthread_detach(thread) }
        } else {
            shutdown()
        }
    }

    /// Batches up to this size go whole to the least busy thread (one wake-up, not one per
    /// thread); larger ones are split evenly. Completions come back a few at a time and are
    /// replaced by as many new requests: splitting each of those woke both threads for a
    /// couple of requests apiece: 0.44 context switches per delivery across gatewayd and nginx,
    /// against 0.34 this way (`Benchmarks/fanout.sh`'s set-up). Taking turns instead gave
    /// back most of those switches: the least busy thread is usually the one whose
    /// completions prompted the batch, still awake. Transfers waiting on a slow subscriber
    /// count as busy too, which tilts other work to the other thread; the isolation
    /// benchmark showed no cost from it (0.97).
    static let wholeBatchLimit = 16

    /// Queues `request`; its result will reach `onCompletions`. False after `shutdown`.
    public func submit(_ request: DeliveryRequest) -> Bool {
        let index = nextThread.wrappingAdd(1, ordering: .relaxed).oldValue % shareds.count
        return shareds[index].enqueue { $0.append(request) }
    }

    /// Queues all `requests`: a small batch whole on the thread with the fewest transfers in
    /// flight, a larger one split evenly over the threads (each share in order, with one lock
    /// and at most one wake-up). False after `shutdown`.
    public func submit(_ requests: [DeliveryRequest]) -> Bool {
        guard shareds.count > 1, requests.count > 1 else {
            let index = nextThread.wrappingAdd(1, ordering: .relaxed).oldValue % shareds.count
            return shareds[index].enqueue { $0.append(contentsOf: requests) }
        }
        if requests.count <= Self.wholeBatchLimit {
            var index = 0
            for candidate in shareds.indices.dropFirst()
            where shareds[candidate].inFlight.load(ordering: .relaxed) < shareds[index].inFlight.load(ordering: .relaxed) {
                index = candidate
            }
            return shareds[index].enqueue { $0.append(contentsOf: requests) }
        }
        let share = (requests.count + shareds.count - 1) / shareds.count
        // Rotate which thread takes the first (larger) share of an uneven split.
        let first = nextThread.wrappingAdd(1, ordering: .relaxed).oldValue
        var accepted = true
        for (offset, start) in stride(from: 0, to: requests.count, by: share).enumerated() {
            let slice = requests[start..<min(start + share, requests.count)]
            accepted = shareds[(first + offset) % shareds.count].enqueue { $0.append(contentsOf: slice) } && accepted
        }
        return accepted
    }

    /// Stops the engine and waits for its threads. Requests not yet started, and transfers
    /// still running when `gracePeriod` ends, finish with a `.stopped` error; `onCompletions`
    /// receives every result before this returns. Later `submit`s return false. Called from
    /// `onCompletions`, it only begins the stop (a thread cannot wait for itself).
    public func shutdown(gracePeriod: Duration = .zero) {
        for shared in shareds { shared.stop(deadline: .now + gracePeriod) }
        guard !onTransferThread else { return }
        joined.withLock { joined in
            guard !joined else { return }
            for thread in threads { pthread_join(thread, nil) }
            joined = true
        }
    }

    public var statistics: Statistics {
        shareds.reduce(Statistics(inFlight: 0, completed: 0, failed: 0)) { sum, shared in
            Statistics(
                inFlight: sum.inFlight + shared.inFlight.load(ordering: .relaxed),
                completed: sum.completed + shared.completed.load(ordering: .relaxed),
                failed: sum.failed + shared.failed.load(ordering: .relaxed)
            )
        }
    }
}

/// What the engine's callers and one transfer thread share: the request queue, the counters,
/// and the multi handle, which lives until both are gone so a late `curl_multi_wakeup` stays
/// safe.
final class CurlMultiShared: Sendable {
    struct State {
        var queue: [DeliveryRequest] = []
        /// Set once by `stop`: when running transfers are abandoned.
        var stopDeadline: ContinuousClock.Instant?
    }

    let state = Mutex(State())
    let inFlight = Atomic(0)
    let completed = Atomic(0)
    let failed = Atomic(0)
    /// `curl_multi_wakeup` is the one multi call documented as safe from any thread; every
    /// other use of this handle is on the engine thread.
    nonisolated(unsafe) let multi: UnsafeMutableRawPointer

    init(multi: UnsafeMutableRawPointer) {
        self.multi = multi
    }

    deinit {
        curl_multi_cleanup(multi)
    }

    func enqueue(_ add: (inout [DeliveryRequest]) -> Void) -> Bool {
        let wake: Bool? = state.withLock { state in
            guard state.stopDeadline == nil else { return nil }
            let wasEmpty = state.queue.isEmpty
            let before = state.queue.count
            add(&state.queue)
            // Counted under the lock, so the engine thread cannot report these done first.
            inFlight.add(state.queue.count - before, ordering: .relaxed)
            return wasEmpty && !state.queue.isEmpty
        }
        guard let wake else { return false }
        // A non-empty queue means a wake-up is already on its way and the thread has not
        // drained yet: one wake serves every request queued in between.
        if wake { curl_multi_wakeup(multi) }
        return true
    }

    func stop(deadline: ContinuousClock.Instant) {
        let first = state.withLock { state in
            guard state.stopDeadline == nil else { return false }
            state.stopDeadline = deadline
            return true
        }
        if first { curl_multi_wakeup(multi) }
    }
}
