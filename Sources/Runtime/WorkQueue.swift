#if canImport(Glibc)
import Glibc
#endif

/// A queue one consumer thread drains in batches: producers append and signal; the consumer
/// sleeps on a condition variable until there is work (or, if it asks, until a deadline),
/// then takes everything at once. That "take everything" is what makes the journal's group
/// commit and the dispatcher's batches: whatever piles up while the consumer is busy (an
/// fsync, a pass over the lanes) becomes its next batch, with no timer.
public final class WorkQueue<Item>: @unchecked Sendable {
    // Heap-allocated so the pthread objects never move.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Item] = []
    private var closed = false

    public init() {
        pthread_mutex_init(mutex, nil)
        // Timed waits measure on the monotonic clock: a wall-clock step must not stretch them.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Adds work; false (and the item is not taken) once the queue is closed.
    @discardableResult
    public func push(_ item: Item) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !closed else { return false }
        items.append(item)
        if items.count == 1 { pthread_cond_signal(condition) }
        return true
    }

    public enum Taken {
        case items([Item])
        /// `waitingAtMost` passed with nothing queued.
        case timedOut
        /// Closed, and everything queued was taken before.
        case closed
    }

    /// Waits for work, at most `waitingAtMost` microseconds when given, and takes all of it.
    public func takeAll(waitingAtMost timeout: Int64? = nil) -> Taken {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let timeout, items.isEmpty && !closed {
            let wait = max(0, timeout)
            var deadline = timespec()
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let nanoseconds = Int(deadline.tv_nsec) + Int(wait % 1_000_000) * 1000
            deadline.tv_sec += Int(wait / 1_000_000) + nanoseconds / 1_000_000_000
            deadline.tv_nsec = nanoseconds % 1_000_000_000
            while items.isEmpty && !closed {
                if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
            }
        }
        while items.isEmpty && !closed {
            if timeout != nil { return .timedOut }
            pthread_cond_wait(condition, mutex)
        }
        if items.isEmpty { return .closed }
        let taken = items
        items = []
        return .items(taken)
    }

    /// Refuses new work; the consumer still drains what was queued.
    public func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
