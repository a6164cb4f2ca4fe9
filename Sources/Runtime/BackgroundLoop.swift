#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A thread of its own that runs `round` every `interval` (microseconds), or sooner when
/// nudged, until stopped: the shape of the gateway's background work (history maintenance,
/// replays), so each is only its round.
public final class BackgroundLoop: Sendable {
    private let name: String
    private let interval: Int64
    private let lowPriority: Bool
    private let wakeups = WorkQueue<Bool>()
    private let thread = Mutex<pthread_t?>(nil)

    /// `lowPriority` runs the thread at nice 10: work that is never urgent then waits for the
    /// request and delivery threads rather than take a core from them.
    public init(name: String, interval: Int64, lowPriority: Bool = false) {
        self.name = name
        self.interval = max(1000, interval)
        self.lowPriority = lowPriority
    }

    public func start(_ round: @escaping @Sendable () -> Void) throws(SystemError) {
        let handle = try spawnThread(name: name) { [self] in
            if lowPriority { lowerCurrentThreadPriority() }
            while true {
                if case .closed = wakeups.takeAll(waitingAtMost: interval) { return }
                round()
            }
        }
        thread.withLock { $0 = handle }
    }

    /// Runs a round now rather than at the next tick.
    public func nudge() { _ = wakeups.push(true) }

    /// Stops after the round in progress, if any, and waits for the thread to end.
    public func stop() {
        wakeups.close()
        if let handle = thread.withLock({ current -> pthread_t? in
            defer { current = nil }
            return current
        }) {
            pthread_join(handle, nil)
        }
    }
}
