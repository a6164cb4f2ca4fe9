import JSON
import Logging
import Postgres
import Runtime
import Synchronization

/// Cluster mode: the gateway's state on PostgreSQL, shared by every node that points at the
/// same database (`gatewayd serve --database-url`).
///
/// The same design as the embedded store, with PostgreSQL as the journal: one ordered log
/// of the same records (`ClusterLog`, group-committed, a 202 being its COMMIT), folded by
/// every node into the same in-memory state (`GatewayFold`, the code the journal uses), so
/// every route answers the same in both modes. Events are read back from the log by id, by
/// type and time, and attempts by event.
///
/// What a fan-out owes is decided once, by the event's place in the log: every node folds
/// the same subscriptions before it and so decides the same deliveries — durable with the
/// event's record, before the 202. Which node sends them is the shard leases' business
/// (`ShardLeases`): the dispatcher of a node sees only the subscriptions it holds
/// (`deliveries`).
public final class PostgresStore: FoldBackedStore {
    public struct Configuration: Sendable {
        public var url: String
        /// This node's name in the cluster (`pg_stat_activity`, the leases table, logs).
        public var nodeID: String
        public var idempotencyWindow: Duration = .seconds(24 * 3600)
        public var leaseDuration: Duration = .seconds(45)
        public var renewInterval: Duration = .seconds(2)
        /// The longest a delivery may take: the lease must outlive it.
        public var transferTimeout: Duration = .seconds(30)
        /// How often the log is looked at when no notification came.
        public var pollInterval: Duration = .milliseconds(500)
        /// The log's partition period, when this node is the first (the cluster keeps its own).
        public var partitionPeriod: Duration = .seconds(24 * 3600)
        /// How long events are kept (whole partitions are dropped), and dead letters.
        public var retention = RetentionPolicy()
        /// How often retention, snapshots and partitions are looked after.
        public var maintenanceInterval: Duration = .seconds(10)

        public init(url: String, nodeID: String) {
            self.url = url
            self.nodeID = nodeID
        }
    }

    public enum OpenError: Error, CustomStringConvertible {
        case database(String)
        case configuration(String)

        public var description: String {
            switch self {
            case .database(let message): message
            case .configuration(let message): message
            }
        }
    }

    let state: GatewayState
    let folder: ClusterFolder
    private let log: ClusterLog
    private let tailer: ClusterTailer
    private let leases: ShardLeases
    let maintainer: ClusterMaintainer
    /// The sequence the snapshot this node started from covers (0 without one).
    public let recoveredFromSnapshot: UInt64
    private let reads: ClusterReadPool
    private let connector: ClusterConnector
    private let view: OwnedDeliveries
    private let logger: Logger
    public let nodeID: String

    /// Connects, migrates the schema, folds the whole log, and joins the cluster.
    public init(configuration: Configuration, logger: Logger) throws(OpenError) {
        let leaseConfiguration = ShardLeases.Configuration(
            leaseDuration: configuration.leaseDuration, renewInterval: configuration.renewInterval,
            transferTimeout: configuration.transferTimeout)
        if let problem = ShardLeases.problem(with: leaseConfiguration) { throw .configuration(problem) }
        self.logger = logger
        nodeID = configuration.nodeID
        connector = ClusterConnector(url: configuration.url, nodeID: configuration.nodeID)
        state = GatewayState(idempotencyWindow: configuration.idempotencyWindow)
        do {
            let connection = try connector.connect(role: "start")
            try ClusterSchema.migrate(connection, logger: logger)
            let partitions = try ClusterPartitions(connection: connection, proposed: configuration.partitionPeriod)
            folder = ClusterFolder(state: state, partitions: partitions)
            let started = monotonicMicroseconds()
            if let snapshot = try ClusterMaintainer.loadNewestSnapshot(
                connection, idempotencyWindow: configuration.idempotencyWindow.microseconds, logger: logger) {
                folder.restore(snapshot.fold, covering: snapshot.covered)
            }
            recoveredFromSnapshot = folder.foldedThrough
            try folder.catchUp(using: connection)
            logger.info("folded the cluster's log", metadata: [
                "through": "\(folder.foldedThrough)", "milliseconds": "\((monotonicMicroseconds() - started) / 1000)",
            ])
        } catch let error as ClusterSchema.Failure {
            throw .database("\(error)")
        } catch {
            throw .database("cannot open the cluster's database: \(error)")
        }
        reads = ClusterReadPool(connector: connector)
        do {
            log = try ClusterLog(folder: folder, connector: connector, nodeID: configuration.nodeID, logger: logger)
            tailer = try ClusterTailer(folder: folder, connector: connector, pollInterval: configuration.pollInterval, logger: logger)
        } catch {
            throw .database("cannot start the cluster's threads: \(error)")
        }
        view = OwnedDeliveries(state: state, folder: folder, log: log, connector: connector)
        let view = self.view
        do {
            leases = try ShardLeases(
                nodeID: configuration.nodeID, connector: connector, configuration: leaseConfiguration,
                callbacks: ShardLeases.Callbacks(gained: { view.gained($0, take: $1) }, lost: { view.lost($0) }), logger: logger)
        } catch {
            throw .database("cannot start the cluster's threads: \(error)")
        }
        view.leases = leases
        var upkeep = ClusterMaintainer.Configuration()
        upkeep.retention = configuration.retention
        upkeep.interval = configuration.maintenanceInterval
        maintainer = ClusterMaintainer(folder: folder, log: log, connector: connector, configuration: upkeep, logger: logger)
        do {
            try maintainer.start()
        } catch {
            throw .database("cannot start the cluster's threads: \(error)")
        }
    }

    public var deliveries: any DeliveryStore { view }

    func waitForWrites() {
        let done = WorkQueue<Bool>()
        log.append(ClusterLog.Append(entries: [], kind: .records) { _ in _ = done.push(true) })
        _ = done.takeAll()
    }

    public var readinessCheck: String { "database" }

    public var unavailableReason: String? {
        log.unavailableReason ?? tailer.unavailableReason ?? leases.unavailableReason
    }

    /// The shards this node delivers now.
    public var heldShards: [Int] { leases.heldShards }

    /// Gives the shards back (the other nodes take them at once), then stops writing.
    public func close() {
        maintainer.stop()
        leases.stop()
        tailer.stop()
        log.close()
        reads.close()
    }

    // MARK: - EventStore

    public func ingest(_ events: [NewEvent], completion: @escaping @Sendable (IngestOutcome) -> Void) -> IngestOutcome? {
        let log = self.log
        return IdempotentIngest(
            state: state,
            readBack: { reference throws(StoreError) in try self.event(at: reference) },
            // Decided by the write, under the log's lock, against every node's events.
            idTaken: { _ in false },
            write: { events, done in
                log.append(ClusterLog.Append(
                    entries: events.map {
                        ClusterEntry(entry: JournalEntry(kind: .event, payload: EventRecord($0).encode()), eventID: $0.id, eventType: $0.type)
                    },
                    kind: .events(events),
                    completion: { result in
                        switch result {
                        case .ingested(let outcome): done(outcome)
                        case .failed(let error): done(.unavailable(error))
                        case .written: done(.unavailable(StoreError(.corrupt, "an ingest was answered as a plain write")))
                        }
                    }))
            }
        ).ingest(events, completion: completion)
    }

    public func event(id: String) throws(StoreError) -> StoredEvent? {
        try readEvents("WHERE event_id = $1 AND kind = ANY($2::int2[]) ORDER BY sequence LIMIT 1", [.text(id), ClusterFolder.eventKinds]).first
    }

    public func event(at reference: EventReference) throws(StoreError) -> StoredEvent? {
        let folder = self.folder
        return try reads.read { connection throws(PostgresError) in
            guard let record = try folder.readEvent(at: reference, connection) else { return nil }
            return (try? EventRecord.decode(record.payload)).map { StoredEvent(record, $0) }
        }
    }

    public func events(_ query: EventQuery) throws(StoreError) -> [StoredEvent] {
        var conditions = "WHERE kind = $1 AND sequence > $2"
        var parameters: [PostgresValue] = [.int32(Int32(RecordKind.event.rawValue)), .int64(Int64(clamping: query.after))]
        if let type = query.type {
            parameters.append(.text(type))
            conditions += " AND event_type = $\(parameters.count)"
        }
        if let since = query.since {
            parameters.append(.int64(since))
            conditions += " AND committed_at >= $\(parameters.count)"
        }
        if let until = query.until {
            parameters.append(.int64(until))
            conditions += " AND committed_at < $\(parameters.count)"
        }
        parameters.append(.int64(Int64(max(0, query.limit))))
        return try readEvents(conditions + " ORDER BY sequence LIMIT $\(parameters.count)", parameters)
    }

    public func attempts(ofEvent id: String) throws(StoreError) -> [AttemptEntry]? {
        guard let event = try event(id: id) else { return nil }
        let folder = self.folder
        return try reads.read { connection throws(PostgresError) in
            let rows = try connection.execute(
                "SELECT sequence, committed_at, kind, payload FROM gateway_log WHERE subject = $1 AND kind = $2 ORDER BY sequence",
                [.int64(Int64(event.sequence)), .int32(Int32(RecordKind.deliveryAttempted.rawValue))])
            return (0..<rows.count).compactMap { row in
                let record = folder.record(rows, row)
                return (try? DeliveryAttemptRecord.decode(record.payload)).map { AttemptEntry(outcome: $0, recordedAt: record.timestamp) }
            }
        }
    }

    public var eventCount: Int { state.eventCount }

    private func readEvents(_ conditions: String, _ parameters: [PostgresValue]) throws(StoreError) -> [StoredEvent] {
        let folder = self.folder
        return try reads.read { connection throws(PostgresError) in
            let rows = try connection.execute("SELECT sequence, committed_at, kind, payload FROM gateway_log " + conditions, parameters)
            return (0..<rows.count).compactMap { row in
                guard let record = folder.record(rows, row).unwrappingCarried(), record.kind == .event else { return nil }
                return (try? EventRecord.decode(record.payload)).map { StoredEvent(record, $0) }
            }
        }
    }

    // MARK: - ConfigurationStore

    public func commit(_ change: StateChange, completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void) {
        append([ClusterEntry(entry: JournalEntry(change))], .records, completion)
    }

    public func createSource(
        name: String, tokenDigest: [UInt8], inbound: InboundConfiguration?,
        completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void
    ) -> SourceCreationRefusal? {
        guard state.reserveSourceName(name) else { return .nameTaken }
        let payload = SourceRecord(name: name, tokenDigest: tokenDigest, inbound: inbound.map(JournalStore.stored) ?? []).encode()
        let state = self.state
        append([ClusterEntry(entry: JournalEntry(kind: .sourceCreated, payload: payload))], .guarded { fold, claims in
            guard fold.sources[name] == nil, claims.names.insert("source:" + name).inserted else {
                return StoreError(.conflict, "A source named '\(name)' already exists.")
            }
            return nil
        }) { result in
            state.releaseSourceName(name)
            completion(result)
        }
        return nil
    }

    public func createTenant(
        id: String, fields: TenantInput, completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void
    ) -> TenantCreationRefusal? {
        guard state.reserveTenantID(id) else { return .idTaken }
        let payload = TenantChangeRecord(tenantID: id, created: true, fields: fields).encode()
        let state = self.state
        append([ClusterEntry(entry: JournalEntry(kind: .tenantChanged, payload: payload))], .guarded { fold, claims in
            guard fold.tenants[id] == nil, claims.names.insert("tenant:" + id).inserted else {
                return StoreError(.conflict, "A tenant with id '\(id)' already exists.")
            }
            return nil
        }) { result in
            state.releaseTenantID(id)
            completion(result)
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
        let limit = limit ?? .max
        if let refusal = state.reserveSubscriptionSlot(tenant: tenant, limit: limit) { return refusal }
        let state = self.state
        append([ClusterEntry(entry: JournalEntry(.subscriptionCreated(subscription)))], .guarded { fold, claims in
            guard fold.tenants[tenant] != nil else { return StoreError(.notFound, "No tenant with id '\(tenant)'.") }
            let count = (fold.tenantSubscriptions[tenant]?.count ?? 0) + claims.subscriptionsByTenant[tenant, default: 0]
            guard count < limit else { return StoreError(.invalid, GatewayCore.quotaReached(tenant, limit: limit).detail) }
            claims.subscriptionsByTenant[tenant, default: 0] += 1
            return nil
        }) { result in
            state.releaseSubscriptionSlot(tenant: tenant)
            completion(result)
        }
        return nil
    }

    /// One durable append of state records; the stamp of the first.
    private func append(
        _ entries: [ClusterEntry], _ kind: ClusterLog.Kind, _ completion: @escaping @Sendable (Result<CommitStamp, StoreError>) -> Void
    ) {
        log.append(ClusterLog.Append(entries: entries, kind: kind) { result in
            switch result {
            case .written(let records):
                guard let first = records.first else {
                    completion(.failure(StoreError(.unavailable, "nothing was written")))
                    return
                }
                completion(.success(CommitStamp(sequence: first.sequence, timestamp: first.timestamp)))
            case .failed(let error): completion(.failure(error))
            case .ingested: completion(.failure(StoreError(.corrupt, "a state change was answered as an ingest")))
            }
        })
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

    // MARK: - DeliveryStore (the whole cluster's, unfenced; the dispatcher uses `deliveries`)

    /// Every fan-out, of every shard (the one observer: the dispatcher's view takes the slot
    /// when it registers through `deliveries`).
    public func observeDeliveries(_ observer: @escaping @Sendable ([FanOut]) -> Void) { state.observeDeliveries(observer) }
    public func pendingSnapshot() -> PendingSnapshot { state.pendingSnapshot() }
    public var subscriptionsVersion: UInt64? { state.subscriptionsVersion }
    public func makeEventReader() -> any DeliveryEventReader { view.makeEventReader() }
    public func recordAttempts(_ outcomes: [DeliveryAttemptRecord]) { view.recordAttempts(outcomes, fenced: false) }
    @discardableResult
    public func disableSubscription(_ id: String, reason: String, done: @escaping @Sendable () -> Void) -> Bool {
        view.disableSubscription(id, reason: reason, fenced: false, done: done)
    }
}
