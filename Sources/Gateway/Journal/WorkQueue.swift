#if canImport(Glibc)
import Glibc
#endif

/// A queue one consumer thread drains in batches: producers append and signal; the consumer
/// sleeps on a condition variable until there is work, then takes everything at once. That
/// "take everything" is what makes group commit: whatever piles up while the consumer is busy
/// (an fsync) becomes its next batch, with no timer.
final class WorkQueue<Item>: @unchecked Sendable {
    // Heap-allocated so the pthread objects never move.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Item] = []
    private var closed = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Adds work; false (and the item is not taken) once the queue is closed.
    func push(_ item: Item) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !closed else { return false }
        items.append(item)
        if items.count == 1 { pthread_cond_signal(condition) }
        return true
    }

    /// Waits for work and takes all of it; an empty result means closed and drained.
    func takeAll() -> [Item] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while items.isEmpty && !closed {
            pthread_cond_wait(condition, mutex)
        }
        let taken = items
        items = []
        return taken
    }

    /// Refuses new work; the consumer still drains what was queued.
    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
