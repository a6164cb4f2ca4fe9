#if canImport(Glibc)
import Glibc
#endif

/// A queue one consumer thread drains in batches: producers append and signal; the consumer
/// sleeps on a condition variable until there is work (or, if it asks, until a deadline),
/// then takes everything at once. That "take everything" is what makes the journal's group
/// commit and the dispatcher's batches: whatever piles up while the consumer is busy (an
/// fsync, a pass over the lanes) becomes its next batch, with no timer.
public final class WorkQueue<Item>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [Item] = []
    private var closed = false

    public init() {}

    /// Adds work; false (and the item is not taken) once the queue is closed.
    @discardableResult
    public func push(_ item: Item) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return false }
        items.append(item)
        if items.count == 1 { lock.signal() }
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
        lock.lock()
        defer { lock.unlock() }
        if let timeout, items.isEmpty && !closed {
            let deadline = lock.deadline(afterMicroseconds: timeout)
            while items.isEmpty && !closed {
                if !lock.wait(until: deadline) { break }
            }
        }
        while items.isEmpty && !closed {
            if timeout != nil { return .timedOut }
            lock.wait()
        }
        if items.isEmpty { return .closed }
        let taken = items
        items = []
        return .items(taken)
    }

    /// Refuses new work; the consumer still drains what was queued.
    public func close() {
        lock.lock()
        closed = true
        lock.broadcast()
        lock.unlock()
    }
}
