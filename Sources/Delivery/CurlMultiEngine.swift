#if canImport(Glibc)
import Glibc
#endif
import CCurl
import HTTPServer
import Logging
import Synchronization

/// The delivery transport: webhook POSTs over libcurl's multi interface, all on one thread.
///
/// That thread alone calls `curl_multi_*` and owns every easy handle. `submit` may be called
/// from any thread: it appends to a queue under a lock and, when the queue was empty, wakes
/// the thread with `curl_multi_wakeup`. The thread loops `curl_multi_perform` +
/// `curl_multi_poll`, reaps finished transfers with `curl_multi_info_read` and hands their
/// results, in batches, to the `onCompletions` callback. No `Task` or Dispatch work item per
/// delivery; easy handles and their buffers are pooled, connections are kept per host by the
/// one multi handle.
///
/// `onCompletions` runs on the engine thread, between transfers: every transfer waits while
/// it runs, so it must only record the results (append them to a queue, signal a scheduler)
/// and return. It may call `submit`, and `shutdown`, which then does not wait.
///
/// Call `shutdown()` when done: the thread holds `onCompletions`, so an engine that is merely
/// dropped keeps running while anything it captured keeps it alive.
public final class CurlMultiEngine: Sendable {
    /// Every limit and timeout of the engine, with its default.
    public struct Configuration: Sendable {
        /// Time to resolve, connect and finish the TLS handshake (`CURLOPT_CONNECTTIMEOUT_MS`).
        public var connectTimeout: Duration = .seconds(5)
        /// Time for the whole exchange, connecting included (`CURLOPT_TIMEOUT_MS`).
        public var timeout: Duration = .seconds(30)
        /// Transfers running at once; more wait in the engine's queue, costing no handle.
        /// Also the most easy handles the pool will hold.
        public var maxConcurrentTransfers: Int = 1024
        /// Open connections to one host (`CURLMOPT_MAX_HOST_CONNECTIONS`); transfers beyond it
        /// wait inside libcurl for a free connection. 0 is no limit.
        public var maxConnectionsPerHost: Int = 64
        /// Open connections in all (`CURLMOPT_MAX_TOTAL_CONNECTIONS`). 0 is no limit.
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

    private let shared: CurlMultiShared
    private let thread: pthread_t
    private let joined = Mutex(false)

    /// Starts the engine thread. `onCompletions` receives each finished batch on that thread.
    public init(
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "delivery.curl-multi"),
        onCompletions: @escaping @Sendable (_ results: [DeliveryResult]) -> Void
    ) throws(StartError) {
        // With CURLOPT_NOSIGNAL libcurl leaves SIGPIPE alone; a write to a peer that reset
        // (inside TLS, where MSG_NOSIGNAL cannot reach) must be an error, not the process's end.
        signal(SIGPIPE, SIG_IGN)
        guard Libcurl.initialize(), let multi = curl_multi_init() else {
            throw StartError(description: "libcurl could not be initialised")
        }
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
        let loop = CurlMultiLoop(shared: shared, configuration: configuration, logger: logger, onCompletions: onCompletions)
        do {
            thread = try spawnThread(name: "curl-engine") { loop.run() }
        } catch {
            throw StartError(description: "could not start the engine thread: \(error)")
        }
        self.shared = shared
    }

    deinit {
        if pthread_equal(pthread_self(), thread) != 0 {
            // The last reference went inside `onCompletions`: the thread cannot join itself.
            shared.stop(deadline: .now)
            pthread_detach(thread)
        } else {
            shutdown()
        }
    }

    /// Queues `request`; its result will reach `onCompletions`. False after `shutdown`.
    public func submit(_ request: DeliveryRequest) -> Bool {
        shared.enqueue { $0.append(request) }
    }

    /// Queues all `requests` with one lock and at most one wake-up. False after `shutdown`.
    public func submit(_ requests: [DeliveryRequest]) -> Bool {
        shared.enqueue { $0.append(contentsOf: requests) }
    }

    /// Stops the engine and waits for its thread. Requests not yet started, and transfers
    /// still running when `gracePeriod` ends, finish with a `.stopped` error; `onCompletions`
    /// receives every result before this returns. Later `submit`s return false. Called from
    /// `onCompletions`, it only begins the stop (the thread cannot wait for itself).
    public func shutdown(gracePeriod: Duration = .zero) {
        shared.stop(deadline: .now + gracePeriod)
        guard pthread_equal(pthread_self(), thread) == 0 else { return }
        joined.withLock { joined in
            guard !joined else { return }
            pthread_join(thread, nil)
            joined = true
        }
    }

    public var statistics: Statistics {
        Statistics(
            inFlight: shared.inFlight.load(ordering: .relaxed),
            completed: shared.completed.load(ordering: .relaxed),
            failed: shared.failed.load(ordering: .relaxed)
        )
    }
}

/// What the engine's callers and its thread share: the request queue, the counters, and the
/// multi handle, which lives until both are gone so a late `curl_multi_wakeup` stays safe.
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
