@testable import Delivery
@testable import Gateway
import Synchronization

/// A `DeliveryStore` in memory: the seam's test double. Tests put subscriptions and events
/// in, fan events out by hand, and read what the dispatcher recorded — no journal, no disk.
final class InMemoryDeliveryStore: DeliveryStore, @unchecked Sendable {
    struct Event {
        var id: String
        var type: String
        var partitionKey: String?
        var data: [UInt8]
    }

    private struct State {
        var subscriptions: [String: Subscription] = [:]
        var tenants: [String: Tenant] = [:]
        var events: [UInt64: Event] = [:]
        var owed: [String: [PendingDelivery]] = [:]
        var through: UInt64 = 0
        var recorded: [DeliveryAttemptRecord] = []
        var observer: (@Sendable ([FanOut]) -> Void)?
        /// Disables not yet put into effect, with what to call when they are.
        var disabling: [(id: String, reason: String, done: @Sendable () -> Void)] = []
    }

    private let state = Mutex(State())
    /// When false, a disable waits for `applyDisables()`, as a store that writes it first does.
    var disablesTakeEffectAtOnce = true

    func put(_ subscription: Subscription) { state.withLock { $0.subscriptions[subscription.id] = subscription } }
    func put(_ tenant: Tenant) { state.withLock { $0.tenants[tenant.id] = tenant } }
    func remove(tenant id: String) { _ = state.withLock { $0.tenants.removeValue(forKey: id) } }
    func remove(subscription id: String) { _ = state.withLock { $0.subscriptions.removeValue(forKey: id) } }

    func update(_ id: String, _ change: (inout Subscription) -> Void) {
        state.withLock { state in
            if var subscription = state.subscriptions[id] {
                change(&subscription)
                state.subscriptions[id] = subscription
            }
        }
    }

    /// Stores an event and returns its reference (the location is made up: only this store reads it).
    @discardableResult
    func addEvent(_ sequence: UInt64, id: String? = nil, type: String = "a.b", key: String? = nil, data: String = "{}") -> EventReference {
        state.withLock { state in
            state.events[sequence] = Event(id: id ?? "evt_\(sequence)", type: type, partitionKey: key, data: Array(data.utf8))
            state.through = max(state.through, sequence)
        }
        return Self.reference(sequence)
    }

    static func reference(_ sequence: UInt64) -> EventReference {
        EventReference(sequence: sequence, location: RecordLocation(segment: 0, offset: sequence, length: 0))
    }

    /// What a restart's load finds owed.
    func owe(_ subscriptionID: String, _ pending: [PendingDelivery]) {
        state.withLock { $0.owed[subscriptionID, default: []] += pending }
    }

    /// Fans an event (already added) out, as a commit would, with `cause` its own sequence.
    func fanOut(_ sequence: UInt64, to subscriptionIDs: [String], cause: UInt64? = nil) {
        let (observer, fanOuts) = state.withLock { state -> ((@Sendable ([FanOut]) -> Void)?, [FanOut]) in
            let cause = cause ?? sequence
            state.through = max(state.through, cause)
            let key = state.events[sequence]?.partitionKey
            return (state.observer, subscriptionIDs.map { FanOut(subscriptionID: $0, event: Self.reference(sequence), partitionKey: key, cause: cause) })
        }
        observer?(fanOuts)
    }

    var recorded: [DeliveryAttemptRecord] { state.withLock { $0.recorded } }

    /// Puts waiting disables into effect and tells the dispatcher.
    func applyDisables() {
        let waiting = state.withLock { state in
            defer { state.disabling = [] }
            for disable in state.disabling { state.subscriptions[disable.id]?.disabledReason = disable.reason }
            return state.disabling
        }
        waiting.forEach { $0.done() }
    }

    // MARK: DeliveryStore

    func observeDeliveries(_ observer: @escaping @Sendable ([FanOut]) -> Void) {
        state.withLock { $0.observer = observer }
    }

    func pendingSnapshot() -> PendingSnapshot {
        state.withLock { state in
            PendingSnapshot(through: state.through, owed: state.owed.map { id, pending in
                PendingSnapshot.Owed(subscriptionID: id, ordered: state.subscriptions[id]?.ordered ?? false, pending: pending)
            })
        }
    }

    func subscription(_ id: String) -> Subscription? { state.withLock { $0.subscriptions[id] } }

    func tenant(_ id: String) -> Tenant? { state.withLock { $0.tenants[id] } }

    func makeEventReader() -> any DeliveryEventReader { Reader(store: self) }

    func recordAttempts(_ outcomes: [DeliveryAttemptRecord]) { state.withLock { $0.recorded += outcomes } }

    func disableSubscription(_ id: String, reason: String, done: @escaping @Sendable () -> Void) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard state.subscriptions[id]?.disabledReason == nil else { return false }
            state.disabling.append((id, reason, done))
            return true
        }
        if accepted && disablesTakeEffectAtOnce { applyDisables() }
        return accepted
    }

    fileprivate func event(_ reference: EventReference) -> Event? { state.withLock { $0.events[reference.sequence] } }

    private final class Reader: DeliveryEventReader {
        let store: InMemoryDeliveryStore
        init(store: InMemoryDeliveryStore) { self.store = store }

        func envelope(_ event: EventReference) throws(StoreError) -> WebhookEnvelope? {
            guard let stored = store.event(event) else { return nil }
            return WebhookEnvelope(eventID: stored.id, body: Array("{\"id\":\"\(stored.id)\",\"type\":\"\(stored.type)\",\"data\":".utf8) + stored.data + [UInt8(ascii: "}")])
        }

        func partitionKey(_ event: EventReference) throws(StoreError) -> String? { store.event(event)?.partitionKey }
    }
}

/// A transport that sends nothing: it keeps what it is given, and the test answers.
final class HandTransport: DeliveryTransport, @unchecked Sendable {
    private let submitted = Mutex<[DeliveryRequest]>([])
    private let onCompletions: @Sendable ([DeliveryResult]) -> Void

    init(onCompletions: @escaping @Sendable ([DeliveryResult]) -> Void) {
        self.onCompletions = onCompletions
    }

    func submit(_ requests: [DeliveryRequest]) -> Bool {
        submitted.withLock { $0 += requests }
        return true
    }

    func stop() {}

    /// Everything submitted since the last call.
    func take() -> [DeliveryRequest] {
        submitted.withLock { requests in
            defer { requests = [] }
            return requests
        }
    }

    /// Answers a request with `status` (nil: a connection error).
    func answer(_ request: DeliveryRequest, status: Int?, retryAfter: String? = nil) {
        onCompletions([DeliveryResult(
            tag: request.tag, status: status,
            error: status == nil ? DeliveryError(kind: .connect, message: "connection refused") : nil,
            duration: .milliseconds(3), responseBody: [], retryAfter: retryAfter)])
    }
}

/// A clock the test moves: the monotonic clock only forwards, the wall clock either way.
final class ManualClock: DispatcherClock, @unchecked Sendable {
    private let now = Mutex((wall: Int64(1_800_000_000_000_000), monotonic: Int64(5_000_000)))

    func wallMicroseconds() -> Int64 { now.withLock { $0.wall } }
    func monotonicMicroseconds() -> Int64 { now.withLock { $0.monotonic } }

    /// Time passes: both clocks move.
    func advance(_ duration: Duration) {
        now.withLock { $0.wall += duration.microseconds; $0.monotonic += duration.microseconds }
    }

    /// Someone sets the wall clock (NTP, an operator); the monotonic clock does not move.
    func stepWall(_ duration: Duration) {
        now.withLock { $0.wall += duration.microseconds }
    }
}
