import Runtime
import Synchronization

/// The fold of the journal (`GatewayFold`) behind a lock, with what is not journal state
/// around it: the reservations that keep two concurrent requests from writing the same
/// idempotency key, event id or source name, and the observer that hears of new deliveries.
/// The embedded store's writer thread folds commits in through `apply`; everyone else reads.
final class GatewayState: Sendable {
    /// A key whose event is being written now: the digest it is written with, and who waits
    /// to hear how it ends (a repeat that arrived meanwhile).
    struct InFlightKey {
        var digest: [UInt8]
        var waiters: [@Sendable (EventReceipt?) -> Void] = []
    }

    struct Reservations {
        var keys: [String: InFlightKey] = [:]
        var ids: Set<String> = []
        var sourceNames: Set<String> = []
        var tenantIDs: Set<String> = []
        /// Subscriptions being created per tenant: they count against its quota already.
        var tenantSubscriptions: [String: Int] = [:]
    }

    private struct Storage {
        var fold: GatewayFold
        var reserved = Reservations()
        /// The first segment retention has not deleted.
        var retainedFrom: UInt64 = 0
    }

    private let storage: Mutex<Storage>
    /// What every ingest request reads — event types (schemas, visibility) and which tenants
    /// exist — under a lock of its own, kept up to date as the fold applies their records:
    /// ingest never waits for the writer folding a batch in.
    private let catalog = Mutex(Catalog())
    /// Counts the records that changed a subscription (`DeliveryStore.subscriptionsVersion`).
    private let subscriptionChanges = Atomic<UInt64>(0)

    private struct Catalog {
        var eventTypes: [String: EventTypeState] = [:]
        var tenants: Set<String> = []
    }
    /// Boxed: a closure stored directly in a `Mutex` is re-abstracted on every `withLock`
    /// (its `inout` goes through the generic storage and back), so each read wrapped it in
    /// two more thunks — a chain that grew with every commit, costing more time on every call
    /// and memory (the soak's slow RSS growth), until it would overflow the stack.
    private let deliveryObserver = Mutex<DeliveryObserverBox?>(nil)
    private let clock: @Sendable () -> Int64

    init(idempotencyWindow: Duration, clock: @escaping @Sendable () -> Int64 = wallClockMicroseconds) {
        storage = Mutex(Storage(fold: GatewayFold(idempotencyWindow: idempotencyWindow.microseconds)))
        self.clock = clock
    }

    /// Starts from a fold restored from a snapshot (before any record is applied).
    func restore(_ fold: GatewayFold) {
        storage.withLock { $0.fold = fold }
        catalog.withLock { $0 = Catalog(eventTypes: fold.eventTypes, tenants: Set(fold.tenants.keys)) }
    }

    /// The fold as it stands: a copy that shares storage until either side changes (the
    /// writer's next change then copies what it touches, once).
    func currentFold() -> GatewayFold { read { $0 } }

    // MARK: - Folding

    /// Folds committed (or replayed) records in, in journal order; then releases the keys
    /// they committed (answering whoever waited on them) and reports the deliveries they
    /// created. Runs on the journal's writer thread.
    func apply(_ records: [JournalRecord]) {
        let now = clock()
        let (effects, waiting) = storage.withLock { state -> (GatewayFold.Effects, [(waiters: [@Sendable (EventReceipt?) -> Void], receipt: EventReceipt)]) in
            let effects = state.fold.apply(records, now: now)
            updateCatalog(from: records, fold: state.fold)
            var waiting: [(waiters: [@Sendable (EventReceipt?) -> Void], receipt: EventReceipt)] = []
            for committed in effects.committedKeys {
                if let held = state.reserved.keys.removeValue(forKey: committed.key), !held.waiters.isEmpty {
                    var receipt = committed.receipt
                    receipt.duplicate = true
                    waiting.append((held.waiters, receipt))
                }
                state.reserved.ids.remove(committed.receipt.id)
            }
            return (effects, waiting)
        }
        // Outside the lock: waiters answer requests; the observer may read state.
        for (waiters, receipt) in waiting { waiters.forEach { $0(receipt) } }
        if !effects.fannedOut.isEmpty, let box = deliveryObserver.withLock({ $0 }) { box.observer(effects.fannedOut) }
    }

    /// Brings the catalog up to date with the records just folded in: the event types as a
    /// whole (a few, rarely changed), tenants one by one (there may be 10,000); and counts a
    /// batch that changed subscriptions.
    private func updateCatalog(from records: [JournalRecord], fold: GatewayFold) {
        var typesChanged = false
        var tenantsChanged: [String] = []
        var subscriptionsChanged = false
        for record in records {
            switch record.kind {
            case .subscriptionUpserted, .subscriptionChanged, .subscriptionDeleted, .subscriptionDisabled: subscriptionsChanged = true
            case .eventTypeUpserted, .eventTypeArchived: typesChanged = true
            case .tenantChanged: if let change = try? TenantChangeRecord.decode(record.payload) { tenantsChanged.append(change.tenantID) }
            case .tenantDeleted:
                if let id = try? NameRecord.decode(record.payload).name { tenantsChanged.append(id) }
                subscriptionsChanged = true
            default: continue
            }
        }
        if subscriptionsChanged { subscriptionChanges.add(1, ordering: .releasing) }
        guard typesChanged || !tenantsChanged.isEmpty else { return }
        catalog.withLock { catalog in
            if typesChanged { catalog.eventTypes = fold.eventTypes }
            for id in tenantsChanged {
                if fold.tenants[id] != nil { catalog.tenants.insert(id) } else { catalog.tenants.remove(id) }
            }
        }
    }

    func observeDeliveries(_ observer: @escaping @Sendable ([FanOut]) -> Void) {
        deliveryObserver.withLock { $0 = DeliveryObserverBox(observer: observer) }
    }

    /// Reads the fold under the lock.
    func read<T>(_ body: (GatewayFold) -> T) -> T {
        storage.withLock { body($0.fold) }
    }

    // MARK: - Reservations

    /// How one event of an ingest request stands against what is stored and in flight.
    enum Reservation {
        /// New: written by this request; its key and id are held until it commits or fails.
        case fresh
        /// The same request was stored before (by this key's hash: the caller confirms the
        /// key against the stored event).
        case repeated(GatewayFold.KeyEntry)
        /// The same request is being written by another request right now; `wait` hears
        /// when it ends.
        case inFlight
        case conflict(IngestConflict)
    }

    /// Checks every event of a request and, unless one conflicts, holds the keys and ids of
    /// the fresh ones so a concurrent repeat cannot write them a second time. On a conflict
    /// nothing is held. `wait` is registered for each event whose first request is in flight.
    func reserve(
        _ events: [NewEvent], waitingWith wait: (Int) -> @Sendable (EventReceipt?) -> Void
    ) -> (reservations: [Reservation], conflict: (index: Int, IngestConflict)?) {
        let now = clock()
        return storage.withLock { state in
            state.fold.expireKeys(now: now)
            var reservations: [Reservation] = []
            reservations.reserveCapacity(events.count)
            for (index, event) in events.enumerated() {
                let reservation = Self.check(event, in: state)
                if case .conflict(let conflict) = reservation {
                    // Undo what this request held so far, and the waits it registered (each
                    // the last on its key: the lock has been held since).
                    for (earlier, held) in zip(events, reservations) {
                        switch held {
                        case .fresh: Self.release(earlier, in: &state.reserved)
                        case .inFlight:
                            let scoped = GatewayFold.scopedKey(earlier.idempotencyKey ?? "", source: earlier.source)
                            _ = state.reserved.keys[scoped]?.waiters.popLast()
                        case .repeated, .conflict: break
                        }
                    }
                    return ([], (index, conflict))
                }
                reservations.append(reservation)
                switch reservation {
                case .fresh:
                    // Without a key the id is the gateway's own, unique by construction.
                    if let key = event.idempotencyKey {
                        state.reserved.keys[GatewayFold.scopedKey(key, source: event.source)] = InFlightKey(digest: event.digest)
                        state.reserved.ids.insert(event.id)
                    }
                case .inFlight:
                    let scoped = GatewayFold.scopedKey(event.idempotencyKey ?? "", source: event.source)
                    state.reserved.keys[scoped]?.waiters.append(wait(index))
                case .repeated, .conflict:
                    break
                }
            }
            return (reservations, nil)
        }
    }

    private static func check(_ event: NewEvent, in state: Storage) -> Reservation {
        if let key = event.idempotencyKey {
            let scoped = GatewayFold.scopedKey(key, source: event.source)
            if var entry = state.fold.key(scoped), let retained = Self.retained(entry, in: state) {
                entry.location = retained
                return entry.digest == KeyDigest(event.digest) ? .repeated(entry) : .conflict(.keyReused(key))
            }
            if let held = state.reserved.keys[scoped] {
                return held.digest == event.digest ? .inFlight : .conflict(.keyReused(key))
            }
        }
        // Ids in history are checked by the store, against its index, once this is held.
        if state.reserved.ids.contains(event.id) {
            return .conflict(.idTaken(event.id))
        }
        return .fresh
    }

    /// Where a key's event is now, or nil when retention deleted it (shorter retention than
    /// idempotency window): the key is then forgotten with its event. An event retention
    /// carried forward because it is still owed keeps its key.
    private static func retained(_ entry: GatewayFold.KeyEntry, in state: Storage) -> RecordLocation? {
        guard entry.location.segment < state.retainedFrom else { return entry.location }
        return state.fold.owedLocation(of: entry.sequence)
    }

    /// Segments before this one were deleted by retention (set by the maintainer).
    func segmentsDeleted(before base: UInt64) {
        storage.withLock { $0.retainedFrom = max($0.retainedFrom, base) }
    }

    /// After a successful write: settles whatever the fold did not (it settles a key when it
    /// folds the event in; a record it could not decode would otherwise hold the key, and
    /// keep its waiters waiting, for good).
    func settle(_ events: [NewEvent], receipts: [EventReceipt]) {
        let waiting = storage.withLock { state in
            zip(events, receipts).compactMap { event, receipt -> ([@Sendable (EventReceipt?) -> Void], EventReceipt)? in
                guard let key = event.idempotencyKey else { return nil }
                state.reserved.ids.remove(event.id)
                guard let held = state.reserved.keys.removeValue(forKey: GatewayFold.scopedKey(key, source: event.source)) else { return nil }
                var repeated = receipt
                repeated.duplicate = true
                return (held.waiters, repeated)
            }
        }
        for (waiters, receipt) in waiting { waiters.forEach { $0(receipt) } }
    }

    /// Releases what a request held for events whose write failed; whoever waited on their
    /// keys hears that nothing was stored.
    func release(_ events: [NewEvent]) {
        let waiters = storage.withLock { state in
            events.flatMap { Self.release($0, in: &state.reserved) }
        }
        waiters.forEach { $0(nil) }
    }

    @discardableResult
    private static func release(_ event: NewEvent, in reserved: inout Reservations) -> [@Sendable (EventReceipt?) -> Void] {
        reserved.ids.remove(event.id)
        guard let key = event.idempotencyKey else { return [] }
        return reserved.keys.removeValue(forKey: GatewayFold.scopedKey(key, source: event.source))?.waiters ?? []
    }

    /// Holds a source name for a create, unless a source has it or another create holds it.
    func reserveSourceName(_ name: String) -> Bool {
        reserve(name, in: \.sourceNames) { $0.sources[name] != nil }
    }

    func releaseSourceName(_ name: String) {
        release(name, in: \.sourceNames)
    }

    /// Holds a tenant id for a create, unless a tenant has it or another create holds it.
    func reserveTenantID(_ id: String) -> Bool {
        reserve(id, in: \.tenantIDs) { $0.tenants[id] != nil }
    }

    func releaseTenantID(_ id: String) {
        release(id, in: \.tenantIDs)
    }

    /// Holds a name unless the fold has it (`taken`) or another create holds it already.
    private func reserve(_ name: String, in held: WritableKeyPath<Reservations, Set<String>>, taken: (GatewayFold) -> Bool) -> Bool {
        storage.withLock { state in
            guard !taken(state.fold) else { return false }
            return state.reserved[keyPath: held].insert(name).inserted
        }
    }

    private func release(_ name: String, in held: WritableKeyPath<Reservations, Set<String>>) {
        _ = storage.withLock { $0.reserved[keyPath: held].remove(name) }
    }

    /// Holds one of a tenant's subscription slots for a create, unless the tenant is gone or
    /// its subscriptions and the creates in flight already reach `limit`.
    func reserveSubscriptionSlot(tenant: String, limit: Int) -> SubscriptionCreationRefusal? {
        storage.withLock { state in
            guard state.fold.tenants[tenant] != nil else { return .noSuchTenant }
            let held = (state.fold.tenantSubscriptions[tenant]?.count ?? 0) + state.reserved.tenantSubscriptions[tenant, default: 0]
            guard held < limit else { return .quotaReached(limit: limit) }
            state.reserved.tenantSubscriptions[tenant, default: 0] += 1
            return nil
        }
    }

    func releaseSubscriptionSlot(tenant: String) {
        storage.withLock { state in
            state.reserved.tenantSubscriptions[tenant, default: 1] -= 1
            if state.reserved.tenantSubscriptions[tenant] == 0 { state.reserved.tenantSubscriptions[tenant] = nil }
        }
    }

    // MARK: - Queries

    var eventCount: Int { read { $0.eventCount } }

    /// Every event still owed in `segment`, with where it is now.
    func owedEvents(in segment: UInt64) -> [UInt64: RecordLocation] { read { $0.owedEvents(in: segment) } }

    /// Where some subscription still needs the event at `sequence`, if one does: the current
    /// place of an event retention moved.
    func owedLocation(of sequence: UInt64) -> RecordLocation? {
        read { $0.owedLocation(of: sequence) }
    }

    /// Dead letters older than `cutoff`, by subscription (for `--dead-letter-retention`).
    func deadLetters(before cutoff: Int64) -> [String: [UInt64]] {
        read { fold in
            var expired: [String: [UInt64]] = [:]
            for (id, ledger) in fold.ledgers {
                let old = ledger.deadLetterOrder.filter { (ledger.deadLetters[$0]?.deadLetteredAt ?? .max) < cutoff }
                if !old.isEmpty { expired[id] = old }
            }
            return expired
        }
    }

    func eventType(_ name: String) -> EventTypeState? { catalog.withLock { $0.eventTypes[name] } }

    func eventTypes() -> [EventTypeState] { catalog.withLock { $0.eventTypes.values.sorted { $0.name < $1.name } } }

    func hasTenant(_ id: String) -> Bool { catalog.withLock { $0.tenants.contains(id) } }

    var subscriptionsVersion: UInt64 { subscriptionChanges.load(ordering: .acquiring) }

    func subscription(_ id: String) -> Subscription? { read { $0.subscriptions[id] } }

    func subscriptions() -> [Subscription] {
        read { $0.subscriptions.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }
    }

    func source(tokenDigest: [UInt8]) -> String? { read { $0.sourcesByDigest[tokenDigest] } }

    func tenant(_ id: String) -> Tenant? { read { $0.tenants[id] } }

    func tenants() -> [Tenant] { read { $0.tenants.values.sorted { $0.id < $1.id } } }

    func tenantToken(digest: [UInt8]) -> TenantToken? {
        read { fold in fold.tenantTokensByDigest[digest].flatMap { fold.tenantTokens[$0] } }
    }

    func tenantTokens(of tenantID: String) -> [TenantToken] {
        read { $0.tenantTokens.values.filter { $0.tenantID == tenantID }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }
    }

    func subscriptions(ofTenant tenantID: String) -> [Subscription] {
        read { fold in
            (fold.tenantSubscriptions[tenantID] ?? []).compactMap { fold.subscriptions[$0] }
                .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    func subscriptionCount(ofTenant tenantID: String) -> Int { read { $0.tenantSubscriptions[tenantID]?.count ?? 0 } }

    func sources() -> [SourceState] { read { $0.sources.values.sorted { $0.name < $1.name } } }

    func source(named name: String) -> SourceState? { read { $0.sources[name] } }

    func pendingSnapshot() -> PendingSnapshot {
        read { fold in
            let owed = fold.subscriptions.values.map { subscription in
                PendingSnapshot.Owed(subscriptionID: subscription.id, ordered: subscription.ordered,
                                     pending: Self.pending(for: subscription.id, in: fold, limit: .max))
            }
            return PendingSnapshot(through: fold.appliedThrough, owed: owed)
        }
    }

    /// Deliveries owed to `subscriptionID` in journal order, with how far each has got.
    func pendingDeliveries(for subscriptionID: String, limit: Int = .max) -> [PendingDelivery] {
        read { Self.pending(for: subscriptionID, in: $0, limit: limit) }
    }

    private static func pending(for subscriptionID: String, in fold: GatewayFold, limit: Int) -> [PendingDelivery] {
        guard let ledger = fold.ledgers[subscriptionID] else { return [] }
        return ledger.pending(limit: limit).map { sequence, item in
            PendingDelivery(
                event: EventReference(sequence: sequence, location: item.location), attempts: item.progress?.attempts ?? 0,
                firstAttemptAt: item.progress?.firstAttemptAt, nextAttemptAt: item.progress?.nextAttemptAt,
                lastError: item.progress?.lastError)
        }
    }

    func deliveryCounts(for subscriptionID: String) -> DeliveryCounts {
        read { fold in
            let ledger = fold.ledgers[subscriptionID] ?? DeliveryLedger()
            let latency = ledger.durations.percentiles([50, 99])
            return DeliveryCounts(
                pending: ledger.pendingCount, delivered: ledger.delivered, deadLettered: ledger.deadLetters.count,
                attempts: ledger.attempts, failedAttempts: ledger.failedAttempts,
                p50DurationMicroseconds: latency[0], p99DurationMicroseconds: latency[1],
                lastError: ledger.lastError?.message, lastErrorAt: ledger.lastError?.at)
        }
    }

    /// Pending deliveries and dead letters of every subscription, under one read.
    /// Whether the subscription still owes the event at `sequence` (pending or dead-lettered).
    func owes(_ subscriptionID: String, sequence: UInt64) -> Bool {
        read { $0.ledgers[subscriptionID]?.location(of: sequence) != nil }
    }

    func replay(_ id: String) -> ReplayState? { read { $0.replays[id] } }

    /// Replays of one subscription (all when nil), oldest first.
    func replays(for subscriptionID: String?) -> [ReplayState] {
        read { fold in
            fold.replays.values.filter { subscriptionID == nil || $0.subscriptionID == subscriptionID }
                .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    func deliveryBacklogs() -> [String: DeliveryBacklog] {
        read { fold in
            var backlogs: [String: DeliveryBacklog] = [:]
            backlogs.reserveCapacity(fold.subscriptions.count)
            for id in fold.subscriptions.keys {
                let ledger = fold.ledgers[id]
                backlogs[id] = DeliveryBacklog(pending: ledger?.pendingCount ?? 0, deadLettered: ledger?.deadLetters.count ?? 0)
            }
            return backlogs
        }
    }

    /// Dead letters of `subscriptionID`, oldest first.
    func deadLetters(for subscriptionID: String) -> [DeadLetterEntry] {
        read { fold in
            guard let ledger = fold.ledgers[subscriptionID] else { return [] }
            return ledger.deadLetterOrder.compactMap { sequence in
                guard let letter = ledger.deadLetters[sequence] else { return nil }
                return DeadLetterEntry(event: EventReference(sequence: sequence, location: letter.location), attempts: letter.attempts,
                                       deadLetteredAt: letter.deadLetteredAt, reason: letter.reason)
            }
        }
    }
}

/// The delivery observer, held by reference (see `GatewayState.deliveryObserver`).
final class DeliveryObserverBox: Sendable {
    let observer: @Sendable ([FanOut]) -> Void

    init(observer: @escaping @Sendable ([FanOut]) -> Void) {
        self.observer = observer
    }
}
