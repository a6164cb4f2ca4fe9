#if canImport(Glibc)
import Glibc
#endif
import Logging
import Postgres
import Runtime
import Synchronization

/// A shard of subscriptions as leased to this node: the epoch it was taken at. A record made
/// under a lease is written only if the node still holds that lease at commit (fencing).
struct ShardLease: Hashable, Sendable {
    var shard: Int
    var epoch: Int64
}

/// What the appends of one transaction claimed before the next one is checked: they are not
/// in the fold yet.
struct BatchClaims: Sendable {
    var names: Set<String> = []
    var subscriptionsByTenant: [String: Int] = [:]
}

/// A record to append, with what the cluster's tables index of it.
struct ClusterEntry: Sendable {
    var entry: JournalEntry
    var eventID: String? = nil
    var eventType: String? = nil
    /// An attempt outcome's event sequence, for `GET /v1/events/{id}/attempts`.
    var subject: UInt64? = nil
    var fence: ShardLease? = nil
}

/// The cluster's appends: one writer thread per node takes every append that piled up and
/// writes them in one transaction (group commit, as the journal's writer does), committed
/// with `synchronous_commit = on` before anyone is told (DESIGN invariant 1: a 202 is a
/// COMMIT).
///
/// Every commit waits for the disk, attempt outcomes' too, although the journal writes
/// those lazily: every node folds a record as soon as it is committed, so a record an
/// asynchronous commit lost in a PostgreSQL crash would have been folded already, its
/// sequence then taken again by the next write after recovery — which nodes that folded
/// the lost one would skip (`make chaos` found this: acknowledged events never delivered).
///
/// Every append, on every node, first locks the log's head row: sequences are taken under
/// it and it is held through COMMIT, so the log's order is the commit order and has no gaps
/// — a node folding the log never sees a later record before an earlier one that may still
/// commit (the hazard of sequences taken before commit: an ordered lane could deliver a
/// key's later event first). Holding it, the writer also folds what other nodes appended,
/// so the checks it makes there — idempotency keys, producer ids, names, quotas, leases —
/// are exact across the cluster.
final class ClusterLog: Sendable {
    enum Kind: Sendable {
        /// Written as they are (fenced entries of a lost lease are left out).
        case records
        /// New events: repeats and conflicts with every node's writes are decided here.
        case events([NewEvent])
        /// Written unless the check, run on the up-to-date fold (and what the appends before
        /// it in the same transaction claimed), refuses.
        case guarded(@Sendable (GatewayFold, inout BatchClaims) -> StoreError?)
    }

    enum Result: Sendable {
        /// The records written, in order.
        case written([JournalRecord])
        case ingested(IngestOutcome)
        case failed(StoreError)
    }

    struct Append: Sendable {
        var entries: [ClusterEntry]
        var kind: Kind
        var completion: @Sendable (Result) -> Void
    }

    private let folder: ClusterFolder
    private let connector: ClusterConnector
    private let nodeID: String
    private let logger: Logger
    private let queue = WorkQueue<Append>()
    private let thread = Mutex<pthread_t?>(nil)
    /// Why the last write failed for want of PostgreSQL, until one succeeds.
    private let failure = Mutex<String?>(nil)

    init(folder: ClusterFolder, connector: ClusterConnector, nodeID: String, logger: Logger) throws(SystemError) {
        self.folder = folder
        self.connector = connector
        self.nodeID = nodeID
        self.logger = logger
        let handle = try spawnThread(name: "cluster-writer") { [self] in run() }
        thread.withLock { $0 = handle }
    }

    var unavailableReason: String? { failure.withLock { $0 } }

    func append(_ append: Append) {
        if !queue.push(append) { append.completion(.failed(StoreError(.unavailable, "the gateway is shutting down"))) }
    }

    /// Finishes what is queued, then stops.
    func close() {
        queue.close()
        if let handle = thread.withLock({ $0 }) { pthread_join(handle, nil) }
        thread.withLock { $0 = nil }
    }

    // MARK: - The writer thread

    private func run() {
        var connection: PostgresConnection?
        while true {
            let batch: [Append]
            switch queue.takeAll() {
            case .items(let items): batch = items
            case .timedOut: continue
            case .closed: return
            }
            // Large piles go in transactions of a bounded size (statements have a limit on
            // parameters, and one huge transaction would hold the head row for long).
            var start = 0
            while start < batch.count {
                var end = start, rows = 0
                while end < batch.count && (end == start || rows + batch[end].entries.count <= 4000) {
                    rows += batch[end].entries.count
                    end += 1
                }
                write(Array(batch[start..<end]), connection: &connection)
                start = end
            }
        }
    }

    private func write(_ batch: [Append], connection: inout PostgresConnection?) {
        let results: [Result]
        var committed: [JournalRecord] = []
        do throws(PostgresError) {
            let open: PostgresConnection
            if let connection { open = connection } else { open = try connector.connect(role: "writer") }
            connection = open
            (results, committed) = try transact(batch, open)
            failure.withLock { $0 = nil }
        } catch {
            if error.connectionLost {
                connection = nil
                failure.withLock { $0 = "PostgreSQL is unreachable: \(error.message)" }
            } else if connection?.isHealthy == true {
                _ = try? connection?.run("ROLLBACK")
            }
            logger.warning("cluster write failed", metadata: ["error": "\(error)"])
            let failed = StoreError(.unavailable, "the cluster's database cannot be written now (\(error.message)); try again")
            results = batch.map { _ in .failed(failed) }
        }
        // Read-after-write: this node's own records are folded before anyone hears of them.
        if !committed.isEmpty { folder.apply(committed) }
        for (append, result) in zip(batch, results) { append.completion(result) }
    }

    /// One transaction for the batch; makes the partition first when the commit time is in
    /// one that does not exist yet.
    private func transact(_ batch: [Append], _ connection: PostgresConnection) throws(PostgresError) -> ([Result], [JournalRecord]) {
        while true {
            let head = try connection.run("BEGIN; SELECT sequence, committed_at FROM gateway_head WHERE id = 1 FOR UPDATE")
            let headSequence = UInt64(head.int64(0, 0) ?? 0)
            guard headSequence >= folder.foldedThrough else {
                // The database lost records this node folded (restored from an older backup,
                // or a failover to a standby that was behind): appending now would reuse their
                // sequences. Only a restart, which folds the log as it is, is safe.
                logger.critical("the cluster's log is behind what this node folded; restart this node", metadata: [
                    "log-head": "\(headSequence)", "folded": "\(folder.foldedThrough)",
                ])
                throw PostgresError(sqlState: nil, message: "the database's log went back in time (head \(headSequence), folded \(folder.foldedThrough)); restart this node", connectionLost: false)
            }
            let timestamp = max(wallClockMicroseconds(), head.int64(0, 1) ?? 0)
            let partition = folder.partitions.number(at: timestamp)
            guard folder.partitions.exists(partition) else {
                try connection.run("ROLLBACK")
                try folder.partitions.refresh(connection)
                if !folder.partitions.exists(partition) { try folder.partitions.create(partition, connection) }
                continue
            }
            // Other nodes' appends since this node last folded: decided against, too.
            try folder.catchUp(through: headSequence, using: connection)
            let decided = try decide(batch, connection)
            var records: [JournalRecord] = []
            var rows: [ClusterEntry] = []
            var next = headSequence
            var results: [Result] = []
            for entries in decided.entries {
                var written: [JournalRecord] = []
                for entry in entries {
                    next += 1
                    let record = JournalRecord(
                        sequence: next, timestamp: timestamp, kind: entry.entry.kind, payload: entry.entry.payload,
                        location: folder.location(sequence: next, timestamp: timestamp, length: entry.entry.payload.count))
                    written.append(record)
                    rows.append(entry)
                }
                records += written
                results.append(.written(written))
            }
            for (index, verdict) in decided.verdicts.enumerated() {
                if let verdict { results[index] = verdict(results[index]) }
            }
            if !rows.isEmpty {
                try insert(rows, records, connection)
                try insertKeys(batch, decided.entries, records, connection)
                try connection.run(
                    "UPDATE gateway_head SET sequence = \(next), committed_at = \(timestamp) WHERE id = 1; "
                        + "SELECT pg_notify('gateway_log', $$\(nodeID.replacingOccurrences(of: "$", with: ""))$$); COMMIT")
            } else {
                try connection.run("COMMIT")
            }
            return (results, records)
        }
    }

    /// What each append writes, decided under the head's lock on the up-to-date fold; and
    /// for appends whose answer is not just their records, how to make it from them.
    private struct Decisions {
        var entries: [[ClusterEntry]]
        var verdicts: [(@Sendable (Result) -> Result)?]
    }

    private func decide(_ batch: [Append], _ connection: PostgresConnection) throws(PostgresError) -> Decisions {
        let fold = folder.state.currentFold()
        var claims = BatchClaims()
        let leases = try batch.contains { $0.entries.contains { $0.fence != nil } } ? heldLeases(connection) : []
        let producerIDs = batch.flatMap { append -> [String] in
            guard case .events(let events) = append.kind else { return [] }
            return events.compactMap { $0.idempotencyKey == $0.id ? $0.id : nil }
        }
        let takenIDs = try producerIDs.isEmpty ? [] : existingEventIDs(producerIDs, connection)
        var decisions = Decisions(entries: [], verdicts: [])
        for append in batch {
            switch append.kind {
            case .records:
                decisions.entries.append(append.entries.filter { $0.fence.map(leases.contains) ?? true })
                decisions.verdicts.append(nil)
            case .guarded(let check):
                if let refusal = check(fold, &claims) {
                    decisions.entries.append([])
                    decisions.verdicts.append { _ in .failed(refusal) }
                } else {
                    decisions.entries.append(append.entries)
                    decisions.verdicts.append(nil)
                }
            case .events(let events):
                let (entries, verdict) = try decideEvents(events, append.entries, fold: fold, takenIDs: takenIDs, connection)
                decisions.entries.append(entries)
                decisions.verdicts.append(verdict)
            }
        }
        return decisions
    }

    /// New events against every node's: a key stored before with the same request is a
    /// repeat (its original receipt), with another request a conflict; a producer id in
    /// history is taken. A conflict refuses the whole request.
    private func decideEvents(
        _ events: [NewEvent], _ entries: [ClusterEntry], fold: GatewayFold, takenIDs: Set<String>, _ connection: PostgresConnection
    ) throws(PostgresError) -> ([ClusterEntry], @Sendable (Result) -> Result) {
        var repeats: [Int: EventReceipt] = [:]
        for (index, event) in events.enumerated() {
            if let key = event.idempotencyKey, let entry = fold.key(GatewayFold.scopedKey(key, source: event.source)) {
                guard entry.digest == KeyDigest(event.digest),
                      let record = try folder.readEvent(at: EventReference(sequence: entry.sequence, location: entry.location), connection),
                      let original = try? EventRecord.decode(record.payload),
                      original.idempotencyKey == key, original.source == event.source else {
                    return ([], { _ in .ingested(.conflict(index: index, .keyReused(key))) })
                }
                repeats[index] = EventReceipt(id: original.id, sequence: entry.sequence, receivedAt: entry.timestamp, duplicate: true)
            } else if takenIDs.contains(event.id) {
                return ([], { _ in .ingested(.conflict(index: index, .idTaken(event.id))) })
            }
        }
        let fresh = entries.enumerated().filter { repeats[$0.offset] == nil }.map(\.element)
        let known = repeats
        let verdict: @Sendable (Result) -> Result = { result in
            guard case .written(let records) = result else { return result }
            var written = records.makeIterator()
            let receipts = events.indices.map { index in
                known[index] ?? written.next().map { EventReceipt(id: events[index].id, sequence: $0.sequence, receivedAt: $0.timestamp) }!
            }
            return .ingested(.stored(receipts))
        }
        return (fresh, verdict)
    }

    /// The leases this node holds. Exact until this transaction ends, without locking them:
    /// a lease changes hands (a takeover, a give-back) only under the head row's lock too
    /// (`ShardLeases`), which this transaction holds. An expired lease nobody took yet is
    /// still this node's to record on: no other node delivered its subscriptions.
    private func heldLeases(_ connection: PostgresConnection) throws(PostgresError) -> Set<ShardLease> {
        let rows = try connection.execute("SELECT shard, epoch FROM gateway_shards WHERE owner = $1", [.text(nodeID)])
        return Set((0..<rows.count).map { ShardLease(shard: Int(rows.int64($0, 0) ?? -1), epoch: rows.int64($0, 1) ?? -1) })
    }

    private func existingEventIDs(_ ids: [String], _ connection: PostgresConnection) throws(PostgresError) -> Set<String> {
        let rows = try connection.execute(
            "SELECT event_id FROM gateway_log WHERE event_id = ANY($1) AND kind = ANY($2::int2[])", [.textArray(ids), ClusterFolder.eventKinds])
        return Set((0..<rows.count).compactMap { rows.string($0, 0) })
    }


    /// The rows, one array per column (one parameter each, however many rows): PostgreSQL
    /// parses and plans one short statement, and nothing here builds SQL per row.
    private func insert(_ entries: [ClusterEntry], _ records: [JournalRecord], _ connection: PostgresConnection) throws(PostgresError) {
        try connection.execute("""
            INSERT INTO gateway_log (sequence, committed_at, kind, payload, event_id, event_type, subject)
            SELECT * FROM unnest($1::int8[], $2::int8[], $3::int2[], $4::bytea[], $5::text[], $6::text[], $7::int8[])
            """, [
                .int64Array(records.map { Int64($0.sequence) }),
                .int64Array(records.map(\.timestamp)),
                .int16Array(records.map { Int16($0.kind.rawValue) }),
                .bytesArray(records.map(\.payload)),
                .optionalTextArray(entries.map(\.eventID)),
                .optionalTextArray(entries.map(\.eventType)),
                .optionalInt64Array(entries.map { $0.subject.map { Int64($0) } }),
            ])
    }

    /// The idempotency keys of the events written: their unique constraint is what makes a
    /// second write of a key fail even if every check above were wrong.
    private func insertKeys(
        _ batch: [Append], _ entries: [[ClusterEntry]], _ records: [JournalRecord], _ connection: PostgresConnection
    ) throws(PostgresError) {
        var sources: [String] = [], keys: [String] = [], sequences: [Int64] = [], times: [Int64] = []
        var offset = 0
        for (append, written) in zip(batch, entries) {
            defer { offset += written.count }
            guard case .events(let events) = append.kind, !written.isEmpty else { continue }
            let byID = Dictionary(events.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for (position, entry) in written.enumerated() {
                guard let id = entry.eventID, let event = byID[id], let key = event.idempotencyKey else { continue }
                sources.append(event.source)
                keys.append(key)
                sequences.append(Int64(records[offset + position].sequence))
                times.append(records[offset + position].timestamp)
            }
        }
        guard !keys.isEmpty else { return }
        // A key whose window passed (its row is older than the fold remembers) is taken over;
        // one still in its window is a conflict every check above missed: the transaction
        // fails whole, and the producer's retry finds the original.
        let inserted = try connection.execute("""
            INSERT INTO gateway_event_keys (source, key, sequence, committed_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[])
            ON CONFLICT (source, key) DO UPDATE SET sequence = EXCLUDED.sequence, committed_at = EXCLUDED.committed_at
            WHERE gateway_event_keys.committed_at < $5
            RETURNING 1
            """, [.textArray(sources), .textArray(keys), .int64Array(sequences), .int64Array(times),
                  .int64((times.first ?? 0) - folder.state.read(\.idempotencyWindow))])
        guard inserted.count == keys.count else {
            throw PostgresError(sqlState: "23505", message: "an idempotency key was stored by another write meanwhile", connectionLost: false)
        }
    }
}
