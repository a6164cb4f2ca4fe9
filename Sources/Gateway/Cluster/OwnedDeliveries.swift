import Postgres
import Synchronization

/// The delivery side's view of the cluster's store on this node: only the subscriptions
/// whose shards this node leases. Their fan-outs reach the dispatcher, their settings read
/// as usual; the others read as absent. Outcomes are written fenced by the lease they were
/// made under, so a node that lost a shard cannot record over its new owner.
final class OwnedDeliveries: DeliveryStore, Sendable {
    private struct Observers {
        var gained: (@Sendable (PendingSnapshot) -> Void)?
        var lost: (@Sendable ([String]) -> Void)?
    }

    private let state: GatewayState
    private let folder: ClusterFolder
    private let log: ClusterLog
    private let connector: ClusterConnector
    private let observers = Mutex(Observers())
    private let leaseHolder = Mutex<ShardLeases?>(nil)

    init(state: GatewayState, folder: ClusterFolder, log: ClusterLog, connector: ClusterConnector) {
        self.state = state
        self.folder = folder
        self.log = log
        self.connector = connector
    }

    /// Set once, right after the leases start (they report nothing held before).
    var leases: ShardLeases? {
        get { leaseHolder.withLock { $0 } }
        set { leaseHolder.withLock { $0 = newValue } }
    }

    private func lease(of subscriptionID: String) -> ShardLease? {
        leases?.lease(of: ShardLeases.shard(of: subscriptionID))
    }

    func owns(_ subscriptionID: String) -> Bool { lease(of: subscriptionID) != nil }

    // MARK: - Ownership changes (the lease thread)

    func gained(_ leases: [ShardLease], take: () -> Void) {
        let shards = Set(leases.map(\.shard))
        folder.whileHeld {
            take()
            var snapshot = state.pendingSnapshot()
            snapshot.owed.removeAll { !shards.contains(ShardLeases.shard(of: $0.subscriptionID)) }
            observers.withLock { $0.gained }?(snapshot)
        }
    }

    func lost(_ shards: [Int]) {
        let lost = Set(shards)
        let ids = state.subscriptions().map(\.id).filter { lost.contains(ShardLeases.shard(of: $0)) }
        if !ids.isEmpty { observers.withLock { $0.lost }?(ids) }
    }

    // MARK: - DeliveryStore

    func observeDeliveries(_ observer: @escaping @Sendable ([FanOut]) -> Void) {
        state.observeDeliveries { [self] fanOuts in
            let mine = fanOuts.filter { owns($0.subscriptionID) }
            if !mine.isEmpty { observer(mine) }
        }
    }

    func observeOwnership(gained: @escaping @Sendable (PendingSnapshot) -> Void, lost: @escaping @Sendable ([String]) -> Void) {
        observers.withLock { $0 = Observers(gained: gained, lost: lost) }
    }

    func pendingSnapshot() -> PendingSnapshot {
        folder.whileHeld {
            var snapshot = state.pendingSnapshot()
            snapshot.owed.removeAll { !owns($0.subscriptionID) }
            return snapshot
        }
    }

    func subscription(_ id: String) -> Subscription? { owns(id) ? state.subscription(id) : nil }

    func tenant(_ id: String) -> Tenant? { state.tenant(id) }

    var subscriptionsVersion: UInt64? { state.subscriptionsVersion }

    func makeEventReader() -> any DeliveryEventReader {
        ClusterEventReader(folder: folder, connector: connector)
    }

    func recordAttempts(_ outcomes: [DeliveryAttemptRecord]) { recordAttempts(outcomes, fenced: true) }

    @discardableResult
    func disableSubscription(_ id: String, reason: String, done: @escaping @Sendable () -> Void) -> Bool {
        disableSubscription(id, reason: reason, fenced: true, done: done)
    }

    /// Fenced: only outcomes of subscriptions this node holds, each written only if it still
    /// holds the lease at commit. Unfenced (the store's own, for tools and tests): all.
    func recordAttempts(_ outcomes: [DeliveryAttemptRecord], fenced: Bool) {
        let entries = outcomes.compactMap { outcome -> ClusterEntry? in
            let lease = fenced ? lease(of: outcome.subscriptionID) : nil
            if fenced && lease == nil { return nil }  // another node's now
            return ClusterEntry(entry: JournalEntry(kind: .deliveryAttempted, payload: outcome.encode()), subject: outcome.sequence, fence: lease)
        }
        guard !entries.isEmpty else { return }
        log.append(ClusterLog.Append(entries: entries, kind: .records) { _ in })
    }

    func disableSubscription(_ id: String, reason: String, fenced: Bool, done: @escaping @Sendable () -> Void) -> Bool {
        guard let subscription = state.subscription(id), subscription.disabledReason == nil else { return false }
        let lease = fenced ? lease(of: id) : nil
        if fenced && lease == nil { return false }
        let payload = SubscriptionDisabledRecord(subscriptionID: id, reason: reason).encode()
        log.append(ClusterLog.Append(
            entries: [ClusterEntry(entry: JournalEntry(kind: .subscriptionDisabled, payload: payload), fence: lease)],
            kind: .records) { _ in done() })
        return true
    }
}

/// Event bodies for the dispatcher, read from the log a few dozen at a time: the dispatcher
/// goes through events roughly in order, so one query serves many deliveries.
final class ClusterEventReader: DeliveryEventReader {
    private let folder: ClusterFolder
    private let connector: ClusterConnector
    private var connection: PostgresConnection?
    private var held: [UInt64: JournalRecord] = [:]
    /// Records (of any kind) read ahead past the one asked for.
    static let readAhead = 256

    init(folder: ClusterFolder, connector: ClusterConnector) {
        self.folder = folder
        self.connector = connector
    }

    func envelope(_ event: EventReference) throws(StoreError) -> WebhookEnvelope? {
        WebhookEnvelope(eventRecord: try record(event))
    }

    func partitionKey(_ event: EventReference) throws(StoreError) -> String? {
        EventRecord.partitionKey(of: try record(event))
    }

    /// The event's record (a carried copy unwrapped), from what was read ahead, else read
    /// with the events after it in its partition (by where the records are now).
    private func record(_ event: EventReference) throws(StoreError) -> JournalRecord {
        if let record = held[event.location.offset] { return record }
        if held.count >= 16 * Self.readAhead { held.removeAll(keepingCapacity: true) }
        do throws(PostgresError) {
            let open: PostgresConnection
            if let connection { open = connection } else { open = try connector.connect(role: "deliveries") }
            connection = open
            let (lower, _) = folder.partitions.bounds(of: Int64(event.location.segment))
            // A closed range of sequences, not `ORDER BY … LIMIT`: its plan (the sequence
            // index) does not depend on statistics, which a partition filling up has not got
            // yet — without them PostgreSQL sorted the whole partition for each read.
            let first = Int64(event.location.offset)
            let rows = try open.execute("""
                SELECT sequence, committed_at, kind, payload FROM gateway_log
                WHERE sequence >= $1 AND sequence < $2 AND committed_at >= $3 AND kind = ANY($4::int2[])
                """, [.int64(first), .int64(first + Int64(Self.readAhead)), .int64(lower), ClusterFolder.eventKinds])
            for row in 0..<rows.count {
                let record = folder.record(rows, row)
                if let original = record.unwrappingCarried() { held[record.sequence] = original }
            }
            if held[event.location.offset] == nil, let found = try folder.readEvent(at: event, open) {
                return found  // carried by retention since the reference was made
            }
        } catch {
            if error.connectionLost { connection = nil }
            throw StoreError(.unavailable, "the cluster's database cannot be read now (\(error.message))")
        }
        guard let record = held[event.location.offset] else {
            throw StoreError(.corrupt, "no event at sequence \(event.sequence) in the cluster's log")
        }
        return record
    }
}
