#if canImport(Glibc)
import Glibc
#endif
import JSON
import Logging
import Runtime
import Synchronization

/// The embedded store: the journal on local disk and the fold of it in memory. The default
/// backend, and the only one that knows about journal records, segments and locations.
public final class JournalStore: FoldBackedStore {
    public struct Configuration: Sendable {
        public var directory: String
        /// A segment is sealed and a new one started once it reaches this size.
        public var segmentSize = 64 * 1024 * 1024
        /// How long a repeated `Idempotency-Key` or producer `id` answers with the original.
        public var idempotencyWindow: Duration = .seconds(24 * 3600)
        public var retention = RetentionPolicy()
        /// How often indexes, snapshots and retention are looked after.
        public var maintenanceInterval: Duration = .seconds(1)
        /// Told of the journal's group writes and syncs (metrics).
        public var journalObserver: (any JournalObserver)?

        public init(directory: String) {
            self.directory = directory
        }

        /// A segment is also sealed once it is this old, so retention can act on light
        /// traffic: a quarter of the retention, between a second and an hour.
        var segmentMaxAge: Duration {
            min(.seconds(3600), max(.seconds(1), retention.retention / 4))
        }
    }

    let journal: Journal
    let state: GatewayState
    let history: EventHistory
    let maintainer: HistoryMaintainer
    /// The sequence the snapshot recovery started from covers (0 without one).
    public let recoveredFromSnapshot: UInt64
    private let logger: Logger

    /// Opens (creating if needed) and recovers the store in `directory`: the newest valid
    /// snapshot, then the journal after it; sealed segments are not read, only their index
    /// files opened (a missing or damaged one is rebuilt from its segment).
    public init(configuration: Configuration, logger: Logger) throws(JournalError) {
        let directory = configuration.directory
        self.logger = logger
        if mkdir(directory, 0o750) != 0 && errno != EEXIST {
            throw JournalError.failed("mkdir", errno, file: directory)
        }
        AtomicFile.removeLeftovers(in: directory)
        let window = configuration.idempotencyWindow.microseconds
        let state = GatewayState(idempotencyWindow: configuration.idempotencyWindow)
        var covered: UInt64 = 0
        let bases = try SegmentFile.list(in: directory)
        if let snapshot = FoldSnapshot.loadNewest(in: directory, idempotencyWindow: window, logger: logger) {
            state.restore(snapshot.fold)
            covered = snapshot.covered
        } else if let first = bases.first, first > 1 {
            // Segments were deleted and no snapshot holds the state they had: what is left
            // is folded, and state records from the deleted segments are gone.
            logger.critical("no readable snapshot, and the journal's first segments were deleted by retention: state recorded in them is lost",
                            metadata: ["first-segment": "\(SegmentFile.name(base: first))"])
        }
        // Sealed segments: their index files, and the first one that needs rebuilding.
        var files: [SegmentIndexFile] = []
        var recoverFrom = bases.last ?? 0
        var rebuild: Set<UInt64> = []
        for (index, base) in bases.enumerated().dropLast() {
            let next = bases[index + 1]
            if next - 1 > covered { recoverFrom = min(recoverFrom, base) }
            do throws(SegmentIndexFile.OpenError) {
                files.append(try SegmentIndexFile(directory: directory, base: base,
                                                  segmentLength: SegmentFile.size(directory: directory, base: base)))
            } catch {
                if case .damaged = error {
                    logger.warning("segment index damaged; rebuilding it from the segment",
                                   metadata: ["segment": "\(SegmentFile.name(base: base))", "reason": "\(error)"])
                }
                rebuild.insert(base)
            }
        }
        let snapshotCovers = covered
        let history = EventHistory(directory: directory, sealed: files, activeBase: bases.first(where: { $0 >= recoverFrom }) ?? 1)
        self.state = state
        self.history = history
        recoveredFromSnapshot = covered
        var journalConfiguration = Journal.Configuration(directory: directory)
        journalConfiguration.segmentSize = configuration.segmentSize
        journalConfiguration.segmentMaxAge = configuration.segmentMaxAge.microseconds
        journalConfiguration.recoverFrom = recoverFrom
        journalConfiguration.alsoRecover = rebuild
        journalConfiguration.observer = configuration.journalObserver
        journal = try Journal(configuration: journalConfiguration, logger: logger) { records in
            // The index first: once the fold releases an event's reservation, its id must be
            // found in history (`ingest`'s id check relies on it).
            history.apply(records)
            if let first = records.first, first.sequence > snapshotCovers {
                state.apply(records)
            } else {
                let fresh = records.filter { $0.sequence > snapshotCovers }
                if !fresh.isEmpty { state.apply(fresh) }
            }
        }
        history.activate(journal.activeSegment)
        if let first = bases.first { state.segmentsDeleted(before: first) }
        history.dropSealingIndexes(withFiles: Set(files.map(\.summary.base)))
        maintainer = HistoryMaintainer(journal: journal, state: state, history: history, policy: configuration.retention,
                                       directory: directory, interval: configuration.maintenanceInterval, logger: logger)
        // Indexes rebuilt by the recovery are written now, and the state snapshotted if the
        // recovery had to fold more than the active segment.
        try maintainer.writeIndexesAndSnapshot(force: recoverFrom < (bases.last ?? 0) || covered == 0 && bases.count > 1)
        try maintainer.start()
    }

    public var recovery: Journal.RecoveryReport { journal.recovery }

    func waitForWrites() {
        let done = WorkQueue<Bool>()
        journal.append([]) { _ in _ = done.push(true) }
        _ = done.takeAll()
    }

    /// Records written and `fdatasync` calls made since open.
    public var statistics: (records: Int, syncs: Int) { journal.statistics }

    /// The journal's segments and their bytes on disk (sealed and active), from the indexes
    /// in memory: cheap enough for every metrics scrape.
    public var diskUsage: (segments: Int, bytes: Int) {
        let summaries = history.summaries()
        return (summaries.count, summaries.reduce(0) { $0 + $1.length })
    }

    public var unavailableReason: String? {
        if let failure = journal.failure { return "\(failure)" }
        return journal.shortOfSpace.map { StoreError($0).message }
    }

    /// Stops the background work, closes the journal, and snapshots the final state so the
    /// next start folds nothing.
    public func close() {
        maintainer.stop()
        journal.close()
        do throws(JournalError) {
            try maintainer.writeIndexesAndSnapshot(force: true)
        } catch {
            logger.warning("final snapshot not written; the next start folds more of the journal", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - EventStore

    public func ingest(_ events: [NewEvent], completion: @escaping @Sendable (IngestOutcome) -> Void) -> IngestOutcome? {
        IdempotentIngest(
            state: state,
            readBack: { reference throws(StoreError) in try self.read(reference) },
            idTaken: { id throws(StoreError) in try self.eventLocation(id: id) != nil },
            write: { events, done in self.write(events, then: done) }
        ).ingest(events, completion: completion)
    }

    /// Appends new events in one durable group and reports their receipts, in order.
    private func write(_ events: [NewEvent], then done: @escaping @Sendable (IngestOutcome) -> Void) {
        journal.append(events.map { JournalEntry(kind: .event, payload: EventRecord($0).encode()) }) { result in
            switch result {
            case .success(let records):
                done(.stored(zip(events, records).map { EventReceipt(id: $0.id, sequence: $1.sequence, receivedAt: $1.timestamp) }))
            case .failure(let error):
                done(.unavailable(StoreError(error)))
            }
        }
    }

    /// Where the event with this id is, if it is retained.
    private func eventLocation(id: String) throws(StoreError) -> StoredEvent? {
        for location in history.candidates(id: id) {
            // A candidate that no longer reads (deleted meanwhile, or a damaged index) is
            // not this event.
            guard let record = try? journal.read(location), let original = record.unwrappingCarried(),
                  original.kind == .event, let event = try? EventRecord.decode(original.payload), event.id == id else { continue }
            return StoredEvent(original, event)
        }
        return nil
    }

    public func event(id: String) throws(StoreError) -> StoredEvent? {
        try eventLocation(id: id)
    }

    public func event(at reference: EventReference) throws(StoreError) -> StoredEvent? {
        try read(reference)
    }

    public func events(_ query: EventQuery) throws(StoreError) -> [StoredEvent] {
        var events: [StoredEvent] = []
        var page = query
        // The index matches types by hash: what the records then refuse (a collision), or
        // what retention deleted since the index was read, is made up from further on, so a
        // page is short only at the end of the history.
        while true {
            let found = history.events(page)
            for (entry, segment) in found {
                let reference = EventReference(sequence: entry.sequence, location: entry.position.location(in: segment))
                guard let event = try? read(reference) else { continue }
                if let type = query.type, event.type != type { continue }
                events.append(event)
            }
            guard let last = found.last, found.count == page.limit, events.count < query.limit else { return events }
            page.after = last.event.sequence
            page.limit = query.limit - events.count
        }
    }

    public func attempts(ofEvent id: String) throws(StoreError) -> [AttemptEntry]? {
        guard let event = try eventLocation(id: id) else { return nil }
        var attempts: [AttemptEntry] = []
        for location in history.attempts(ofEvent: event.reference.sequence) {
            // One unreadable attempt record does not hide the others.
            guard let record = try? journal.read(location),
                  let outcome = try? DeliveryAttemptRecord.decode(record.payload) else { continue }
            attempts.append(AttemptEntry(outcome: outcome, recordedAt: record.timestamp))
        }
        return attempts
    }

    public var eventCount: Int { state.eventCount }

    /// The commit time of the oldest event still retained, once retention has deleted any.
    public var retainedSince: Int64? {
        let summaries = history.summaries()
        guard let first = summaries.first, first.base > 1 || maintainer.segmentsDeleted > 0 else { return nil }
        return summaries.first(where: { $0.eventCount > 0 })?.minTime ?? wallClockMicroseconds()
    }

    /// Reads an event record back (a carried copy as its original); nil if the location
    /// holds another kind of record. An event retention moved is followed to its new place.
    private func read(_ reference: EventReference) throws(StoreError) -> StoredEvent? {
        let record: JournalRecord
        do {
            record = try journal.read(reference.location)
        } catch {
            guard let moved = state.owedLocation(of: reference.sequence), moved != reference.location,
                  let again = try? journal.read(moved) else { throw StoreError(error) }
            record = again
        }
        guard let original = record.unwrappingCarried(), original.kind == .event,
              let event = try? EventRecord.decode(original.payload) else { return nil }
        return StoredEvent(original, event)
    }

    // MARK: - ConfigurationStore

    public func commit(_ change: StateChange, completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void) {
        journal.append([JournalEntry(change)]) { completion(Self.stamp($0)) }
    }

    public func createSource(
        name: String, tokenDigest: [UInt8], inbound: InboundConfiguration?,
        completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void
    ) -> SourceCreationRefusal? {
        guard state.reserveSourceName(name) else { return .nameTaken }
        let payload = SourceRecord(name: name, tokenDigest: tokenDigest, inbound: inbound.map(Self.stored) ?? []).encode()
        let state = self.state
        journal.append([JournalEntry(kind: .sourceCreated, payload: payload)]) { result in
            // Folded in (or failed): the name is the source's now, or free again.
            state.releaseSourceName(name)
            completion(Self.stamp(result))
        }
        return nil
    }

    public func createTenant(
        id: String, fields: TenantInput, completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void
    ) -> TenantCreationRefusal? {
        guard state.reserveTenantID(id) else { return .idTaken }
        let payload = TenantChangeRecord(tenantID: id, created: true, fields: fields).encode()
        let state = self.state
        journal.append([JournalEntry(kind: .tenantChanged, payload: payload)]) { result in
            state.releaseTenantID(id)
            completion(Self.stamp(result))
        }
        return nil
    }

    public func createSubscription(
        _ subscription: Subscription, limit: Int?, completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void
    ) -> SubscriptionCreationRefusal? {
        guard let tenant = subscription.tenantID else {
            commit(.subscriptionCreated(subscription), completion: completion)
            return nil
        }
        if let refusal = state.reserveSubscriptionSlot(tenant: tenant, limit: limit ?? .max) { return refusal }
        let state = self.state
        commit(.subscriptionCreated(subscription)) { result in
            state.releaseSubscriptionSlot(tenant: tenant)
            completion(result)
        }
        return nil
    }

    /// An inbound configuration as the journal keeps it.
    static func stored(_ inbound: InboundConfiguration) -> [UInt8] {
        JSONParser.serialize(inbound.json(showingSecrets: true))
    }

    /// The stamp of a one-record append.
    private static func stamp(_ result: Result<[JournalRecord], JournalError>) -> Result<CommitStamp, StoreError> {
        result.map { CommitStamp(sequence: $0[0].sequence, timestamp: $0[0].timestamp) }.mapError(StoreError.init)
    }

    public func eventType(_ name: String) -> EventTypeState? { state.eventType(name) }
    public func eventTypes() -> [EventTypeState] { state.eventTypes() }
    public func source(named name: String) -> SourceState? { state.source(named: name) }
    public func source(tokenDigest: [UInt8]) -> String? { state.source(tokenDigest: tokenDigest) }
    public func tenant(_ id: String) -> Tenant? { state.tenant(id) }
    public func hasTenant(_ id: String) -> Bool { state.hasTenant(id) }
    public func tenants() -> [Tenant] { state.tenants() }
    public func tenantToken(digest: [UInt8]) -> TenantToken? { state.tenantToken(digest: digest) }
    public func tenantTokens(of tenantID: String) -> [TenantToken] { state.tenantTokens(of: tenantID) }
    public func subscriptions(ofTenant tenantID: String) -> [Subscription] { state.subscriptions(ofTenant: tenantID) }
    public func subscriptionCount(ofTenant tenantID: String) -> Int { state.subscriptionCount(ofTenant: tenantID) }
    public func sources() -> [SourceState] { state.sources() }
    public func subscription(_ id: String) -> Subscription? { state.subscription(id) }
    public func subscriptions() -> [Subscription] { state.subscriptions() }
    public func deliveryCounts(for subscriptionID: String) -> DeliveryCounts { state.deliveryCounts(for: subscriptionID) }
    public func deadLetters(for subscriptionID: String) -> [DeadLetterEntry] { state.deadLetters(for: subscriptionID) }
    public func owes(_ subscriptionID: String, sequence: UInt64) -> Bool { state.owes(subscriptionID, sequence: sequence) }
    public func deliveryBacklogs() -> [String: DeliveryBacklog] { state.deliveryBacklogs() }
    public func replay(_ id: String) -> ReplayState? { state.replay(id) }
    public func replays(for subscriptionID: String?) -> [ReplayState] { state.replays(for: subscriptionID) }

    // MARK: - DeliveryStore

    public func observeDeliveries(_ observer: @escaping @Sendable ([FanOut]) -> Void) {
        state.observeDeliveries(observer)
    }

    public func pendingSnapshot() -> PendingSnapshot { state.pendingSnapshot() }

    public var subscriptionsVersion: UInt64? { state.subscriptionsVersion }

    public func makeEventReader() -> any DeliveryEventReader {
        let state = self.state
        return JournalEventReader(journal: journal) { state.owedLocation(of: $0) }
    }

    /// One journal append (one hand-off to the writer) for all of them, without an
    /// `fdatasync` of their own (`durable: false`).
    public func recordAttempts(_ outcomes: [DeliveryAttemptRecord]) {
        journal.append(outcomes.map { JournalEntry(kind: .deliveryAttempted, payload: $0.encode()) }, durable: false) { _ in }
    }

    @discardableResult
    public func disableSubscription(_ id: String, reason: String, done: @escaping @Sendable () -> Void) -> Bool {
        guard let subscription = state.subscription(id), subscription.disabledReason == nil else { return false }
        let payload = SubscriptionDisabledRecord(subscriptionID: id, reason: reason).encode()
        journal.append([JournalEntry(kind: .subscriptionDisabled, payload: payload)]) { _ in done() }
        return true
    }
}

/// Event bodies for the dispatcher, read through a read-ahead (`JournalReadAhead`): the
/// dispatcher goes through the journal roughly in order, so one `pread` covers many events.
final class JournalEventReader: DeliveryEventReader {
    private let journal: Journal
    private var readAhead = JournalReadAhead()
    /// Where an event is now, when retention carried it out of the segment it was in.
    private let relocated: (UInt64) -> RecordLocation?

    init(journal: Journal, relocated: @escaping (UInt64) -> RecordLocation?) {
        self.journal = journal
        self.relocated = relocated
    }

    func envelope(_ event: EventReference) throws(StoreError) -> WebhookEnvelope? {
        WebhookEnvelope(eventRecord: try record(event))
    }

    func partitionKey(_ event: EventReference) throws(StoreError) -> String? {
        EventRecord.partitionKey(of: try record(event))
    }

    /// The event's record (a carried copy unwrapped), followed to its new place if moved.
    private func record(_ event: EventReference) throws(StoreError) -> JournalRecord {
        let record: JournalRecord
        do {
            record = try journal.read(event.location, readAhead: &readAhead)
        } catch {
            guard let moved = relocated(event.sequence), moved != event.location,
                  let again = try? journal.read(moved, readAhead: &readAhead) else { throw StoreError(error) }
            record = again
        }
        guard let original = record.unwrappingCarried() else {
            throw StoreError(.corrupt, "a carried event record at sequence \(record.sequence) does not decode")
        }
        return original
    }
}

extension StoreError {
    init(_ error: JournalError) {
        switch error {
        case .corrupt: self.init(.corrupt, "\(error)")
        // For the producer: no path, and the promise that a retry can work (`.diskFull` is
        // not sticky). The journal's own description, with the file, goes to the log.
        case .diskFull:
            self.init(.unavailable, "the disk is full (or a quota or file-size limit is reached); "
                + "writes succeed again by themselves once space is freed")
        default: self.init(.unavailable, "\(error)")
        }
    }
}

extension StoredEvent {
    init(_ record: JournalRecord, _ event: EventRecord) {
        self.init(
            reference: EventReference(sequence: record.sequence, location: record.location), id: event.id, type: event.type,
            source: event.source, partitionKey: event.partitionKey, occurredAt: event.occurredAt, receivedAt: record.timestamp,
            data: event.data, idempotencyKey: event.idempotencyKey, tenant: event.tenant, headers: event.headers)
    }
}

extension EventRecord {
    init(_ event: NewEvent) {
        self.init(
            id: event.id, type: event.type, source: event.source, partitionKey: event.partitionKey,
            occurredAt: event.occurredAt, idempotencyKey: event.idempotencyKey, bodyDigest: event.digest, data: event.data,
            targetSubscription: event.targetSubscription, tenant: event.tenant, headers: event.headers)
    }
}

extension JournalEntry {
    /// The record a state change is journaled as.
    init(_ change: StateChange) {
        switch change {
        case .eventTypeUpserted(let name, let description, let schema, let tenantVisible):
            self.init(kind: .eventTypeUpserted, payload: EventTypeRecord(
                name: name, description: description, schema: schema, tenantVisible: tenantVisible).encode())
        case .eventTypeArchived(let name):
            self.init(kind: .eventTypeArchived, payload: NameRecord(name: name).encode())
        case .sourceRevoked(let name):
            self.init(kind: .sourceRevoked, payload: NameRecord(name: name).encode())
        case .sourceConfigured(let name, let inbound):
            self.init(kind: .sourceConfigured, payload: SourceRecord(name: name, tokenDigest: [], inbound: JournalStore.stored(inbound)).encode())
        case .subscriptionCreated(let subscription):
            self.init(kind: .subscriptionUpserted, payload: JSONParser.serialize(subscription.storedJSON()))
        case .subscriptionChanged(let change):
            self.init(kind: .subscriptionChanged, payload: change.encode())
        case .subscriptionDeleted(let id):
            self.init(kind: .subscriptionDeleted, payload: NameRecord(name: id).encode())
        case .deadLettersRedelivered(let subscriptionID, let sequences):
            self.init(kind: .deadLettersChanged, payload: DeadLettersChangedRecord(
                subscriptionID: subscriptionID, action: .redeliver, sequences: sequences).encode())
        case .deadLetterDiscarded(let subscriptionID, let sequence):
            self.init(kind: .deadLettersChanged, payload: DeadLettersChangedRecord(
                subscriptionID: subscriptionID, action: .discard, sequences: [sequence]).encode())
        case .eventsResent(let subscriptionID, let events):
            self.init(kind: .deliveriesOwed, payload: DeliveriesOwedRecord(subscriptionID: subscriptionID, replayID: "", events: events).encode())
        case .replayStarted(let id, let subscriptionID, let since, let until, let types):
            self.init(kind: .replayChanged, payload: ReplayRecord(
                action: .started, replayID: id, subscriptionID: subscriptionID, since: since, until: until, types: types).encode())
        case .replayProgressed(let id, let subscriptionID, let events, let cursor, let finished):
            self.init(kind: .deliveriesOwed, payload: DeliveriesOwedRecord(
                subscriptionID: subscriptionID, replayID: id, events: events, cursor: cursor, finished: finished).encode())
        case .replayCancelled(let id, let subscriptionID):
            self.init(kind: .replayChanged, payload: ReplayRecord(action: .cancelled, replayID: id, subscriptionID: subscriptionID).encode())
        case .tenantChanged(let id, let fields):
            self.init(kind: .tenantChanged, payload: TenantChangeRecord(tenantID: id, created: false, fields: fields).encode())
        case .tenantDeleted(let id):
            self.init(kind: .tenantDeleted, payload: NameRecord(name: id).encode())
        case .tenantTokenIssued(let token):
            self.init(kind: .tenantTokenIssued, payload: TenantTokenRecord(token: token).encode())
        case .tenantTokenRevoked(let tenantID, let tokenID):
            self.init(kind: .tenantTokenRevoked, payload: TenantTokenRevokedRecord(tenantID: tenantID, tokenID: tokenID).encode())
        }
    }
}

extension WebhookEnvelope {
    /// The webhook body of an event record, written straight from the record's bytes (it
    /// runs for every delivery); nil for a record of another kind.
    init?(eventRecord record: JournalRecord) {
        guard record.kind == .event, let fields = try? EventRecord.envelopeFields(record.payload) else { return nil }
        let payload = record.payload
        var body: [UInt8] = []
        body.reserveCapacity(payload.count + 96)
        payload.withUnsafeBytes { raw in
            func field(_ name: StaticString, _ range: Range<Int>) {
                name.withUTF8Buffer { body.append(contentsOf: $0) }
                appendJSONString(utf8: UnsafeRawBufferPointer(rebasing: raw[range]), to: &body)
            }
            field("{\"id\":", fields.id)
            field(",\"type\":", fields.type)
            body.append(contentsOf: ",\"timestamp\":".utf8)
            appendJSONString(Timestamp.format(microseconds: record.timestamp), to: &body)
            field(",\"source\":", fields.source)
            body.append(contentsOf: ",\"data\":".utf8)
            body.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[fields.data]))
            body.append(UInt8(ascii: "}"))
        }
        self.init(eventID: String(decoding: payload[fields.id], as: UTF8.self), body: body, committedAt: record.timestamp)
    }
}

extension EventRecord {
    /// An event record's partition key (for ordered delivery), without decoding its data.
    static func partitionKey(of record: JournalRecord) -> String? {
        guard record.kind == .event else { return nil }
        return (try? decode(record.payload, includeData: false))?.partitionKey
    }
}
