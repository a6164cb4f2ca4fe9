@testable import Delivery
@testable import Gateway
import Synchronization
import Testing

/// The lane on its own: what it sends next, in which order, and what it keeps in memory.
@Suite("Delivery lane")
struct DeliveryLaneTests {
    static func event(_ sequence: UInt64) -> EventReference {
        EventReference(sequence: sequence, location: RecordLocation(segment: 0, offset: sequence * 100, length: 100))
    }

    static func fresh(_ sequence: UInt64, key: String? = nil) -> DeliveryLane.Item {
        DeliveryLane.Item(event: event(sequence), partitionKey: key, attempts: 0, firstAttemptAt: nil, notBefore: 0)
    }

    /// A delivery attempted before (a restart's load), waiting for its retry at `notBefore`.
    static func attempted(_ sequence: UInt64, attempts: Int = 1, firstAttemptAt: Int64 = 1, notBefore: Int64) -> DeliveryLane.Item {
        DeliveryLane.Item(event: event(sequence), partitionKey: nil,
                          attempts: attempts, firstAttemptAt: firstAttemptAt, notBefore: notBefore)
    }

    /// Partition keys by sequence: odd ones "a", even ones "b".
    static func oddEvenKey(_ event: EventReference) -> String? {
        event.sequence % 2 == 1 ? "a" : "b"
    }

    /// Sends everything the lane lets through, succeeding each, until it is empty; returns the
    /// order of the sends.
    static func drain(_ lane: DeliveryLane, maxInFlight: Int = 3, ordered: Bool = false) -> [UInt64] {
        var sent: [UInt64] = []
        while lane.pendingCount > 0 {
            let (due, _) = lane.takeDue(now: 1, maxInFlight: maxInFlight, rateLimit: nil, ordered: ordered)
            if due.isEmpty { break }
            for item in due {
                sent.append(item.sequence)
                lane.finish(item.sequence, succeeded: true)
            }
        }
        return sent
    }

    /// A key that cannot be read now (cluster mode: the database unreachable for a moment)
    /// is not "no key": nothing after its delivery goes until a later pass reads it — any
    /// of them could share its key. `make chaos` saw a key's later event overtake it.
    @Test func anUnreadableKeyHoldsBackEverythingAfterItUntilItIsRead() {
        let readable = Mutex(false)
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 8) { event in
            if event.sequence == 1 && !readable.withLock({ $0 }) { return DeliveryLane.unreadableKey }
            return "k"
        }
        for sequence in UInt64(1)...3 { lane.add(Self.attempted(sequence, notBefore: 0), ordered: true) }
        let (held, wakeAt) = lane.takeDue(now: 1, maxInFlight: 10, rateLimit: nil, ordered: true)
        #expect(held.isEmpty)
        #expect(wakeAt != nil)
        readable.withLock { $0 = true }
        #expect(Self.drain(lane, maxInFlight: 10, ordered: true) == [1, 2, 3])
    }

    @Test("beyond the window, deliveries wait in the backlog and still go in journal order")
    func windowAndBacklog() {
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 4) { _ in nil }
        for sequence in UInt64(1)...20 { lane.add(Self.fresh(sequence), ordered: false) }
        #expect(lane.pendingCount == 20)
        #expect(lane.backlogCount == 16)
        #expect(Self.drain(lane) == Array(1...20))
        #expect(lane.pendingCount == 0)
        #expect(lane.backlogCount == 0)
    }

    @Test("a delivery reported twice (startup load and live fan-out) is queued once, window or backlog")
    func duplicatesIgnored() {
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 4) { _ in nil }
        for sequence in UInt64(1)...10 { lane.add(Self.fresh(sequence), ordered: false) }
        for sequence in UInt64(1)...10 { lane.add(Self.fresh(sequence), ordered: false) }
        #expect(lane.pendingCount == 10)
        lane.add(Self.fresh(11), ordered: false)
        #expect(Self.drain(lane) == Array(1...11))
    }

    @Test("a delivery already attempted joins the window even when it is full, with its schedule")
    func attemptedJoinsWindow() {
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 2) { _ in nil }
        lane.add(Self.fresh(1), ordered: false)
        lane.add(Self.fresh(2), ordered: false)
        lane.add(Self.attempted(3, attempts: 2, firstAttemptAt: 5, notBefore: 1_000), ordered: false)
        #expect(lane.backlogCount == 0)
        let (due, wakeAt) = lane.takeDue(now: 10, maxInFlight: 10, rateLimit: nil, ordered: false)
        #expect(due.map(\.sequence) == [1, 2])
        #expect(wakeAt == 1_000)
        let (later, _) = lane.takeDue(now: 1_000, maxInFlight: 10, rateLimit: nil, ordered: false)
        #expect(later.map(\.sequence) == [3])
        #expect(later.first?.attempts == 2)
    }

    @Test("a redelivered dead letter older than the backlog's tail is sent, not mistaken for a repeat")
    func redeliveredBehindBacklog() {
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 2) { _ in nil }
        for sequence in UInt64(10)...15 { lane.add(Self.fresh(sequence), ordered: false) }
        lane.add(Self.fresh(3), ordered: false)
        #expect(lane.pendingCount == 7)
        #expect(Self.drain(lane).sorted() == [3, 10, 11, 12, 13, 14, 15])
    }

    @Test("an ordered lane reads the keys of backlogged deliveries and keeps each key in journal order")
    func orderedBacklogKeys() {
        // Keys by sequence: odd "a", even "b"; the lane is told none of them.
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 3, partitionKeyAt: Self.oddEvenKey)
        for sequence in UInt64(1)...12 { lane.add(Self.fresh(sequence), ordered: true) }
        // Keys were read, so one of each key goes at once (keyless items would go one by one).
        let (first, _) = lane.takeDue(now: 1, maxInFlight: 10, rateLimit: nil, ordered: true)
        #expect(first.map(\.sequence) == [1, 2])
        #expect(first.map(\.partitionKey) == ["a", "b"])
        for item in first { lane.release(item.sequence) }
        var sent: [UInt64] = []
        var inFlight: [DeliveryLane.Item] = []
        var keysInFlight: [String] = []
        while lane.pendingCount > 0 {
            let (due, _) = lane.takeDue(now: 1, maxInFlight: 10, rateLimit: nil, ordered: true)
            inFlight += due
            // Never two of one key in flight at once.
            keysInFlight = inFlight.compactMap(\.partitionKey)
            #expect(Set(keysInFlight).count == keysInFlight.count)
            guard !inFlight.isEmpty else { break }
            let done = inFlight.removeFirst()
            sent.append(done.sequence)
            lane.finish(done.sequence, succeeded: true)
        }
        #expect(sent.filter { $0 % 2 == 1 } == [1, 3, 5, 7, 9, 11])
        #expect(sent.filter { $0 % 2 == 0 } == [2, 4, 6, 8, 10, 12])
    }

    @Test("deliveries waiting for a retry do not count against the window, so the rest keep flowing")
    func retriesDoNotStallTheWindow() {
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 4) { _ in nil }
        for sequence in UInt64(1)...12 { lane.add(Self.fresh(sequence), ordered: false) }
        // The first 4 are rejected and wait a long time for their retry (no circuit: one
        // success in between keeps it closed).
        let (first, _) = lane.takeDue(now: 1, maxInFlight: 4, rateLimit: nil, ordered: false)
        #expect(first.map(\.sequence) == [1, 2, 3, 4])
        for item in first.dropLast() { lane.reschedule(item.sequence, attempts: 1, firstAttemptAt: 1, at: 1_000_000) }
        lane.finish(4, succeeded: true)
        let (next, _) = lane.takeDue(now: 2, maxInFlight: 4, rateLimit: nil, ordered: false)
        #expect(next.map(\.sequence) == [5, 6, 7, 8])
        #expect(lane.freshInWindow == 4)
    }

    @Test("an ordered lane looks past a long run of one blocked key to other keys")
    func orderedLooksPastABlockedKey() {
        // 1...10 have key "a", 11 and 12 key "b"; the window holds 3.
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 3) { event in event.sequence <= 10 ? "a" : "b" }
        for sequence in UInt64(1)...12 { lane.add(Self.fresh(sequence), ordered: true) }
        let (first, _) = lane.takeDue(now: 1, maxInFlight: 10, rateLimit: nil, ordered: true)
        #expect(first.map(\.sequence) == [1])
        lane.reschedule(1, attempts: 1, firstAttemptAt: 1, at: 1_000_000)
        // "a" waits for its retry; "b" is far behind in the backlog and still goes.
        let (next, _) = lane.takeDue(now: 2, maxInFlight: 10, rateLimit: nil, ordered: true)
        #expect(next.map(\.sequence) == [11])
        #expect(next.first?.partitionKey == "b")
    }

    @Test("looking ahead, an ordered lane examines a delivery slotted in before one already held")
    func lookAheadExaminesSlottedInDeliveries() {
        // 1-4 and 6 have key "k", 5 and 8 key "m", 7 key "l". 1 and 7 were attempted before a
        // restart and wait for their retries; the rest are fresh, most in the backlog.
        let keys: [UInt64: String] = [1: "k", 2: "k", 3: "k", 4: "k", 5: "m", 6: "k", 7: "l", 8: "m"]
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 2) { keys[$0.sequence] }
        lane.add(Self.attempted(1, notBefore: 1_000_000), ordered: true)
        for sequence: UInt64 in [2, 3, 4, 5, 6] { lane.add(Self.fresh(sequence), ordered: true) }
        lane.add(Self.attempted(7, notBefore: 1_000_000), ordered: true)
        lane.add(Self.fresh(8), ordered: true)
        #expect(lane.backlogCount == 4)  // 4, 5, 6, 8
        // Nothing held may go ("k" and "l" wait): the lane looks ahead and must send 5, the
        // first "m", not 8.
        let (due, _) = lane.takeDue(now: 2, maxInFlight: 10, rateLimit: nil, ordered: true)
        #expect(due.map(\.sequence) == [5])
    }

    @Test("a lane switched to ordered looks up the keys of what it already holds")
    func switchedToOrdered() {
        // Odd sequences key "a", even "b"; added while the subscription was not ordered.
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 100, partitionKeyAt: Self.oddEvenKey)
        for sequence in UInt64(1)...6 { lane.add(Self.fresh(sequence), ordered: false) }
        let (due, _) = lane.takeDue(now: 1, maxInFlight: 10, rateLimit: nil, ordered: true)
        // One per key, not everything at once (unordered) nor one in all (keys unknown).
        #expect(due.map(\.sequence) == [1, 2])
        #expect(due.map(\.partitionKey) == ["a", "b"])
    }

    @Test("a redelivered dead letter older than the window joins the window, even when it is full")
    func olderDeliveryJoinsAFullWindow() {
        let lane = DeliveryLane(subscriptionID: "s", windowSize: 2) { _ in nil }
        lane.add(Self.fresh(10), ordered: false)
        lane.add(Self.fresh(11), ordered: false)
        lane.add(Self.fresh(3), ordered: false)
        #expect(lane.backlogCount == 0)
        #expect(Self.drain(lane, maxInFlight: 1) == [3, 10, 11])
    }

    @Test("finished deliveries behind a long-retrying one do not pile up in the lane's order")
    func orderStaysCompactBehindAStuckHead() {
        let lane = DeliveryLane(subscriptionID: "s") { _ in nil }
        lane.add(Self.fresh(1), ordered: false)
        let (first, _) = lane.takeDue(now: 1, maxInFlight: 1, rateLimit: nil, ordered: false)
        lane.reschedule(first[0].sequence, attempts: 1, firstAttemptAt: 1, at: .max)
        lane.finish(2, succeeded: true)  // keep the circuit closed
        for sequence in UInt64(2)...30_001 {
            lane.add(Self.fresh(sequence), ordered: false)
            let (due, _) = lane.takeDue(now: 2, maxInFlight: 10, rateLimit: nil, ordered: false)
            for item in due { lane.finish(item.sequence, succeeded: true) }
        }
        #expect(lane.pendingCount == 1)
        #expect(lane.orderCount <= 2 * lane.pendingCount + 64 + 1)
    }

    @Test("while the circuit is open, deliveries that arrive later wait behind the probe")
    func circuitHoldsLateArrivals() {
        let lane = DeliveryLane(subscriptionID: "s") { _ in nil }
        for sequence in UInt64(1)...5 { lane.add(Self.fresh(sequence), ordered: false) }
        let (first, _) = lane.takeDue(now: 1, maxInFlight: 10, rateLimit: nil, ordered: false)
        #expect(first.count == 5)
        for item in first { lane.reschedule(item.sequence, attempts: 1, firstAttemptAt: 1, at: 1_000) }
        #expect(lane.isCircuitOpen)
        for sequence in UInt64(6)...9 { lane.add(Self.fresh(sequence), ordered: false) }
        let (held, wakeAt) = lane.takeDue(now: 2, maxInFlight: 10, rateLimit: nil, ordered: false)
        #expect(held.isEmpty)
        #expect(wakeAt == 1_000)
    }

    @Test("after repeated failures the circuit opens and only one probe goes, on its schedule")
    func circuitBreakerProbe() {
        let lane = DeliveryLane(subscriptionID: "s") { _ in nil }
        for sequence in UInt64(1)...20 { lane.add(Self.fresh(sequence), ordered: false) }
        var now: Int64 = 1
        while !lane.isCircuitOpen {
            let (due, _) = lane.takeDue(now: now, maxInFlight: 1, rateLimit: nil, ordered: false)
            for item in due { lane.reschedule(item.sequence, attempts: 1, firstAttemptAt: now, at: now + 100) }
            now += 1
        }
        let (probe, _) = lane.takeDue(now: now + 1_000, maxInFlight: 10, rateLimit: nil, ordered: false)
        #expect(probe.count == 1)
        let (none, _) = lane.takeDue(now: now + 1_000, maxInFlight: 10, rateLimit: nil, ordered: false)
        #expect(none.isEmpty)
        lane.finish(probe[0].sequence, succeeded: true)
        #expect(!lane.isCircuitOpen)
        let (burst, _) = lane.takeDue(now: now + 1_000, maxInFlight: 10, rateLimit: nil, ordered: false)
        #expect(burst.count == 10)
    }

    @Test("the circuit reads closed, open while the probe waits, half-open while it is out, closed after a success")
    func circuitStates() {
        let lane = DeliveryLane(subscriptionID: "s") { _ in nil }
        for sequence in UInt64(1)...8 { lane.add(Self.fresh(sequence), ordered: false) }
        #expect(lane.circuit == .closed)
        let (first, _) = lane.takeDue(now: 1, maxInFlight: 5, rateLimit: nil, ordered: false)
        for item in first { lane.reschedule(item.sequence, attempts: 1, firstAttemptAt: 1, at: 1_000) }
        #expect(lane.circuit == .open)
        #expect(lane.probeDueAt == 1_000)
        let (probe, _) = lane.takeDue(now: 1_000, maxInFlight: 5, rateLimit: nil, ordered: false)
        #expect(probe.count == 1)
        #expect(lane.circuit == .halfOpen)
        #expect(lane.probeDueAt == nil)
        lane.reschedule(probe[0].sequence, attempts: 2, firstAttemptAt: 1, at: 2_000)
        #expect(lane.circuit == .open)
        #expect(lane.probeDueAt == 2_000)
        let (again, _) = lane.takeDue(now: 2_000, maxInFlight: 5, rateLimit: nil, ordered: false)
        #expect(again.map(\.sequence) == probe.map(\.sequence))
        #expect(lane.circuit == .halfOpen)
        lane.finish(again[0].sequence, succeeded: true)
        #expect(lane.circuit == .closed)
    }

    @Test("an open circuit with no probe yet (failures were dead-lettered) is half-open once it lets one delivery out")
    func circuitWithoutAProbeYet() {
        let lane = DeliveryLane(subscriptionID: "s") { _ in nil }
        for sequence in UInt64(1)...7 { lane.add(Self.fresh(sequence), ordered: false) }
        let (first, _) = lane.takeDue(now: 1, maxInFlight: 5, rateLimit: nil, ordered: false)
        for item in first { lane.finish(item.sequence, succeeded: false) }
        #expect(lane.circuit == .open)
        #expect(lane.probeDueAt == nil)
        let (trial, _) = lane.takeDue(now: 2, maxInFlight: 5, rateLimit: nil, ordered: false)
        #expect(trial.count == 1)
        #expect(lane.circuit == .halfOpen)
        let (none, _) = lane.takeDue(now: 3, maxInFlight: 5, rateLimit: nil, ordered: false)
        #expect(none.isEmpty)
        // It failed: it is the probe now, waiting for its retry.
        lane.reschedule(trial[0].sequence, attempts: 1, firstAttemptAt: 2, at: 500)
        #expect(lane.circuit == .open)
        #expect(lane.probeDueAt == 500)
    }
}
