import Gateway

/// One subscription's deliveries at run time, owned by the dispatcher's thread: what is
/// pending in journal order, what is in flight, and the limits that decide what may go next.
final class DeliveryLane {
    struct Item {
        var sequence: UInt64
        var location: RecordLocation
        var partitionKey: String?
        var attempts: Int
        var firstAttemptAt: Int64?
        /// Not before this time (microseconds); 0 means now.
        var notBefore: Int64
        var inFlight = false
    }

    let subscriptionID: String
    /// Pending items in journal order; finished ones are removed.
    private(set) var items: [Item] = []
    private var known = Set<UInt64>()
    private(set) var inFlight = 0
    /// Consecutive failed attempts; past `breakerThreshold` the lane sends one probe at a time.
    private(set) var consecutiveFailures = 0
    /// While the circuit is open, the one delivery allowed to test the subscriber.
    private var probe: UInt64?
    private var tokens: Double = 0
    private var lastRefill: Int64 = 0

    /// Failures in a row after which the circuit opens: no burst of doomed requests, just a
    /// single probe on the retry schedule until one succeeds.
    static let breakerThreshold = 5

    init(subscriptionID: String) {
        self.subscriptionID = subscriptionID
    }

    /// Adds a delivery unless it is already here (the startup load and the live fan-out can
    /// both report one).
    func add(_ item: Item) {
        guard known.insert(item.sequence).inserted else { return }
        // Almost always appended in order; a late one from the startup load is slotted in.
        if let last = items.last, last.sequence > item.sequence {
            let position = items.firstIndex { $0.sequence > item.sequence } ?? items.count
            items.insert(item, at: position)
        } else {
            items.append(item)
        }
    }

    var isCircuitOpen: Bool { consecutiveFailures >= Self.breakerThreshold }

    /// The items to send now, marked in flight, within `maxInFlight`, the rate limit, the
    /// circuit breaker and (when `ordered`) one at a time per partition key in journal order.
    /// Also returns the earliest time something not sent now becomes due.
    func takeDue(now: Int64, maxInFlight: Int, rateLimit: Int?, ordered: Bool) -> (due: [Item], wakeAt: Int64?) {
        if isCircuitOpen, let probe, let index = items.firstIndex(where: { $0.sequence == probe }) {
            // Only the probe goes, and only when its retry is due.
            if items[index].inFlight { return ([], nil) }
            if items[index].notBefore > now { return ([], items[index].notBefore) }
            items[index].inFlight = true
            inFlight += 1
            return ([items[index]], nil)
        }
        var due: [Item] = []
        var wakeAt: Int64?
        let limit = maxInFlight
        refill(now: now, rateLimit: rateLimit)
        var blockedKeys = Set<String>()
        var blockedUnkeyed = false
        for index in items.indices {
            if inFlight >= limit { break }
            let item = items[index]
            if ordered {
                // Everything with the same key waits for the earlier one to finish.
                if let key = item.partitionKey {
                    if blockedKeys.contains(key) { continue }
                    if item.inFlight || item.notBefore > now { blockedKeys.insert(key) }
                } else {
                    if blockedUnkeyed { continue }
                    if item.inFlight || item.notBefore > now { blockedUnkeyed = true }
                }
            }
            if item.inFlight { continue }
            if item.notBefore > now {
                wakeAt = min(wakeAt ?? item.notBefore, item.notBefore)
                continue
            }
            if rateLimit != nil {
                guard tokens >= 1 else {
                    wakeAt = min(wakeAt ?? now + 1000, now + 1000)
                    break
                }
                tokens -= 1
            }
            items[index].inFlight = true
            inFlight += 1
            due.append(items[index])
            if ordered {
                if let key = item.partitionKey { blockedKeys.insert(key) } else { blockedUnkeyed = true }
            }
        }
        return (due, wakeAt)
    }

    /// A delivery finished (delivered or dead-lettered): it leaves the lane.
    func finish(_ sequence: UInt64, succeeded: Bool) {
        if let index = items.firstIndex(where: { $0.sequence == sequence }) {
            if items[index].inFlight { inFlight -= 1 }
            items.remove(at: index)
        }
        known.remove(sequence)
        if succeeded {
            consecutiveFailures = 0
            probe = nil
        } else {
            consecutiveFailures += 1
            if probe == sequence { probe = items.first { !$0.inFlight }?.sequence }
        }
    }

    /// A delivery failed and is retried at `at`.
    func reschedule(_ sequence: UInt64, attempts: Int, firstAttemptAt: Int64, at: Int64) {
        guard let index = items.firstIndex(where: { $0.sequence == sequence }) else { return }
        if items[index].inFlight { inFlight -= 1 }
        items[index].inFlight = false
        items[index].attempts = attempts
        items[index].firstAttemptAt = firstAttemptAt
        items[index].notBefore = at
        consecutiveFailures += 1
        if isCircuitOpen && probe == nil { probe = sequence }
    }

    /// Puts an in-flight item back unchanged (its request could not even be built or sent).
    func release(_ sequence: UInt64) {
        guard let index = items.firstIndex(where: { $0.sequence == sequence }), items[index].inFlight else { return }
        items[index].inFlight = false
        inFlight -= 1
    }

    /// Token bucket: `rateLimit` tokens a second, at most one second's worth banked.
    private func refill(now: Int64, rateLimit: Int?) {
        guard let rateLimit else { return }
        if lastRefill == 0 {
            tokens = Double(rateLimit)
        } else {
            tokens = min(Double(rateLimit), tokens + Double(now - lastRefill) / 1_000_000 * Double(rateLimit))
        }
        lastRefill = now
    }
}
