import JSONSchema

/// Durable state changes — event types, sources, subscriptions, dead letters — and the
/// state they add up to. Reads answer from the state as of the last change folded in, so a
/// read that follows a completed change sees it.
public protocol ConfigurationStore: Sendable {
    /// Makes `change` durable and folds it in, then calls `completion` (on a thread of the
    /// store's) with its stamp.
    func commit(_ change: StateChange, completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void)

    /// Creates a source unless its name is taken — by a source that exists or by a create
    /// still being written — decided atomically, so two concurrent creates of one name cannot
    /// both succeed (and leave a token alive behind a later revoke). Returns `.nameTaken` at
    /// once; otherwise nil, and `completion` runs once the source is durable (or failed).
    func createSource(
        name: String, tokenDigest: [UInt8], inbound: InboundConfiguration?,
        completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void
    ) -> SourceCreationRefusal?

    /// Creates a tenant unless its id is taken (by a tenant or a create in flight), decided
    /// atomically like `createSource`.
    func createTenant(
        id: String, fields: TenantInput, completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void
    ) -> TenantCreationRefusal?

    /// Creates a subscription. One of a tenant is counted against `limit` together with the
    /// tenant's creates in flight, atomically, so concurrent creates cannot pass the quota;
    /// a refusal is returned at once.
    func createSubscription(
        _ subscription: Subscription, limit: Int?, completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void
    ) -> SubscriptionCreationRefusal?

    func tenant(_ id: String) -> Tenant?
    /// Whether a tenant has this id: what ingest asks of an addressed event, cheaply.
    func hasTenant(_ id: String) -> Bool
    /// Sorted by id (the order `GET /v1/tenants` pages in).
    func tenants() -> [Tenant]
    /// The tenant token with this SHA-256 digest (expired ones too: the caller decides).
    func tenantToken(digest: [UInt8]) -> TenantToken?
    /// Oldest first.
    func tenantTokens(of tenantID: String) -> [TenantToken]
    /// Oldest first.
    func subscriptions(ofTenant tenantID: String) -> [Subscription]
    func subscriptionCount(ofTenant tenantID: String) -> Int

    func eventType(_ name: String) -> EventTypeState?
    /// Sorted by name.
    func eventTypes() -> [EventTypeState]
    func source(named name: String) -> SourceState?
    /// The source whose token has this SHA-256 digest.
    func source(tokenDigest: [UInt8]) -> String?
    /// Sorted by name.
    func sources() -> [SourceState]
    func subscription(_ id: String) -> Subscription?
    /// Oldest first.
    func subscriptions() -> [Subscription]
    /// Delivery counts and latency of one subscription, since the store began.
    func deliveryCounts(for subscriptionID: String) -> DeliveryCounts
    /// Dead letters of a subscription, oldest first.
    func deadLetters(for subscriptionID: String) -> [DeadLetterEntry]
    /// Whether the subscription still owes the event at `sequence` (pending or dead-lettered).
    func owes(_ subscriptionID: String, sequence: UInt64) -> Bool
    /// Every subscription's pending deliveries and dead letters, by subscription id, read at
    /// once (a metrics scrape).
    func deliveryBacklogs() -> [String: DeliveryBacklog]
    /// The event a reference points at (a dead letter's, a pending delivery's).
    func event(at reference: EventReference) throws(StoreError) -> StoredEvent?
    func replay(_ id: String) -> ReplayState?
    /// Replays of one subscription (all of them when nil), oldest first.
    func replays(for subscriptionID: String?) -> [ReplayState]
}

public enum SourceCreationRefusal: Sendable, Equatable {
    case nameTaken
}

public enum TenantCreationRefusal: Sendable, Equatable {
    case idTaken
}

public enum SubscriptionCreationRefusal: Sendable, Equatable {
    case noSuchTenant
    case quotaReached(limit: Int)
}

/// A change to the gateway's configuration; each is one durable record.
public enum StateChange: Sendable, Equatable {
    /// Registers (or replaces) an event type; `schema` is the JSON text, empty for none.
    case eventTypeUpserted(name: String, description: String, schema: [UInt8], tenantVisible: Bool)
    case eventTypeArchived(name: String)
    case sourceRevoked(name: String)
    /// Replaces a source's inbound configuration (a rotated secret).
    case sourceConfigured(name: String, InboundConfiguration)
    case subscriptionCreated(Subscription)
    /// Applies only the fields it names, to the subscription as it stands when the change
    /// is folded in: two changes of different fields both stick.
    case subscriptionChanged(SubscriptionChange)
    case subscriptionDeleted(id: String)
    /// Dead letters put back in line, by event sequence.
    case deadLettersRedelivered(subscriptionID: String, sequences: [UInt64])
    case deadLetterDiscarded(subscriptionID: String, sequence: UInt64)
    /// Events owed to a subscription again (`POST /v1/events/{id}/resend`).
    case eventsResent(subscriptionID: String, events: [EventReference])
    case replayStarted(id: String, subscriptionID: String, since: Int64, until: Int64, types: [String])
    /// A chunk of a replay: the matching events it found up to `cursor`, and whether it has
    /// now looked at its whole window.
    case replayProgressed(id: String, subscriptionID: String, events: [EventReference], cursor: UInt64, finished: Bool)
    case replayCancelled(id: String, subscriptionID: String)
    /// Sets the fields given on a tenant (`PATCH`).
    case tenantChanged(id: String, fields: TenantInput)
    /// Deletes a tenant with its subscriptions (and what they were owed) and its tokens.
    case tenantDeleted(id: String)
    case tenantTokenIssued(TenantToken)
    case tenantTokenRevoked(tenantID: String, tokenID: String)
}

public struct EventTypeState: Sendable, Equatable {
    public var name: String
    public var description: String
    /// The schema's JSON text as registered, empty for none.
    public var schemaText: [UInt8]
    public var schema: JSONSchema?
    public var archived: Bool
    /// Whether tenants may subscribe to it and receive its events.
    public var tenantVisible = false
    public var createdAt: Int64
    public var updatedAt: Int64

    /// What tenants see: registered, marked visible, not archived.
    public var isVisibleToTenants: Bool { tenantVisible && !archived }

    /// The compiled schema follows from its text.
    public static func == (lhs: EventTypeState, rhs: EventTypeState) -> Bool {
        lhs.name == rhs.name && lhs.description == rhs.description && lhs.schemaText == rhs.schemaText
            && (lhs.schema == nil) == (rhs.schema == nil) && lhs.archived == rhs.archived
            && lhs.tenantVisible == rhs.tenantVisible && lhs.createdAt == rhs.createdAt && lhs.updatedAt == rhs.updatedAt
    }
}

public struct SourceState: Sendable, Equatable {
    public var name: String
    public var tokenDigest: [UInt8]
    public var createdAt: Int64
    /// How it takes provider webhooks at `/in/{name}`; nil for a token-only source.
    public var inbound: InboundConfiguration? = nil
}

public struct DeliveryCounts: Sendable, Equatable {
    public var pending: Int
    public var delivered: Int
    public var deadLettered: Int
    public var attempts: Int
    public var failedAttempts: Int
    /// Over the latest 1024 to 2048 attempts, within 1% (`AttemptDurations`).
    public var p50DurationMicroseconds: Int64? = nil
    public var p99DurationMicroseconds: Int64? = nil
    public var lastError: String? = nil
    public var lastErrorAt: Int64? = nil
}

extension ConfigurationStore {
    public func deliveryBacklogs() -> [String: DeliveryBacklog] {
        var backlogs: [String: DeliveryBacklog] = [:]
        for subscription in subscriptions() {
            let counts = deliveryCounts(for: subscription.id)
            backlogs[subscription.id] = DeliveryBacklog(pending: counts.pending, deadLettered: counts.deadLettered)
        }
        return backlogs
    }
}

/// What a subscription is owed: deliveries not yet finished, and its dead letters.
public struct DeliveryBacklog: Sendable, Equatable {
    public var pending: Int
    public var deadLettered: Int

    public init(pending: Int, deadLettered: Int) {
        self.pending = pending
        self.deadLettered = deadLettered
    }
}

public struct DeadLetterEntry: Sendable, Equatable {
    public var event: EventReference
    public var attempts: Int
    public var deadLetteredAt: Int64
    public var reason: String

    public var sequence: UInt64 { event.sequence }
}
