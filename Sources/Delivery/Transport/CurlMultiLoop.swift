import Runtime
#if canImport(Glibc)
import Glibc
#endif
import CCurl
import Logging

/// The engine thread: owns the multi handle's use, the easy-handle pool and the requests
/// waiting for a free slot. Nothing here is touched by any other thread.
final class CurlMultiLoop {
    private let shared: CurlMultiShared
    private let multi: UnsafeMutableRawPointer
    private let onCompletions: @Sendable ([DeliveryResult]) -> Void
    private let logger: Logger
    private let connectTimeout: Duration
    private let timeout: Duration
    private let maxConcurrentTransfers: Int
    private var pool: CurlEasyPool
    /// Swapped with the shared queue on every drain, so neither side reallocates.
    private var incoming: [DeliveryRequest] = []
    /// Requests beyond `maxConcurrentTransfers`, started in order.
    private var waiting = ChunkedQueue<DeliveryRequest>()
    /// Requests for a host that has as many transfers running as it may have connections.
    private var hosts: HostGate
    /// Held requests whose host freed a slot, started at the next step.
    private var released: [DeliveryRequest] = []
    /// Results gathered for the next `onCompletions` call; its buffer is reused.
    private var results: [DeliveryResult] = []

    /// How long one `curl_multi_poll` may sleep when libcurl has no earlier timeout of its
    /// own; a submit or a stop wakes it at once, so this only bounds an idle engine's naps.
    private static let idlePollMilliseconds: Int32 = 1000

    init(shared: CurlMultiShared, configuration: CurlMultiEngine.Configuration, logger: Logger,
         onCompletions: @escaping @Sendable ([DeliveryResult]) -> Void) {
        self.shared = shared
        multi = shared.multi
        self.onCompletions = onCompletions
        self.logger = logger
        connectTimeout = configuration.connectTimeout
        timeout = configuration.timeout
        maxConcurrentTransfers = max(1, configuration.maxConcurrentTransfers)
        hosts = HostGate(limit: configuration.maxConnectionsPerHost)
        pool = CurlEasyPool(options: CurlTransfer.Options(
            userAgent: configuration.userAgent,
            responseBodyLimit: configuration.responseBodyLimit,
            addressCheck: configuration.addressCheck
        ))
    }

    func run() {
        while true {
            let stopDeadline = drain()
            if let stopDeadline {
                failWaiting()
                if pool.activeCount == 0 || ContinuousClock.now >= stopDeadline {
                    abandonActive()
                    deliver()
                    break
                }
            } else {
                startWaiting()
            }
            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            if performed != CURLM_OK {
                logger.error("curl_multi_perform failed", metadata: ["error": "\(String(cString: curl_multi_strerror(performed)))"])
            }
            let reaped = reap()
            deliver()
            // Freed slots go to waiting requests now, not after the next poll's sleep; after
            // a stop, the last transfer done ends the loop at once.
            if reaped > 0 && (waiting.first != nil || !released.isEmpty || stopDeadline != nil) { continue }
            poll(until: stopDeadline)
        }
        pool.removeAll()
    }

    // MARK: - Steps

    /// Moves newly submitted requests to `waiting`; returns the stop deadline once stopped.
    private func drain() -> ContinuousClock.Instant? {
        let stopDeadline = shared.state.withLock { state in
            swap(&state.queue, &incoming)
            return state.stopDeadline
        }
        if !incoming.isEmpty {
            incoming.forEach { waiting.push($0) }
            incoming.removeAll(keepingCapacity: true)
        }
        return stopDeadline
    }

    private func startWaiting() {
        // A held request takes the slot its host's finished transfer left, before anything new.
        while !released.isEmpty {
            let due = released
            released = []
            due.forEach(start)
        }
        while pool.activeCount < maxConcurrentTransfers, let next = waiting.first {
            waiting.popFirst()
            if hosts.admit(next) { start(next) }
        }
    }

    /// A started request ended (or never got going): its host's slot goes to the next one held.
    private func ended(_ tag: UInt64) {
        if let next = hosts.finished(tag) { released.append(next) }
    }

    private func start(_ request: DeliveryRequest) {
        let transfer: CurlTransfer
        do {
            transfer = try pool.acquire()
        } catch {
            results.append(Self.failure(request.tag, DeliveryError(kind: .other, message: "could not create a libcurl handle: \(error.message)")))
            ended(request.tag)
            return
        }
        if let error = transfer.prepare(
            request,
            connectTimeoutMilliseconds: Self.milliseconds(request.connectTimeout ?? connectTimeout),
            timeoutMilliseconds: Self.milliseconds(request.timeout ?? timeout)
        ) {
            pool.release(transfer)
            results.append(Self.failure(request.tag, error))
            ended(request.tag)
            return
        }
        let added = curl_multi_add_handle(multi, transfer.handle)
        guard added == CURLM_OK else {
            let message = "curl_multi_add_handle failed: \(String(cString: curl_multi_strerror(added)))"
            results.append(transfer.abandon(DeliveryError(kind: .other, message: message), now: .now))
            pool.release(transfer)
            ended(request.tag)
            return
        }
    }

    /// Collects every finished transfer; returns how many there were.
    private func reap() -> Int {
        var remaining: Int32 = 0
        var now: ContinuousClock.Instant?
        var count = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            // The message is libcurl's memory and dies with remove_handle: read it first.
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            var context: UnsafeMutableRawPointer?
            _ = ccurl_easy_getinfo_ptr(easy, CURLINFO_PRIVATE, &context)
            curl_multi_remove_handle(multi, easy)
            guard let context else { continue }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            let at = now ?? .now
            now = at
            let result = transfer.finish(code: code, now: at)
            results.append(result)
            pool.release(transfer)
            ended(result.tag)
            count += 1
        }
        return count
    }

    private func deliver() {
        guard !results.isEmpty else { return }
        var failures = 0
        for result in results where result.error != nil { failures += 1 }
        // Counted before the callback, so whoever it signals sees counters that include these.
        shared.completed.add(results.count - failures, ordering: .relaxed)
        shared.failed.add(failures, ordering: .relaxed)
        shared.inFlight.subtract(results.count, ordering: .relaxed)
        onCompletions(results)
        results.removeAll(keepingCapacity: true)
    }

    private func poll(until stopDeadline: ContinuousClock.Instant?) {
        var wait = Self.idlePollMilliseconds
        if let stopDeadline {
            wait = Int32(clamping: min(Int(wait), Self.milliseconds(ContinuousClock.now.duration(to: stopDeadline))))
        }
        // libcurl shortens the wait to its own next timeout (a transfer's deadline, a retry).
        let polled = curl_multi_poll(multi, nil, 0, wait, nil)
        if polled != CURLM_OK {
            logger.error("curl_multi_poll failed", metadata: ["error": "\(String(cString: curl_multi_strerror(polled)))"])
            usleep(10_000) // Do not spin if the failure repeats.
        }
    }

    // MARK: - Stopping

    private func failWaiting() {
        let error = DeliveryError(kind: .stopped, message: "engine stopped before the delivery started")
        while let next = waiting.first {
            waiting.popFirst()
            results.append(Self.failure(next.tag, error))
        }
        for next in released + hosts.takeAllHeld() { results.append(Self.failure(next.tag, error)) }
        released = []
    }

    private func abandonActive() {
        let error = DeliveryError(kind: .stopped, message: "engine stopped before the delivery finished")
        let now = ContinuousClock.now
        for transfer in pool.active {
            curl_multi_remove_handle(multi, transfer.handle)
            results.append(transfer.abandon(error, now: now))
            pool.release(transfer)
        }
    }

    // MARK: - Helpers

    private static func failure(_ tag: UInt64, _ error: DeliveryError) -> DeliveryResult {
        DeliveryResult(tag: tag, status: nil, error: error, duration: .zero, responseBody: [], retryAfter: nil)
    }

    /// Whole milliseconds, rounded up and at least 1: libcurl reads 0 as "no timeout".
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 1 }
        // A month is as good as forever for a webhook, and keeps the arithmetic in range.
        guard seconds < 30 * 86_400 else { return 30 * 86_400 * 1000 }
        return max(1, Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
    }
}
