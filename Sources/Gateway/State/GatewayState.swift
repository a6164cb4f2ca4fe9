import Runtime
import JSONSchema
import JSON
import Synchronization

/// Where an accepted event lives and what is needed to find it without reading it.
struct EventIndexEntry: Sendable {
    var sequence: UInt64
    var location: RecordLocation
    /// Microseconds since the epoch at which the journal committed it.
    var receivedAt: Int64
    /// Index into `GatewayState.Storage.typeNames`.
    var typeIndex: Int32
}

/// What the producer is told about an accepted event: the same on the first 202 and on
/// every idempotent repeat.
public struct EventReceipt: Sendable, Equatable {
    public var id: String
    public var sequence: UInt64
    /// Microseconds since the epoch.
    public var receivedAt: Int64
}

public struct EventTypeState: Sendable {
    public var name: String
    public var description: String
    /// The schema's JSON text as registered, empty for none.
    public var schemaText: [UInt8]
    public var schema: JSONSchema?
    public var archived: Bool
    public var createdAt: Int64
    public var updatedAt: Int64
}

public struct SourceState: Sendable {
    public var name: String
    public var tokenDigest: [UInt8]
    public var createdAt: Int64
}

/// The in-memory fold of the journal: indexes and current configuration. Built only by
/// `apply`, at start-up from the replay and afterwards from each commit, so memory and disk
/// cannot disagree. Payloads are not held here (invariant 6): events are read back from the
/// journal by location.
public final class GatewayState: Sendable {
    struct IdempotencyEntry {
        var eventIndex: Int
        var digest: [UInt8]
        var timestamp: Int64
    }

    struct Storage {
        var events = ChunkedArray<EventIndexEntry>()
        var eventsByID = ShardedDictionary<String, Int>()
        var typeNames: [String] = []
        var typeIndexes: [String: Int32] = [:]
        var idempotency = ShardedDictionary<String, IdempotencyEntry>()
        /// Keys in commit order, to expire the oldest first.
        var idempotencyOrder = ChunkedQueue<(key: String, timestamp: Int64)>()
        /// Keys whose event is being written now, with the digest it was written for.
        var inFlight: [String: [UInt8]] = [:]
        var eventTypes: [String: EventTypeState] = [:]
        var sources: [String: SourceState] = [:]
        var sourcesByDigest: [[UInt8]: String] = [:]
        var subscriptions: [String: Subscription] = [:]
        /// What each subscription is owed, by subscription id.
        var ledgers: [String: DeliveryLedger] = [:]
        /// Where each event's delivery-attempt records are, by event index (for the attempts view).
        var attemptLocations = ShardedDictionary<Int32, [RecordLocation]>()
        /// Deliveries created by the records being applied, for the observer.
        var fannedOut: [FanOut] = []
        /// Records that did not decode (never expected; counted so it is visible).
        var undecodable = 0
        /// The sequence of the last record folded.
        var appliedThrough: UInt64 = 0
    }

    /// How long an idempotency key is remembered, in microseconds.
    let idempotencyWindow: Int64
    private let storage = Mutex(Storage())
    private let fanOutObserver = Mutex<(@Sendable ([FanOut]) -> Void)?>(nil)
    private let clock: @Sendable () -> Int64

    public init(idempotencyWindow: Duration, clock: @escaping @Sendable () -> Int64 = wallClockMicroseconds) {
        self.idempotencyWindow = idempotencyWindow.microseconds
        self.clock = clock
    }

    // MARK: - Folding

    /// Folds committed (or replayed) records into memory, in journal order.
    public func apply(_ records: [JournalRecord]) {
        let now = clock()
        let fannedOut = storage.withLock { state -> [FanOut] in
            for record in records {
                state.appliedThrough = max(state.appliedThrough, record.sequence)
                do throws(BinaryReader.Malformed) {
                    try Self.apply(record, to: &state, now: now, window: idempotencyWindow)
                } catch {
                    state.undecodable += 1
                }
            }
            defer { state.fannedOut.removeAll() }
            return state.fannedOut
        }
        // Outside the lock: the observer may read state.
        if !fannedOut.isEmpty, let observer = fanOutObserver.withLock({ $0 }) { observer(fannedOut) }
    }

    /// Called after each commit with the deliveries it created (on the journal's writer
    /// thread: keep it short). The delivery side sets it before it loads what is pending.
    public func observeFanOut(_ observer: @escaping @Sendable ([FanOut]) -> Void) {
        fanOutObserver.withLock { $0 = observer }
    }

    private static func apply(_ record: JournalRecord, to state: inout Storage, now: Int64, window: Int64) throws(BinaryReader.Malformed) {
        switch record.kind {
        case .event:
            let event = try EventRecord.decode(record.payload, includeData: false)
            let typeIndex: Int32
            if let known = state.typeIndexes[event.type] {
                typeIndex = known
            } else {
                typeIndex = Int32(state.typeNames.count)
                state.typeNames.append(event.type)
                state.typeIndexes[event.type] = typeIndex
            }
            let index = state.events.count
            state.events.append(EventIndexEntry(
                sequence: record.sequence, location: record.location, receivedAt: record.timestamp, typeIndex: typeIndex))
            state.eventsByID[event.id] = index
            fanOut(event, record, eventIndex: Int32(index), in: &state)
            if let key = event.idempotencyKey {
                state.inFlight[scopedKey(key, source: event.source)] = nil
                if now - record.timestamp < window {
                    let scoped = scopedKey(key, source: event.source)
                    state.idempotency[scoped] = IdempotencyEntry(eventIndex: index, digest: event.bodyDigest, timestamp: record.timestamp)
                    state.idempotencyOrder.push((scoped, record.timestamp))
                }
            }
        case .eventTypeUpserted:
            let type = try EventTypeRecord.decode(record.payload)
            let created = state.eventTypes[type.name].flatMap { $0.archived ? nil : $0.createdAt } ?? record.timestamp
            // The schema compiled when it was registered, so it compiles again here; if a
            // newer build refuses it, the type stays registered without validation rather
            // than the journal becoming unreadable.
            let schema = type.schema.isEmpty ? nil : try? JSONSchema(JSONParser.parse(type.schema))
            state.eventTypes[type.name] = EventTypeState(
                name: type.name, description: type.description, schemaText: type.schema, schema: schema,
                archived: false, createdAt: created, updatedAt: record.timestamp)
        case .eventTypeArchived:
            let name = try NameRecord.decode(record.payload).name
            state.eventTypes[name]?.archived = true
            state.eventTypes[name]?.updatedAt = record.timestamp
        case .sourceCreated:
            let source = try SourceRecord.decode(record.payload)
            state.sources[source.name] = SourceState(name: source.name, tokenDigest: source.tokenDigest, createdAt: record.timestamp)
            state.sourcesByDigest[source.tokenDigest] = source.name
        case .sourceRevoked:
            let name = try NameRecord.decode(record.payload).name
            if let source = state.sources.removeValue(forKey: name) {
                state.sourcesByDigest[source.tokenDigest] = nil
            }
        case .subscriptionUpserted:
            guard let json = try? JSONParser.parse(record.payload),
                  var subscription = try? Subscription.fromStored(json) else { throw BinaryReader.Malformed() }
            // A change made from a snapshot (createdAt set) of a subscription deleted since
            // must not bring it back.
            if subscription.createdAt != 0 && state.subscriptions[subscription.id] == nil { return }
            subscription.createdAt = state.subscriptions[subscription.id]?.createdAt ?? record.timestamp
            subscription.updatedAt = record.timestamp
            state.subscriptions[subscription.id] = subscription
        case .subscriptionDisabled:
            let disabled = try SubscriptionDisabledRecord.decode(record.payload)
            // The first reason stands; a subscription deleted since stays deleted.
            if var subscription = state.subscriptions[disabled.subscriptionID], subscription.disabledReason == nil {
                subscription.disabledReason = disabled.reason
                subscription.updatedAt = record.timestamp
                state.subscriptions[disabled.subscriptionID] = subscription
            }
        case .subscriptionDeleted:
            let id = try NameRecord.decode(record.payload).name
            state.subscriptions[id] = nil
            state.ledgers[id] = nil
        case .deliveryAttempted:
            let outcome = try DeliveryAttemptRecord.decode(record.payload)
            if let index = eventIndex(ofSequence: outcome.sequence, in: state) {
                state.ledgers[outcome.subscriptionID]?.record(outcome, eventIndex: Int32(index), at: record.timestamp)
                state.attemptLocations[Int32(index)] = (state.attemptLocations[Int32(index)] ?? []) + [record.location]
            }
        case .deadLettersChanged:
            let change = try DeadLettersChangedRecord.decode(record.payload)
            let positions = change.sequences.compactMap { eventIndex(ofSequence: $0, in: state) }
            let indexes = positions.map(Int32.init)
            switch change.action {
            case .redeliver:
                state.ledgers[change.subscriptionID]?.redeliver(indexes)
                // The delivery side hears of them as of new fan-outs.
                for position in positions {
                    let event = state.events[position]
                    state.fannedOut.append(FanOut(subscriptionID: change.subscriptionID, sequence: event.sequence,
                                                  location: event.location, partitionKey: nil, cause: record.sequence))
                }
            case .discard: indexes.forEach { state.ledgers[change.subscriptionID]?.discardDeadLetter($0) }
            }
        default:
            // A kind this build does not know (a newer writer): skip it, do not fail start-up.
            break
        }
    }

    /// Decides, once and in journal order, which subscriptions an event goes to: those not
    /// disabled (410) whose patterns match its type and whose filter matches its data. Paused
    /// ones are included: their deliveries wait. `data` is decoded only if a filter needs it.
    private static func fanOut(_ event: EventRecord, _ record: JournalRecord, eventIndex: Int32, in state: inout Storage) {
        guard !state.subscriptions.isEmpty else { return }
        var data: JSONValue??
        for subscription in state.subscriptions.values where subscription.disabledReason == nil {
            if let target = event.targetSubscription, target != subscription.id { continue }
            let matched = event.targetSubscription != nil || subscription.matches(type: event.type) {
                if data == nil {
                    data = .some((try? EventRecord.decode(record.payload)).flatMap { try? JSONParser.parse($0.data) })
                }
                return data ?? nil
            }
            guard matched else { continue }
            state.ledgers[subscription.id, default: DeliveryLedger()].fanOut(eventIndex)
            state.fannedOut.append(FanOut(
                subscriptionID: subscription.id, sequence: record.sequence, location: record.location,
                partitionKey: event.partitionKey, cause: record.sequence))
        }
    }

    /// Events are in sequence order, so a binary search finds one by its sequence.
    private static func eventIndex(ofSequence sequence: UInt64, in state: Storage) -> Int? {
        var low = 0
        var high = state.events.count
        while low < high {
            let middle = (low + high) / 2
            if state.events[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low < state.events.count && state.events[low].sequence == sequence ? low : nil
    }

    /// Idempotency keys are per source: two producers may pick the same key.
    static func scopedKey(_ key: String, source: String) -> String {
        source + "\u{0}" + key
    }

    // MARK: - Idempotency

    enum Reservation {
        /// Nothing known: write the event; the key is held until it commits or fails.
        case fresh
        /// The same request was already accepted as this event.
        case repeated(EventIndexEntry)
        /// The key was used with a different body.
        case conflict
        /// The same request is being written right now; answer after it commits.
        case inFlight
    }

    /// Checks `key` and, if new, holds it so a concurrent repeat cannot write a second event.
    func reserve(key: String, source: String, digest: [UInt8]) -> Reservation {
        let now = clock()
        let scoped = Self.scopedKey(key, source: source)
        return storage.withLock { state in
            Self.expireIdempotency(&state, now: now, window: idempotencyWindow)
            if let entry = state.idempotency[scoped] {
                guard entry.digest == digest else { return .conflict }
                return .repeated(state.events[entry.eventIndex])
            }
            if let pending = state.inFlight[scoped] {
                return pending == digest ? .inFlight : .conflict
            }
            state.inFlight[scoped] = digest
            return .fresh
        }
    }

    /// Releases a key whose write failed.
    func release(key: String, source: String) {
        storage.withLock { state in state.inFlight[Self.scopedKey(key, source: source)] = nil }
    }

    private static func expireIdempotency(_ state: inout Storage, now: Int64, window: Int64) {
        while let oldest = state.idempotencyOrder.first, now - oldest.timestamp >= window {
            if state.idempotency[oldest.key]?.timestamp == oldest.timestamp {
                state.idempotency[oldest.key] = nil
            }
            state.idempotencyOrder.popFirst()
        }
    }

    // MARK: - Queries

    func event(id: String) -> EventIndexEntry? {
        storage.withLock { state in state.eventsByID[id].map { state.events[$0] } }
    }

    /// Events after sequence `after`, oldest first, optionally of one type and within a
    /// time range, at most `limit`.
    func events(after: UInt64, type: String?, since: Int64?, until: Int64?, limit: Int) -> [EventIndexEntry] {
        storage.withLock { state in
            var typeIndex: Int32?
            if let type {
                guard let known = state.typeIndexes[type] else { return [] }
                typeIndex = known
            }
            // Sequences are dense from the first event, but state records share the numbering,
            // so find the start by binary search.
            var low = 0
            var high = state.events.count
            while low < high {
                let middle = (low + high) / 2
                if state.events[middle].sequence <= after { low = middle + 1 } else { high = middle }
            }
            var result: [EventIndexEntry] = []
            var index = low
            while index < state.events.count && result.count < limit {
                let entry = state.events[index]
                index += 1
                if let typeIndex, entry.typeIndex != typeIndex { continue }
                if let since, entry.receivedAt < since { continue }
                if let until, entry.receivedAt >= until { break }
                result.append(entry)
            }
            return result
        }
    }

    public var eventCount: Int { storage.withLock { $0.events.count } }

    /// Where the delivery-attempt records of an event are, oldest first.
    func attemptLocations(ofEvent id: String) -> [RecordLocation]? {
        storage.withLock { state in
            guard let index = state.eventsByID[id] else { return nil }
            return state.attemptLocations[Int32(index)] ?? []
        }
    }

    public func eventType(_ name: String) -> EventTypeState? {
        storage.withLock { $0.eventTypes[name] }
    }

    public func eventTypes() -> [EventTypeState] {
        storage.withLock { $0.eventTypes.values.sorted { $0.name < $1.name } }
    }

    public func subscription(_ id: String) -> Subscription? {
        storage.withLock { $0.subscriptions[id] }
    }

    /// Oldest first.
    public func subscriptions() -> [Subscription] {
        storage.withLock { $0.subscriptions.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }
    }

    /// Deliveries owed to `subscriptionID` in journal order, with how far each has got.
    /// Every subscription with what it is owed, and the last record folded, all read at one
    /// point of the journal: a fan-out whose `cause` is at most `through` is in this
    /// snapshot (or was already finished), one with a later cause is not.
    public func pendingSnapshot() -> (through: UInt64, owed: [(subscription: Subscription, pending: [PendingDelivery])]) {
        storage.withLock { state in
            let owed = state.subscriptions.values.map { subscription in
                (subscription, Self.pending(for: subscription.id, in: state, limit: .max))
            }
            return (state.appliedThrough, owed)
        }
    }

    public func pendingDeliveries(for subscriptionID: String, limit: Int = .max) -> [PendingDelivery] {
        storage.withLock { state in Self.pending(for: subscriptionID, in: state, limit: limit) }
    }

    private static func pending(for subscriptionID: String, in state: Storage, limit: Int) -> [PendingDelivery] {
        guard let ledger = state.ledgers[subscriptionID] else { return [] }
        return ledger.pending(limit: limit).map { item in
            let event = state.events[Int(item.eventIndex)]
            return PendingDelivery(
                sequence: event.sequence, location: event.location, attempts: item.progress?.attempts ?? 0,
                firstAttemptAt: item.progress?.firstAttemptAt, nextAttemptAt: item.progress?.nextAttemptAt,
                lastError: item.progress?.lastError)
        }
    }

    public func deliveryCounts(for subscriptionID: String) -> DeliveryCounts {
        storage.withLock { state in
            let ledger = state.ledgers[subscriptionID] ?? DeliveryLedger()
            let sorted = ledger.recentDurations.sorted()
            func percentile(_ fraction: Double) -> Int64? {
                sorted.isEmpty ? nil : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction + 0.5))]
            }
            return DeliveryCounts(
                pending: ledger.pendingCount, delivered: ledger.delivered, deadLettered: ledger.deadLetters.count,
                attempts: ledger.attempts, failedAttempts: ledger.failedAttempts,
                p50DurationMicroseconds: percentile(0.5), p99DurationMicroseconds: percentile(0.99),
                lastError: ledger.lastError?.message, lastErrorAt: ledger.lastError?.at)
        }
    }

    /// Dead letters of `subscriptionID`, oldest first.
    public func deadLetters(for subscriptionID: String) -> [DeadLetterEntry] {
        storage.withLock { state in
            guard let ledger = state.ledgers[subscriptionID] else { return [] }
            return ledger.deadLetterOrder.compactMap { index in
                guard let letter = ledger.deadLetters[index] else { return nil }
                let event = state.events[Int(index)]
                return DeadLetterEntry(sequence: event.sequence, location: event.location, attempts: letter.attempts,
                                       deadLetteredAt: letter.deadLetteredAt, reason: letter.reason)
            }
        }
    }

    func source(tokenDigest: [UInt8]) -> String? {
        storage.withLock { $0.sourcesByDigest[tokenDigest] }
    }

    public func sources() -> [SourceState] {
        storage.withLock { $0.sources.values.sorted { $0.name < $1.name } }
    }

    public func source(named name: String) -> SourceState? {
        storage.withLock { $0.sources[name] }
    }
}

/// A delivery an event created: to which subscription, and where the event is.
public struct FanOut: Sendable, Equatable {
    public var subscriptionID: String
    /// The event's sequence.
    public var sequence: UInt64
    public var location: RecordLocation
    public var partitionKey: String?
    /// The record that created this delivery: the event itself, or a later redelivery of a
    /// dead letter. Tells the delivery side whether its startup load already saw it.
    public var cause: UInt64
}

/// A delivery still owed to a subscriber.
public struct PendingDelivery: Sendable, Equatable {
    public var sequence: UInt64
    public var location: RecordLocation
    /// Attempts made so far (0: never tried).
    public var attempts: Int
    public var firstAttemptAt: Int64?
    public var nextAttemptAt: Int64?
    public var lastError: String?
}

public struct DeliveryCounts: Sendable, Equatable {
    public var pending: Int
    public var delivered: Int
    public var deadLettered: Int
    public var attempts: Int
    public var failedAttempts: Int
    /// Over the latest 1024 attempts.
    public var p50DurationMicroseconds: Int64? = nil
    public var p99DurationMicroseconds: Int64? = nil
    public var lastError: String? = nil
    public var lastErrorAt: Int64? = nil
}

public struct DeadLetterEntry: Sendable, Equatable {
    public var sequence: UInt64
    public var location: RecordLocation
    public var attempts: Int
    public var deadLetteredAt: Int64
    public var reason: String
}
