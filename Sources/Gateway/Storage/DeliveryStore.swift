/// What the delivery side needs from storage, and all it may use of it: the dispatcher
/// observes committed state only through this (DESIGN.md), decides what is due itself, and
/// reports outcomes back.
public protocol DeliveryStore: AnyObject, Sendable {
    /// Registers the one observer of new deliveries: fan-outs of newly stored events and
    /// redelivered dead letters, in commit order, on a thread of the store's (keep it short).
    /// Register before `pendingSnapshot`, so a delivery is reported twice at worst, never
    /// missed.
    func observeDeliveries(_ observer: @escaping @Sendable ([FanOut]) -> Void)

    /// Everything owed, per subscription, at one point of the store's order: a fan-out whose
    /// `cause` is at most `through` is in it (or was already finished), one with a later
    /// cause is not.
    func pendingSnapshot() -> PendingSnapshot

    /// A subscription's current settings; nil once it is deleted.
    func subscription(_ id: String) -> Subscription?

    /// A tenant (its quotas: the delivery rate its subscriptions share); nil once deleted.
    func tenant(_ id: String) -> Tenant?

    /// A number that changes whenever any subscription changes (a resume, a delete), so the
    /// dispatcher looks again at the subscriptions it holds back only then; nil when the
    /// store cannot tell, and the dispatcher looks at every pass.
    var subscriptionsVersion: UInt64? { get }

    /// A reader of event bodies for one thread (the dispatcher's): it may keep state, such as
    /// bytes read ahead, between calls.
    func makeEventReader() -> any DeliveryEventReader

    /// Records attempt outcomes. Not waited for (DESIGN.md invariant 3): one lost in a crash
    /// only means the attempt is made again.
    func recordAttempts(_ outcomes: [DeliveryAttemptRecord])

    /// Marks a subscription disabled (its endpoint answered 410 Gone) until an operator
    /// resumes it. False when there is nothing to do (no such subscription, or already
    /// disabled); otherwise `done` runs once the change is in effect for `subscription(_:)`
    /// readers, or once it failed.
    @discardableResult
    func disableSubscription(_ id: String, reason: String, done: @escaping @Sendable () -> Void) -> Bool

    /// Cluster mode: registers who hears when this node takes subscriptions over from
    /// another (`gained`: everything they are owed, as at one point of the store's order,
    /// reported before any later fan-out to them) or stops delivering some (`lost`: their
    /// ids; another node may deliver them from now on, so their lanes must go at once). A
    /// store of one machine owns everything and never calls either.
    func observeOwnership(gained: @escaping @Sendable (PendingSnapshot) -> Void, lost: @escaping @Sendable ([String]) -> Void)
}

/// Reads what deliveries need of their events. Used by one thread at a time.
public protocol DeliveryEventReader: AnyObject {
    /// The webhook request body — `{id, type, timestamp, source, data}`, `data` being the
    /// producer's exact bytes — and the event id; nil if the reference holds no event.
    func envelope(_ event: EventReference) throws(StoreError) -> WebhookEnvelope?
    /// The event's partition key, for ordered delivery.
    func partitionKey(_ event: EventReference) throws(StoreError) -> String?
}

public struct WebhookEnvelope: Sendable, Equatable {
    public var eventID: String
    public var body: [UInt8]
    /// When the event was committed (wall-clock microseconds): where delivery latency starts.
    public var committedAt: Int64

    public init(eventID: String, body: [UInt8], committedAt: Int64 = 0) {
        self.eventID = eventID
        self.body = body
        self.committedAt = committedAt
    }
}

/// A delivery an event created: to which subscription, and which event.
public struct FanOut: Sendable, Equatable {
    public var subscriptionID: String
    public var event: EventReference
    /// The event's key when known (nil: none, or not looked up — an ordered lane reads it).
    public var partitionKey: String?
    /// The record that created this delivery: the event itself, or a later redelivery of a
    /// dead letter. Tells the delivery side whether its startup load already saw it.
    public var cause: UInt64

    public init(subscriptionID: String, event: EventReference, partitionKey: String?, cause: UInt64) {
        self.subscriptionID = subscriptionID
        self.event = event
        self.partitionKey = partitionKey
        self.cause = cause
    }

    public var sequence: UInt64 { event.sequence }
}

/// A delivery still owed to a subscriber.
public struct PendingDelivery: Sendable, Equatable {
    public var event: EventReference
    /// Attempts made so far (0: never tried).
    public var attempts: Int
    public var firstAttemptAt: Int64?
    /// Wall-clock microseconds.
    public var nextAttemptAt: Int64?
    public var lastError: String?

    public var sequence: UInt64 { event.sequence }
}

public struct PendingSnapshot: Sendable {
    public struct Owed: Sendable {
        public var subscriptionID: String
        public var ordered: Bool
        public var pending: [PendingDelivery]
    }

    /// The last record the snapshot covers.
    public var through: UInt64
    public var owed: [Owed]
}

extension DeliveryStore {
    public var subscriptionsVersion: UInt64? { nil }

    public func observeOwnership(gained: @escaping @Sendable (PendingSnapshot) -> Void, lost: @escaping @Sendable ([String]) -> Void) {}
}
