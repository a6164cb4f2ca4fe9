#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex and a condition variable whose timed waits run on the monotonic clock (a
/// wall-clock step must not stretch them): what the work queues need to let a thread sleep
/// until there is work. Heap-allocated so the pthread objects never move.
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
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

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func signal() { pthread_cond_signal(condition) }
    func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits for a signal, the lock held on entry and on return.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// The monotonic time `microseconds` from now, for `wait(until:)`.
    func deadline(afterMicroseconds microseconds: Int64) -> timespec {
        let wait = max(0, microseconds)
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(wait % 1_000_000) * 1000
        deadline.tv_sec += Int(wait / 1_000_000) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        return deadline
    }

    /// Waits for a signal until `deadline`; false when the deadline passed first.
    func wait(until deadline: timespec) -> Bool {
        var deadline = deadline
        return pthread_cond_timedwait(condition, mutex, &deadline) != ETIMEDOUT
    }
}
