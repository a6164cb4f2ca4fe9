#if canImport(Glibc)
import Glibc
#endif

/// A fixed number of threads for blocking work that must stay off the event loops (a DNS
/// lookup can wait for seconds), with a bounded queue in front of them: when `capacity`
/// jobs already wait, `submit` refuses at once instead of piling up threads or memory, so
/// a burst of slow work degrades into quick refusals rather than an unbounded backlog.
public final class WorkerPool: @unchecked Sendable {
    public typealias Job = @Sendable () -> Void

    private let lock = ConditionLock()
    private var jobs = ChunkedQueue<Job>()
    private var queued = 0
    private var closed = false
    private var threads: [pthread_t] = []
    /// Jobs that may wait for a thread; one more is refused.
    public let capacity: Int

    /// Starts `threads` threads named `name-N`.
    public init(name: String, threads count: Int, capacity: Int) throws(SystemError) {
        self.capacity = max(0, capacity)
        for index in 0..<max(1, count) {
            threads.append(try spawnThread(name: "\(name)-\(index)") { [self] in work() })
        }
    }

    /// Queues `job`; false (and it is not run) when `capacity` jobs already wait or the pool
    /// is shut down.
    @discardableResult
    public func submit(_ job: @escaping Job) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !closed, queued < capacity else { return false }
        jobs.push(job)
        queued += 1
        lock.signal()
        return true
    }

    /// Runs what is queued, then stops the threads and waits for them.
    public func shutdown() {
        lock.lock()
        closed = true
        lock.broadcast()
        let running = threads
        threads = []
        lock.unlock()
        for thread in running { pthread_join(thread, nil) }
    }

    private func work() {
        while true {
            lock.lock()
            while queued == 0 && !closed { lock.wait() }
            guard let job = jobs.first else {
                lock.unlock()
                return
            }
            jobs.popFirst()
            queued -= 1
            lock.unlock()
            job()
        }
    }
}
