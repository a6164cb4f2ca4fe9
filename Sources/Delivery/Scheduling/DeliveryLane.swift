import Gateway

/// One subscription's deliveries at run time, owned by the dispatcher's thread: what is
/// pending in journal order, what is in flight, and the limits that decide what may go next.
///
/// Only a window of the never-attempted deliveries is held as full items (`windowSize`);
/// beyond it, they wait in a compact backlog (event references, 32 bytes each) and
/// move into the window as it drains. A subscriber that is down for a million events costs
/// tens of megabytes, not hundreds. Deliveries waiting for a retry stay in the window
/// without counting against it, so a subscriber that rejects some events never stalls the
/// rest. The backlog is the lane's own, fed only through `add`, so nothing is read back from
/// the ledger and no delivery can be queued twice.
final class DeliveryLane {
    struct Item {
        var event: EventReference
        var partitionKey: String?
        var attempts: Int
        var firstAttemptAt: Int64?
        /// Not before this time (monotonic microseconds, like every time a lane is given); 0 means now.
        var notBefore: Int64
        var inFlight = false
        /// Owed since the event's own commit (not since a later redelivery, resend or
        /// replay): its delivery latency counts from that commit (`DeliveryObserver`).
        var owedSinceCommit = true

        var sequence: UInt64 { event.sequence }
        var isFresh: Bool { attempts == 0 && firstAttemptAt == nil && notBefore == 0 }
    }

    let subscriptionID: String
    /// Pending items by sequence, and their journal order. Finished sequences stay in
    /// `order` until the head passes them, so finishing one never shifts the queue.
    private var items: [UInt64: Item] = [:]
    private var order: [UInt64] = []
    private var head = 0
    /// Fresh deliveries beyond the window, in journal order; `backlogHead` is the next one.
    private var backlog: [EventReference] = []
    private var backlogHead = 0
    let windowSize: Int
    /// False once an item entered the window without its partition key looked up (the lane
    /// was not ordered then); an ordered pass looks them all up first, so a subscription
    /// switched to `ordered` keeps its keys in order from then on.
    private var keysKnown = true
    /// Items in the window never attempted yet: what `windowSize` bounds.
    private(set) var freshInWindow = 0
    private(set) var inFlight = 0
    /// Consecutive failed attempts; past `breakerThreshold` the lane sends one probe at a time.
    private(set) var consecutiveFailures = 0
    /// While the circuit is open, the one delivery allowed to test the subscriber.
    private var probe: UInt64?
    /// Set while the dispatcher's disabling of this lane's subscription (after a 410) is on
    /// its way to the journal: the lane sends nothing until that append is done and folded,
    /// so no delivery slips out to the gone endpoint in between.
    var heldForDisable = false
    /// Set while the dispatcher lists this lane among those with work (`WebhookDispatcher`).
    var listedBusy = false
    /// When the dispatcher put the lane to sleep until (a retry, the rate limit, a probe).
    var sleepingUntil: Int64?
    /// The subscription's own `rateLimit`.
    private let ownRate = TokenBucket()

    /// Failures in a row after which the circuit opens: no burst of doomed requests, just a
    /// single probe on the retry schedule until one succeeds.
    static let breakerThreshold = 5

    /// Never-attempted deliveries held as full items; far above the largest `maxInFlight`
    /// (1000).
    public static let defaultWindowSize = 10_000

    /// How far past `windowSize` an ordered lane pulls from the backlog when nothing in its
    /// window may go (every key there waits for an earlier delivery), so that other keys
    /// behind a long run of one blocked key still proceed.
    static let orderedLookAheadFactor = 10

    /// Reads a delivery's partition key from its event, for an ordered lane that was not
    /// told it (the startup load, the backlog, a redelivered dead letter); `unreadableKey`
    /// when the event cannot be read now.
    private let partitionKeyAt: (EventReference) -> String?

    /// The key of a delivery whose event could not be read (its store unreachable for a
    /// moment): in an ordered lane nothing after it may go, since any later delivery could
    /// share its key, until a later pass reads it. Not a key an event can have (NUL).
    static let unreadableKey = "\u{0}unreadable"
    /// Deliveries whose key was unreadable, read again at each pass of an ordered lane.
    private var unreadable = false

    init(
        subscriptionID: String, windowSize: Int = DeliveryLane.defaultWindowSize,
        partitionKeyAt: @escaping (EventReference) -> String?
    ) {
        self.subscriptionID = subscriptionID
        self.windowSize = max(1, windowSize)
        self.partitionKeyAt = partitionKeyAt
    }

    var pendingCount: Int { items.count + backlog.count - backlogHead }
    var backlogCount: Int { backlog.count - backlogHead }
    /// Entries in the journal-order index, finished ones not yet dropped included (tests).
    var orderCount: Int { order.count - head }

    /// Adds a delivery unless it is already here (the startup load and the live fan-out can
    /// both report one). Fresh deliveries newer than everything held queue behind the
    /// backlog once the window is full; ones already attempted (from the startup load), and
    /// older ones (a redelivered dead letter), join the window. In an `ordered` lane a nil
    /// `partitionKey` means "not known yet".
    func add(_ item: Item, ordered: Bool) {
        guard items[item.sequence] == nil else { return }
        if backlogHead < backlog.count, item.sequence <= backlog[backlog.count - 1].sequence {
            // Behind the backlog's tail: a repeat from the startup load, or a redelivered
            // dead letter, which goes straight into the window.
            if backlogContains(item.sequence) { return }
        } else if item.isFresh, item.sequence > (order.last ?? 0),
                  freshInWindow >= windowSize || backlogHead < backlog.count {
            backlog.append(item.event)
            return
        }
        var item = item
        if item.partitionKey == nil {
            if ordered { item.partitionKey = partitionKeyAt(item.event) } else { keysKnown = false }
        }
        if item.partitionKey == Self.unreadableKey { unreadable = true }
        insertIntoWindow(item)
    }

    private func backlogContains(_ sequence: UInt64) -> Bool {
        let index = Self.firstIndex(notBelow: sequence, in: backlogHead..<backlog.count) { backlog[$0].sequence }
        return index < backlog.count && backlog[index].sequence == sequence
    }

    /// Binary search over positions `range` whose sequences ascend: the first one holding a
    /// sequence not below `sequence`, or `range.upperBound`.
    private static func firstIndex(notBelow sequence: UInt64, in range: Range<Int>, sequenceAt: (Int) -> UInt64) -> Int {
        var low = range.lowerBound, high = range.upperBound
        while low < high {
            let middle = (low + high) / 2
            if sequenceAt(middle) < sequence { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Returns where in `order` the item went.
    @discardableResult
    private func insertIntoWindow(_ item: Item) -> Int {
        items[item.sequence] = item
        if item.attempts == 0 { freshInWindow += 1 }
        // Almost always in order; an older one (a redelivered dead letter, or a backlogged
        // delivery behind one the startup load put in the window) is slotted into place.
        guard let last = order.last, last > item.sequence else {
            order.append(item.sequence)
            return order.count - 1
        }
        let index = Self.firstIndex(notBelow: item.sequence, in: head..<order.count) { order[$0] }
        order.insert(item.sequence, at: index)
        return index
    }

    var isCircuitOpen: Bool { consecutiveFailures >= Self.breakerThreshold }

    /// Open, or half-open while the probe is on the wire.
    var circuit: DeliveryStatusBoard.CircuitState {
        guard isCircuitOpen else { return .closed }
        if let probe, items[probe]?.inFlight == true { return .halfOpen }
        return .open
    }

    /// While the circuit is open and the probe waits for its retry: when that is.
    var probeDueAt: Int64? {
        guard isCircuitOpen, let probe, let item = items[probe], !item.inFlight else { return nil }
        return item.notBefore
    }

    /// The items to send now, marked in flight, within `maxInFlight`, the rate limit (and the
    /// `shared` one of the subscription's tenant, already refilled), the circuit breaker and
    /// (when `ordered`) one at a time per partition key in journal order. Also returns the
    /// earliest time something not sent now becomes due.
    func takeDue(
        now: Int64, maxInFlight: Int, rateLimit: Int?, ordered: Bool, shared: TokenBucket? = nil
    ) -> (due: [Item], wakeAt: Int64?) {
        compact()
        if ordered && !keysKnown { lookUpMissingKeys() }
        if ordered && unreadable { readUnreadableKeys() }
        refillWindow(ordered: ordered, upTo: windowSize)
        if isCircuitOpen, let probe, let item = items[probe] {
            // Only the probe goes, and only when its retry is due.
            if item.inFlight { return ([], nil) }
            if item.notBefore > now { return ([], item.notBefore) }
            return ([markInFlight(probe)], nil)
        }
        var due: [Item] = []
        var wakeAt: Int64?
        if let rateLimit { ownRate.refill(now: now, rate: rateLimit) }
        // Ordered lanes: keys whose next delivery must wait for an earlier one (nil stands for
        // the deliveries without a key, which form one more sequence).
        var blockedKeys = Set<String?>()
        // An open circuit without a probe yet lets one delivery through; if it fails it
        // becomes the probe.
        let limit = isCircuitOpen ? 1 : maxInFlight
        var position = head
        var lookingAhead = false
        while inFlight < limit {
            if position == order.count {
                // Everything held was looked at and nothing can go: an ordered lane whose
                // held keys all wait (behind a retry) looks further into the backlog, so
                // other keys still go. Only from an idle lane, so a busy lane's scan stays
                // short; then as far as it takes to fill `limit` (or the look-ahead cap).
                if !lookingAhead {
                    guard ordered, inFlight == 0 else { break }
                    lookingAhead = true
                }
                guard let inserted = pullOneFromBacklog(ordered: true, upTo: windowSize * Self.orderedLookAheadFactor) else { break }
                // Usually appended; if slotted in earlier, look from there (what is in flight
                // or already sent this pass is skipped on the way).
                position = min(position, inserted)
            }
            let sequence = order[position]
            position += 1
            guard let item = items[sequence] else { continue }
            if ordered {
                if item.partitionKey == Self.unreadableKey {
                    // Its key unknown: nothing later may overtake it. Tried again soon.
                    wakeAt = min(wakeAt ?? now + 100_000, now + 100_000)
                    break
                }
                // Everything with the same key waits for the earlier one to finish.
                if blockedKeys.contains(item.partitionKey) { continue }
                if item.inFlight || item.notBefore > now { blockedKeys.insert(item.partitionKey) }
            }
            if item.inFlight { continue }
            if item.notBefore > now {
                wakeAt = min(wakeAt ?? item.notBefore, item.notBefore)
                continue
            }
            if rateLimit != nil || shared != nil {
                guard rateLimit == nil || ownRate.hasToken, shared?.hasToken ?? true else {
                    wakeAt = min(wakeAt ?? now + 1000, now + 1000)
                    break
                }
                if rateLimit != nil { ownRate.take() }
                shared?.take()
            }
            due.append(markInFlight(sequence))
            if ordered { blockedKeys.insert(item.partitionKey) }
        }
        return (due, wakeAt)
    }

    private func markInFlight(_ sequence: UInt64) -> Item {
        items[sequence]!.inFlight = true
        inFlight += 1
        // The one delivery an open circuit lets through without a probe is the probe: if it
        // fails it stays so (`reschedule`), and while it is out the circuit is half-open.
        if isCircuitOpen && probe == nil { probe = sequence }
        return items[sequence]!
    }

    /// A delivery finished (delivered or dead-lettered): it leaves the lane.
    func finish(_ sequence: UInt64, succeeded: Bool) {
        if let item = items.removeValue(forKey: sequence) {
            if item.inFlight { inFlight -= 1 }
            if item.attempts == 0 { freshInWindow -= 1 }
        }
        if succeeded {
            consecutiveFailures = 0
            probe = nil
        } else {
            consecutiveFailures += 1
            if probe == sequence { probe = nil }
        }
    }

    /// A delivery failed and is retried at `at`.
    func reschedule(_ sequence: UInt64, attempts: Int, firstAttemptAt: Int64, at: Int64) {
        guard var item = items[sequence] else { return }
        if item.inFlight { inFlight -= 1 }
        if item.attempts == 0 && attempts > 0 { freshInWindow -= 1 }
        item.inFlight = false
        item.attempts = attempts
        item.firstAttemptAt = firstAttemptAt
        item.notBefore = at
        items[sequence] = item
        consecutiveFailures += 1
        if isCircuitOpen && probe == nil { probe = sequence }
    }

    /// Puts an in-flight item back unchanged (its request could not even be built or sent).
    func release(_ sequence: UInt64) {
        guard let item = items[sequence], item.inFlight else { return }
        items[sequence]!.inFlight = false
        inFlight -= 1
    }

    /// Moves the head past finished sequences and drops them once they are many. A head
    /// that stays put (its delivery retrying for hours while later ones finish) would leave
    /// finished sequences piling up behind it, each scanned on every pass, so once they
    /// outnumber the live ones the order is rebuilt from the live ones alone.
    private func compact() {
        while head < order.count && items[order[head]] == nil { head += 1 }
        if head > 4096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        if order.count - head > 2 * items.count + 64 {
            order = order[head...].filter { items[$0] != nil }
            head = 0
        }
    }

    private func lookUpMissingKeys() {
        for (sequence, item) in items where item.partitionKey == nil {
            setKey(partitionKeyAt(item.event), of: sequence)
        }
        keysKnown = true
    }

    private func readUnreadableKeys() {
        unreadable = false
        for (sequence, item) in items where item.partitionKey == Self.unreadableKey {
            setKey(partitionKeyAt(item.event), of: sequence)
        }
    }

    private func setKey(_ key: String?, of sequence: UInt64) {
        items[sequence]?.partitionKey = key
        if key == Self.unreadableKey { unreadable = true }
    }

    /// Moves backlogged deliveries into the window while it holds fewer than `limit` fresh ones.
    private func refillWindow(ordered: Bool, upTo limit: Int) {
        while pullOneFromBacklog(ordered: ordered, upTo: limit) != nil {}
    }

    /// Moves the oldest backlogged delivery into the window if it holds fewer than `limit`
    /// fresh ones; returns its place in `order`, nil when it did not.
    private func pullOneFromBacklog(ordered: Bool, upTo limit: Int) -> Int? {
        guard freshInWindow < limit, backlogHead < backlog.count else { return nil }
        let next = backlog[backlogHead]
        backlogHead += 1
        if !ordered { keysKnown = false }
        let key = ordered ? partitionKeyAt(next) : nil
        if key == Self.unreadableKey { unreadable = true }
        let inserted = insertIntoWindow(Item(event: next, partitionKey: key, attempts: 0, firstAttemptAt: nil, notBefore: 0))
        compactBacklog()
        return inserted
    }

    private func compactBacklog() {
        if backlogHead == backlog.count {
            backlog = []
            backlogHead = 0
        } else if backlogHead > 4096 && backlogHead * 2 > backlog.count {
            backlog.removeFirst(backlogHead)
            backlogHead = 0
        }
    }
}

/// A rate limit as a token bucket: `rate` tokens a second, at most one second's worth
/// banked. A subscription's lane has its own; a tenant's lanes share one.
final class TokenBucket {
    private var tokens: Double = 0
    private var lastRefill: Int64 = 0

    var hasToken: Bool { tokens >= 1 }

    func take() { tokens -= 1 }

    /// Adds what `rate` earned since the last refill (monotonic microseconds). A second
    /// refill at the same time adds nothing.
    func refill(now: Int64, rate: Int) {
        if lastRefill == 0 {
            tokens = Double(rate)
        } else {
            tokens = min(Double(rate), tokens + Double(now - lastRefill) / 1_000_000 * Double(rate))
        }
        lastRefill = now
    }
}
