/// The storage seam (DESIGN.md: "Storage sits behind a few narrow protocols that Gateway
/// defines"). Everything outside a store's own implementation — the core operations, the
/// HTTP API, the delivery side — talks to storage only through these protocols, so a second
/// implementation (PostgreSQL for cluster mode) slots in without touching them.
///
/// Three concerns, one protocol each:
/// - `EventStore`: durable, idempotent append of events and reading them back;
/// - `ConfigurationStore`: durable state changes (event types, sources, subscriptions, dead
///   letters) and what they add up to;
/// - `DeliveryStore`: what the delivery side needs — the feed of new deliveries, what is owed
///   at start, the settings of each subscription, event bodies, and recording outcomes.
///
/// The embedded implementation is `JournalStore` (the journal and the fold of it).
public protocol GatewayStore: EventStore, ConfigurationStore, DeliveryStore {
    /// Why the store cannot accept writes now (a full disk, a lost database), nil while it can.
    var unavailableReason: String? { get }
    /// Stops accepting writes and finishes those already queued.
    func close()
    /// What the delivery side of this node uses: the store itself on one machine; in a
    /// cluster, a view of only the subscriptions this node delivers.
    var deliveries: any DeliveryStore { get }
    /// The name of its `/readyz` check: `journal`, or `database` in cluster mode.
    var readinessCheck: String { get }
}

extension GatewayStore {
    public var deliveries: any DeliveryStore { self }
    public var readinessCheck: String { "journal" }
}

/// A store whose state is the fold of its records in memory (both are): what tests and the
/// gateway's own tools may look into.
protocol FoldBackedStore: GatewayStore {
    var state: GatewayState { get }
    /// Returns once everything appended before (attempt outcomes too, which nobody waits
    /// for) is written and folded in.
    func waitForWrites()
}

/// Why a store could not do what was asked. The message is fit for a problem `detail`.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Nothing can be stored now (full disk, I/O failure, closed): try again later.
        case unavailable
        /// What was stored cannot be read back as it was written.
        case corrupt
        /// The change contradicts what was stored meanwhile (cluster mode: another node took
        /// the name, the quota or the tenant at the same moment); the message is the whole
        /// answer: a conflict (409), an invalid request (422), or something gone (404).
        case conflict, invalid, notFound
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Where a store keeps an event: its sequence, plus what the store that made the reference
/// needs to read it back without an index lookup (for the journal, the record's segment,
/// offset and length). Opaque outside the store; 32 bytes, so queues can hold millions.
public struct EventReference: Sendable, Hashable {
    /// The event's place in the gateway's total order.
    public let sequence: UInt64
    package let location: RecordLocation

    package init(sequence: UInt64, location: RecordLocation) {
        self.sequence = sequence
        self.location = location
    }
}

/// A stamp on something a store made durable: its sequence and commit time.
public struct CommitStamp: Sendable, Equatable {
    public var sequence: UInt64
    /// Microseconds since the Unix epoch.
    public var timestamp: Int64

    public init(sequence: UInt64, timestamp: Int64) {
        self.sequence = sequence
        self.timestamp = timestamp
    }
}
