import JSON
import JSONSchema
import Runtime

/// The gateway's state as a fold of its journal (DESIGN.md invariant 3): a value, built only
/// by `apply` from records in journal order — at start-up from the replay, afterwards from
/// each commit — so memory and disk cannot disagree, and two folds of the same records are
/// equal however the records were batched. Payloads are not held here (invariant 6):
/// events are read back from the journal by location.
///
/// A plain value with no locks, clocks or I/O: tests feed it records directly; the
/// snapshots of the next stage serialize it. `GatewayState` puts a lock, the idempotency
/// reservations and the queries around it.
struct GatewayFold: Sendable, Equatable {
    /// A producer's key, inside the window: which event it made, and the digest a repeat
    /// must match. Keys are held as a stable 64-bit hash (`StableHash`), not as strings: a
    /// hash that matches is confirmed against the key stored in the event record itself.
    struct KeyEntry: Sendable, Equatable {
        var digest: KeyDigest
        var sequence: UInt64
        var location: RecordLocation
        var timestamp: Int64
    }

    struct KeyAge: Sendable, Equatable {
        var hash: UInt64
        var timestamp: Int64
    }

    /// What applying records did that the world outside the fold must hear of.
    struct Effects {
        /// Deliveries created (fan-outs and redelivered dead letters), in journal order.
        var fannedOut: [FanOut] = []
        /// Scoped idempotency keys whose event is now committed, with its receipt.
        var committedKeys: [(key: String, receipt: EventReceipt)] = []
    }

    /// How long an idempotency key is remembered, in microseconds.
    let idempotencyWindow: Int64

    /// Events folded since the journal began (retained or not).
    private(set) var eventCount = 0
    private(set) var keys: [UInt64: KeyEntry] = [:]
    /// Keys in commit order, to expire the oldest first.
    private(set) var keyAges = ChunkedQueue<KeyAge>()
    private(set) var eventTypes: [String: EventTypeState] = [:]
    private(set) var sources: [String: SourceState] = [:]
    private(set) var sourcesByDigest: [[UInt8]: String] = [:]
    private(set) var subscriptions: [String: Subscription] = [:]
    /// The admin's own subscriptions by the event types they match (`SubscriptionRoutes`).
    private var routes = SubscriptionRoutes()
    private(set) var tenants: [String: Tenant] = [:]
    /// Tenant tokens by id, and token ids by digest (what authentication looks up).
    private(set) var tenantTokens: [String: TenantToken] = [:]
    private(set) var tenantTokensByDigest: [[UInt8]: String] = [:]
    /// Each tenant's subscriptions, and their routes: an event addressed to a tenant is
    /// routed by its tenant's index alone, whatever the number of tenants.
    private(set) var tenantSubscriptions: [String: Set<String>] = [:]
    private var tenantRoutes: [String: SubscriptionRoutes] = [:]
    /// Every tenant's subscriptions together: where an event without a tenant, of a type
    /// visible to tenants, goes besides the admin's own.
    private var broadcastRoutes = SubscriptionRoutes()
    /// What each subscription is owed, by subscription id.
    private(set) var ledgers: [String: DeliveryLedger] = [:]
    /// Replays by id: running ones and the latest finished ones (`keptReplays` a subscription).
    private(set) var replays: [String: ReplayState] = [:]
    static let keptReplays = 50
    /// Records that did not decode (never expected; counted so it is visible).
    private(set) var undecodable = 0
    /// The sequence of the last record folded.
    private(set) var appliedThrough: UInt64 = 0

    init(idempotencyWindow: Int64) {
        self.idempotencyWindow = idempotencyWindow
    }

    /// The fold a snapshot describes (`FoldSnapshot`); what is derived (routes, sources by
    /// token) is derived again.
    init(idempotencyWindow: Int64, restoring parts: FoldSnapshot.Parts) {
        self.idempotencyWindow = idempotencyWindow
        eventCount = parts.eventCount
        keys = parts.keys
        parts.keyAges.forEach { keyAges.push($0) }
        eventTypes = parts.eventTypes
        for source in parts.sources { sources[source.name] = source }
        sourcesByDigest = parts.sourcesByDigest
        for tenant in parts.tenants { tenants[tenant.id] = tenant }
        for token in parts.tenantTokens {
            tenantTokens[token.id] = token
            tenantTokensByDigest[token.digest] = token.id
        }
        for subscription in parts.subscriptions { store(subscription) }
        ledgers = parts.ledgers
        replays = parts.replays
        undecodable = parts.undecodable
        appliedThrough = parts.appliedThrough
    }

    /// What a snapshot keeps of this fold.
    var snapshotParts: FoldSnapshot.Parts {
        FoldSnapshot.Parts(
            eventCount: eventCount, keys: keys, keyAges: Array(keyAges.elements), eventTypes: eventTypes,
            sources: Array(sources.values), sourcesByDigest: sourcesByDigest, subscriptions: Array(subscriptions.values), ledgers: ledgers, replays: replays,
            undecodable: undecodable, appliedThrough: appliedThrough, tenants: Array(tenants.values),
            tenantTokens: Array(tenantTokens.values))
    }

    // MARK: - Folding

    /// Folds committed (or replayed) records, in journal order. `now` decides which
    /// idempotency keys are still inside the window.
    mutating func apply(_ records: [JournalRecord], now: Int64) -> Effects {
        var effects = Effects()
        for record in records {
            appliedThrough = max(appliedThrough, record.sequence)
            do throws(BinaryReader.Malformed) {
                try apply(record, now: now, into: &effects)
            } catch {
                undecodable += 1
            }
        }
        return effects
    }

    private mutating func apply(_ record: JournalRecord, now: Int64, into effects: inout Effects) throws(BinaryReader.Malformed) {
        switch record.kind {
        case .event:
            try applyEvent(record, now: now, into: &effects)
        case .eventTypeUpserted:
            let type = try EventTypeRecord.decode(record.payload)
            let created = eventTypes[type.name].flatMap { $0.archived ? nil : $0.createdAt } ?? record.timestamp
            // The schema compiled when it was registered, so it compiles again here; if a
            // newer build refuses it, the type stays registered without validation rather
            // than the journal becoming unreadable.
            let schema = type.schema.isEmpty ? nil : try? JSONSchema(JSONParser.parse(type.schema))
            eventTypes[type.name] = EventTypeState(
                name: type.name, description: type.description, schemaText: type.schema, schema: schema,
                archived: false, tenantVisible: type.tenantVisible, createdAt: created, updatedAt: record.timestamp)
        case .eventTypeArchived:
            let name = try NameRecord.decode(record.payload).name
            eventTypes[name]?.archived = true
            eventTypes[name]?.updatedAt = record.timestamp
        case .sourceCreated:
            let source = try SourceRecord.decode(record.payload)
            // One token per name: a create that raced an earlier one (before names were
            // reserved) replaces its token rather than leaving it alive behind a revoke.
            if let replaced = sources[source.name] { sourcesByDigest[replaced.tokenDigest] = nil }
            sources[source.name] = SourceState(name: source.name, tokenDigest: source.tokenDigest, createdAt: record.timestamp,
                                               inbound: try Self.inbound(source))
            sourcesByDigest[source.tokenDigest] = source.name
        case .sourceConfigured:
            let source = try SourceRecord.decode(record.payload)
            guard sources[source.name] != nil else { return }
            sources[source.name]?.inbound = try Self.inbound(source)
        case .sourceRevoked:
            let name = try NameRecord.decode(record.payload).name
            if let source = sources.removeValue(forKey: name) {
                sourcesByDigest[source.tokenDigest] = nil
            }
        case .subscriptionUpserted:
            guard let json = try? JSONParser.parse(record.payload),
                  var subscription = try? Subscription.fromStored(json) else { throw BinaryReader.Malformed() }
            // A whole copy (how older builds journaled every change) made from a snapshot
            // (createdAt set) of a subscription deleted since must not bring it back.
            if subscription.createdAt != 0 && subscriptions[subscription.id] == nil { return }
            // The owner is fixed at creation: a later copy cannot move a subscription to
            // another tenant (or to the admin), which would also leave it in the old owner's
            // routes, where addressed events would still find it.
            if let existing = subscriptions[subscription.id] { subscription.tenantID = existing.tenantID }
            // A subscription created for a tenant deleted meanwhile goes with it.
            if let tenant = subscription.tenantID, tenants[tenant] == nil { return }
            subscription.createdAt = subscriptions[subscription.id]?.createdAt ?? record.timestamp
            subscription.updatedAt = record.timestamp
            store(subscription)
        case .subscriptionChanged:
            let change = try SubscriptionChange.decode(record.payload)
            // A change to a subscription deleted since changes nothing.
            guard var subscription = subscriptions[change.subscriptionID] else { return }
            do {
                try change.apply(to: &subscription, at: record.timestamp)
            } catch {
                throw BinaryReader.Malformed()
            }
            subscription.updatedAt = record.timestamp
            store(subscription)
        case .subscriptionDisabled:
            let disabled = try SubscriptionDisabledRecord.decode(record.payload)
            // The first reason stands; a subscription deleted since stays deleted.
            if var subscription = subscriptions[disabled.subscriptionID], subscription.disabledReason == nil {
                subscription.disabledReason = disabled.reason
                subscription.updatedAt = record.timestamp
                subscriptions[disabled.subscriptionID] = subscription
            }
        case .subscriptionDeleted:
            removeSubscription(try NameRecord.decode(record.payload).name)
        case .tenantChanged:
            let change = try TenantChangeRecord.decode(record.payload)
            if change.created {
                // Ids are reserved until the create is folded in: an existing one is never replaced.
                guard tenants[change.tenantID] == nil else { return }
                var tenant = Tenant(id: change.tenantID, name: change.fields.name ?? change.tenantID)
                change.fields.apply(to: &tenant)
                tenant.createdAt = record.timestamp
                tenant.updatedAt = record.timestamp
                tenants[tenant.id] = tenant
            } else if var tenant = tenants[change.tenantID] {
                change.fields.apply(to: &tenant)
                tenant.updatedAt = record.timestamp
                tenants[tenant.id] = tenant
            }
        case .tenantDeleted:
            let id = try NameRecord.decode(record.payload).name
            guard tenants.removeValue(forKey: id) != nil else { return }
            for subscription in tenantSubscriptions[id] ?? [] { removeSubscription(subscription) }
            for token in tenantTokens.values where token.tenantID == id { revoke(token.id) }
        case .tenantTokenIssued:
            let token = try TenantTokenRecord.decode(record.payload, at: record.timestamp).token
            guard tenants[token.tenantID] != nil, tenantTokens[token.id] == nil else { return }
            tenantTokens[token.id] = token
            tenantTokensByDigest[token.digest] = token.id
        case .tenantTokenRevoked:
            let revoked = try TenantTokenRevokedRecord.decode(record.payload)
            if tenantTokens[revoked.tokenID]?.tenantID == revoked.tenantID { revoke(revoked.tokenID) }
        case .deliveryAttempted:
            let outcome = try DeliveryAttemptRecord.decode(record.payload)
            if let replay = ledgers[outcome.subscriptionID]?.record(outcome, at: record.timestamp) {
                if outcome.result == .delivered { replays[replay]?.delivered += 1 } else { replays[replay]?.deadLettered += 1 }
                replays[replay]?.updatedAt = record.timestamp
            }
        case .deadLettersChanged:
            let change = try DeadLettersChangedRecord.decode(record.payload)
            switch change.action {
            case .redeliver:
                let moved = ledgers[change.subscriptionID]?.redeliver(change.sequences) ?? []
                // The delivery side hears of them as of new fan-outs.
                for (sequence, location) in moved {
                    effects.fannedOut.append(FanOut(
                        subscriptionID: change.subscriptionID, event: EventReference(sequence: sequence, location: location),
                        partitionKey: nil, cause: record.sequence))
                }
            case .discard: change.sequences.forEach { ledgers[change.subscriptionID]?.discardDeadLetter($0) }
            }
        case .eventCarried:
            // Retention copied an owed event out of a segment it is about to delete: whoever
            // owes it now finds it here.
            let carried = try CarriedEventRecord.decodeHeader(record.payload)
            for id in ledgers.keys where ledgers[id]?.location(of: carried.sequence) != nil {
                ledgers[id]?.relocate(carried.sequence, to: record.location)
            }
        case .deliveriesOwed:
            let owed = try DeliveriesOwedRecord.decode(record.payload)
            guard subscriptions[owed.subscriptionID] != nil else { return }
            let replay = owed.replayID.isEmpty ? nil : owed.replayID
            // A chunk of a replay cancelled meanwhile owes nothing.
            if let replay, replays[replay]?.cancelled != false { return }
            var added = 0
            for event in owed.events {
                guard ledgers[owed.subscriptionID, default: DeliveryLedger()].fanOut(event.sequence, at: event.location, replay: replay) else { continue }
                added += 1
                effects.fannedOut.append(FanOut(subscriptionID: owed.subscriptionID, event: event, partitionKey: nil, cause: record.sequence))
            }
            if let replay, var state = replays[replay] {
                // An event already pending when the replay reached it is delivered once,
                // by its first place in line, and not counted as the replay's.
                state.enqueued += added
                state.cursor = max(state.cursor, owed.cursor)
                state.finishedEnqueuing = owed.finished
                state.updatedAt = record.timestamp
                replays[replay] = state
            }
        case .replayChanged:
            let change = try ReplayRecord.decode(record.payload)
            switch change.action {
            case .started:
                guard subscriptions[change.subscriptionID] != nil else { return }
                replays[change.replayID] = ReplayState(
                    id: change.replayID, subscriptionID: change.subscriptionID, since: change.since, until: change.until,
                    types: change.types, createdAt: record.timestamp, updatedAt: record.timestamp)
                pruneReplays(of: change.subscriptionID)
            case .cancelled:
                guard replays[change.replayID]?.status == .running || replays[change.replayID]?.status == .delivering else { return }
                replays[change.replayID]?.cancelled = true
                replays[change.replayID]?.updatedAt = record.timestamp
                _ = ledgers[change.subscriptionID]?.dropReplay(change.replayID)
            }
        default:
            // A kind this build does not know (a newer writer): skip it, do not fail start-up.
            break
        }
    }

    /// A source record's inbound configuration, nil for a token-only source.
    static func inbound(_ source: SourceRecord) throws(BinaryReader.Malformed) -> InboundConfiguration? {
        guard !source.inbound.isEmpty else { return nil }
        guard let json = try? JSONParser.parse(source.inbound),
              let inbound = try? InboundConfiguration(json, sourceName: source.name, stored: true) else { throw BinaryReader.Malformed() }
        return inbound
    }

    /// Keeps the newest `keptReplays` of a subscription's finished replays.
    private mutating func pruneReplays(of subscriptionID: String) {
        let finished = replays.values.filter { $0.subscriptionID == subscriptionID && ($0.status == .completed || $0.status == .cancelled) }
        guard finished.count > Self.keptReplays else { return }
        for old in finished.sorted(by: { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }).dropLast(Self.keptReplays) {
            replays[old.id] = nil
        }
    }

    private mutating func store(_ subscription: Subscription) {
        if subscriptions[subscription.id]?.eventTypes != subscription.eventTypes {
            if let tenant = subscription.tenantID {
                tenantRoutes[tenant, default: SubscriptionRoutes()].set(subscription.id, patterns: subscription.eventTypes)
                broadcastRoutes.set(subscription.id, patterns: subscription.eventTypes)
                tenantSubscriptions[tenant, default: []].insert(subscription.id)
            } else {
                routes.set(subscription.id, patterns: subscription.eventTypes)
            }
        }
        subscriptions[subscription.id] = subscription
    }

    /// A subscription and everything it was owed, gone.
    private mutating func removeSubscription(_ id: String) {
        guard let subscription = subscriptions.removeValue(forKey: id) else { return }
        if let tenant = subscription.tenantID {
            tenantRoutes[tenant]?.remove(id)
            broadcastRoutes.remove(id)
            tenantSubscriptions[tenant]?.remove(id)
            if tenantSubscriptions[tenant]?.isEmpty == true {
                tenantSubscriptions[tenant] = nil
                tenantRoutes[tenant] = nil
            }
        } else {
            routes.remove(id)
        }
        ledgers[id] = nil
        replays = replays.filter { $0.value.subscriptionID != id }
    }

    private mutating func revoke(_ tokenID: String) {
        guard let token = tenantTokens.removeValue(forKey: tokenID) else { return }
        if tenantTokensByDigest[token.digest] == tokenID { tenantTokensByDigest[token.digest] = nil }
    }

    private mutating func applyEvent(_ record: JournalRecord, now: Int64, into effects: inout Effects) throws(BinaryReader.Malformed) {
        let event = try EventRecord.decode(record.payload, includeData: false)
        eventCount += 1
        fanOut(event, record, into: &effects)
        if let key = event.idempotencyKey {
            let scoped = Self.scopedKey(key, source: event.source)
            effects.committedKeys.append((scoped, EventReceipt(id: event.id, sequence: record.sequence, receivedAt: record.timestamp)))
            if now - record.timestamp < idempotencyWindow {
                var digest = event.bodyDigest
                if !event.digestIsCanonical {
                    // Written by a build that digested the raw body: the canonical digest is
                    // computed from what was stored, so a retry through either endpoint
                    // still matches across the upgrade.
                    let full = try EventRecord.decode(record.payload)
                    digest = IngestDigest.canonical(of: full)
                }
                let hash = StableHash.of(scoped)
                keys[hash] = KeyEntry(digest: KeyDigest(digest), sequence: record.sequence, location: record.location,
                                      timestamp: record.timestamp)
                keyAges.push(KeyAge(hash: hash, timestamp: record.timestamp))
            }
        }
    }

    /// Decides, once and in journal order, which subscriptions an event goes to: those not
    /// disabled (410) whose patterns match its type and whose filter matches its data. Paused
    /// ones are included: their deliveries wait. `data` is decoded only if a filter needs it.
    ///
    /// Tenants: an event addressed to a tenant goes to that tenant's subscriptions only; one
    /// without a tenant to the admin's subscriptions, and to tenants' subscriptions when its
    /// type is visible to tenants. A tenant's subscription receives visible types only.
    private mutating func fanOut(_ event: EventRecord, _ record: JournalRecord, into effects: inout Effects) {
        let candidates: [String]
        if let target = event.targetSubscription {
            candidates = [target]
        } else if let tenant = event.tenant {
            guard let routes = tenantRoutes[tenant], eventTypes[event.type]?.isVisibleToTenants == true else { return }
            candidates = routes.matches(event.type)
        } else {
            let visible = !broadcastRoutes.isEmpty && eventTypes[event.type]?.isVisibleToTenants == true
            guard !routes.isEmpty || visible else { return }
            candidates = visible ? routes.matches(event.type) + broadcastRoutes.matches(event.type) : routes.matches(event.type)
        }
        var data: JSONValue??
        for id in candidates {
            guard let subscription = subscriptions[id], subscription.disabledReason == nil else { continue }
            if event.targetSubscription == nil, let filter = subscription.filter {
                if data == nil {
                    data = .some((try? EventRecord.decode(record.payload)).flatMap { try? JSONParser.parse($0.data) })
                }
                guard let value = data ?? nil, filter.matches(value) else { continue }
            }
            ledgers[id, default: DeliveryLedger()].fanOut(record.sequence, at: record.location)
            effects.fannedOut.append(FanOut(
                subscriptionID: id, event: EventReference(sequence: record.sequence, location: record.location),
                partitionKey: event.partitionKey, cause: record.sequence))
        }
    }

    /// Forgets idempotency keys that left the window.
    mutating func expireKeys(now: Int64) {
        while let oldest = keyAges.first, now - oldest.timestamp >= idempotencyWindow {
            if keys[oldest.hash]?.timestamp == oldest.timestamp {
                keys[oldest.hash] = nil
            }
            keyAges.popFirst()
        }
    }

    /// Idempotency keys are per source: two producers may pick the same key.
    static func scopedKey(_ key: String, source: String) -> String {
        source + "\u{0}" + key
    }

    // MARK: - Lookups

    /// The entry of a scoped key inside the window. Its hash matched: the caller confirms
    /// the key against the stored event.
    func key(_ scoped: String) -> KeyEntry? { keys[StableHash.of(scoped)] }

    /// Where some subscription still needs the event at `sequence`, if one does: the current
    /// place of an event retention moved.
    func owedLocation(of sequence: UInt64) -> RecordLocation? {
        ledgers.values.lazy.compactMap { $0.location(of: sequence) }.first
    }

    /// Every event some subscription still needs (pending or dead-lettered), with where it is
    /// now: what retention must carry forward rather than delete.
    func owedEvents(in segment: UInt64) -> [UInt64: RecordLocation] {
        var owed: [UInt64: RecordLocation] = [:]
        for ledger in ledgers.values {
            owed.merge(ledger.owedLocations(in: segment)) { first, _ in first }
        }
        return owed
    }
}

/// A SHA-256 digest held inline (four words, no heap allocation): what a repeat's digest is
/// compared with for every idempotency key inside the window.
struct KeyDigest: Sendable, Equatable {
    var words: (UInt64, UInt64, UInt64, UInt64)

    init(_ bytes: [UInt8]) {
        var padded = [UInt8](repeating: 0, count: 32)
        for (index, byte) in bytes.prefix(32).enumerated() { padded[index] = byte }
        func word(_ at: Int) -> UInt64 {
            padded[at..<(at + 8)].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
        words = (word(0), word(8), word(16), word(24))
    }

    init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    static func == (lhs: KeyDigest, rhs: KeyDigest) -> Bool { lhs.words == rhs.words }
}
