/// Durable events: the idempotent append behind `POST /v1/events` (single and batch), and
/// reads by id, by position and by time.
public protocol EventStore: Sendable {
    /// Stores `events` durably, in order, all or nothing, and tells `completion` once they are
    /// (DESIGN.md invariant 1: never before). Idempotency is decided here, atomically with
    /// the write: an event whose key was used before with the same digest is not stored again
    /// and reports the original; a key used with a different digest refuses the whole request;
    /// a key whose first request is still being written waits for it and reports it.
    ///
    /// Returns the outcome when it is known at once (a conflict, or nothing new to write);
    /// then `completion` is never called. Otherwise returns nil and calls `completion` exactly
    /// once, on a thread of the store's.
    func ingest(_ events: [NewEvent], completion: @escaping @Sendable (IngestOutcome) -> Void) -> IngestOutcome?

    /// The event with this id, if it exists.
    func event(id: String) throws(StoreError) -> StoredEvent?

    /// Events after sequence `query.after`, oldest first.
    func events(_ query: EventQuery) throws(StoreError) -> [StoredEvent]

    /// Every delivery attempt of the event, oldest first; nil when there is no such event.
    func attempts(ofEvent id: String) throws(StoreError) -> [AttemptEntry]?

    /// How many events were ever stored (retained or not).
    var eventCount: Int { get }

    /// The commit time (microseconds) of the oldest event still retained, once retention has
    /// deleted any; nil while the whole history is kept.
    var retainedSince: Int64? { get }
}

extension EventStore {
    public var retainedSince: Int64? { nil }
}

/// An event ready to be stored: validated, its id chosen, its digest computed.
public struct NewEvent: Sendable, Equatable {
    public var id: String
    public var type: String
    public var source: String
    public var partitionKey: String?
    public var occurredAt: String?
    /// The exact bytes the producer sent as `data`.
    public var data: [UInt8]
    /// The producer's `Idempotency-Key`, or its own event id; nil for neither.
    public var idempotencyKey: String?
    /// `IngestDigest.canonical` of what a repeat must match; empty without a key.
    public var digest: [UInt8]
    /// A test ping's one subscription (its patterns and filter do not apply).
    public var targetSubscription: String?
    /// The tenant the event is addressed to: only its subscriptions receive it.
    public var tenant: String?
    /// A provider's request headers, for an event received at `/in/{source}`.
    public var headers: [(name: String, value: String)] = []

    public static func == (lhs: NewEvent, rhs: NewEvent) -> Bool {
        lhs.id == rhs.id && lhs.type == rhs.type && lhs.source == rhs.source && lhs.partitionKey == rhs.partitionKey
            && lhs.occurredAt == rhs.occurredAt && lhs.data == rhs.data && lhs.idempotencyKey == rhs.idempotencyKey
            && lhs.digest == rhs.digest && lhs.targetSubscription == rhs.targetSubscription && lhs.tenant == rhs.tenant
            && sameHeaderFields(lhs.headers, rhs.headers)
    }

    public init(
        id: String, type: String, source: String, partitionKey: String? = nil, occurredAt: String? = nil,
        data: [UInt8], idempotencyKey: String? = nil, digest: [UInt8] = [], targetSubscription: String? = nil,
        tenant: String? = nil, headers: [(name: String, value: String)] = []
    ) {
        self.id = id
        self.type = type
        self.source = source
        self.partitionKey = partitionKey
        self.occurredAt = occurredAt
        self.data = data
        self.idempotencyKey = idempotencyKey
        self.digest = digest
        self.targetSubscription = targetSubscription
        self.tenant = tenant
        self.headers = headers
    }
}

/// What the producer is told about an event: the same on the first 202 and on every
/// idempotent repeat.
public struct EventReceipt: Sendable, Equatable {
    public var id: String
    public var sequence: UInt64
    /// Microseconds since the Unix epoch.
    public var receivedAt: Int64
    /// True when this request repeated an event stored earlier (nothing new was stored).
    public var duplicate = false

    public init(id: String, sequence: UInt64, receivedAt: Int64, duplicate: Bool = false) {
        self.id = id
        self.sequence = sequence
        self.receivedAt = receivedAt
        self.duplicate = duplicate
    }
}

public enum IngestOutcome: Sendable, Equatable {
    /// Every event is durable (new ones now, repeats earlier): one receipt per event, in order.
    case stored([EventReceipt])
    /// Nothing was stored: the event at `index` conflicts with what is already there.
    case conflict(index: Int, IngestConflict)
    /// Nothing was stored: the store cannot write now.
    case unavailable(StoreError)
}

public enum IngestConflict: Sendable, Equatable {
    /// The idempotency key was used for a different request.
    case keyReused(String)
    /// Another event already has this id (ids are global; keys are per source).
    case idTaken(String)
}

/// An event as read back.
public struct StoredEvent: Sendable, Equatable {
    public var reference: EventReference
    public var id: String
    public var type: String
    public var source: String
    public var partitionKey: String?
    public var occurredAt: String?
    /// Microseconds since the epoch at which the store committed it.
    public var receivedAt: Int64
    /// The exact bytes the producer sent.
    public var data: [UInt8]
    /// The producer's `Idempotency-Key` or own id, if it gave one.
    public var idempotencyKey: String? = nil
    /// The tenant it was addressed to.
    public var tenant: String? = nil
    /// The provider's request headers it was received with (`/in/{source}`).
    public var headers: [(name: String, value: String)] = []

    public static func == (lhs: StoredEvent, rhs: StoredEvent) -> Bool {
        lhs.reference == rhs.reference && lhs.id == rhs.id && lhs.type == rhs.type && lhs.source == rhs.source
            && lhs.partitionKey == rhs.partitionKey && lhs.occurredAt == rhs.occurredAt && lhs.receivedAt == rhs.receivedAt
            && lhs.data == rhs.data && lhs.idempotencyKey == rhs.idempotencyKey && lhs.tenant == rhs.tenant
            && sameHeaderFields(lhs.headers, rhs.headers)
    }

    public var sequence: UInt64 { reference.sequence }
}

/// `GET /v1/events`: a page of events after a position, optionally of one type and within a
/// time range.
public struct EventQuery: Sendable, Equatable {
    public var after: UInt64 = 0
    public var type: String?
    /// Microseconds since the epoch, inclusive.
    public var since: Int64?
    /// Microseconds since the epoch, exclusive.
    public var until: Int64?
    public var limit: Int = 100

    public init(after: UInt64 = 0, type: String? = nil, since: Int64? = nil, until: Int64? = nil, limit: Int = 100) {
        self.after = after
        self.type = type
        self.since = since
        self.until = until
        self.limit = limit
    }
}

/// One delivery attempt as recorded, for `GET /v1/events/{id}/attempts`.
public struct AttemptEntry: Sendable, Equatable {
    public var outcome: DeliveryAttemptRecord
    /// When it was recorded (microseconds since the epoch).
    public var recordedAt: Int64
}

/// Header fields held as `(name, value)` tuples, which are not `Equatable`: equal when the
/// same fields come in the same order (a subscription's extra headers, a provider's kept ones).
func sameHeaderFields(_ lhs: [(name: String, value: String)], _ rhs: [(name: String, value: String)]) -> Bool {
    lhs.elementsEqual(rhs) { $0.name == $1.name && $0.value == $1.value }
}
