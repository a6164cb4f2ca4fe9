import Postgres
import Synchronization

/// Folds the cluster's log into this node's state, in sequence order, exactly once per
/// record. Two threads fold: the writer (other nodes' records it must see before deciding
/// under the log's lock, then its own once committed) and the tailer (everything else, as
/// it is notified). Whoever comes first folds a record; the other skips it.
final class ClusterFolder: Sendable {
    let state: GatewayState
    let partitions: ClusterPartitions
    /// The last sequence folded in.
    private let cursor = Mutex<UInt64>(0)

    init(state: GatewayState, partitions: ClusterPartitions) {
        self.state = state
        self.partitions = partitions
    }

    var foldedThrough: UInt64 { cursor.withLock { $0 } }

    /// Starts from a snapshot's fold, which covers the log up to `sequence`.
    func restore(_ fold: GatewayFold, covering sequence: UInt64) {
        cursor.withLock { folded in
            state.restore(fold)
            folded = sequence
        }
    }

    /// Folds in the records after the cursor, in order (those at or below it were folded).
    func apply(_ records: [JournalRecord]) {
        cursor.withLock { folded in
            let fresh = records.first.map { $0.sequence > folded } == true ? records : records.filter { $0.sequence > folded }
            guard let last = fresh.last else { return }
            state.apply(fresh)
            folded = last.sequence
        }
    }

    /// Runs `body` with nothing folded meanwhile: what a snapshot of the state and a change
    /// of ownership must agree on.
    func whileHeld<T>(_ body: () -> T) -> T {
        cursor.withLock { _ in body() }
    }

    /// Folds every record committed after the cursor, up to `through` when given.
    func catchUp(through: UInt64? = nil, using connection: PostgresConnection) throws(PostgresError) {
        while true {
            let after = foldedThrough
            if let through, after >= through { return }
            let records = try fetch(after: after, through: through, limit: 5000, connection)
            guard !records.isEmpty else { return }
            apply(records)
            if records.count < 5000 { return }
        }
    }

    /// Records after a sequence, in order.
    func fetch(after: UInt64, through: UInt64?, limit: Int, _ connection: PostgresConnection) throws(PostgresError) -> [JournalRecord] {
        // The log has no gaps, so the next `limit` records are a closed range of sequences:
        // a plan on the sequence index whatever the statistics say (a fresh partition has none).
        let last = min(through ?? .max, after + UInt64(limit))
        let rows = try connection.execute(
            "SELECT sequence, committed_at, kind, payload FROM gateway_log WHERE sequence > $1 AND sequence <= $2 ORDER BY sequence",
            [.int64(Int64(after)), .int64(Int64(clamping: last))])
        return (0..<rows.count).map { record(rows, $0) }
    }

    /// A row of (sequence, committed_at, kind, payload) as the record it stores.
    func record(_ rows: PostgresRows, _ row: Int, columns: (Int, Int, Int, Int) = (0, 1, 2, 3)) -> JournalRecord {
        let sequence = UInt64(rows.int64(row, columns.0) ?? 0)
        let timestamp = rows.int64(row, columns.1) ?? 0
        let payload = rows.bytes(row, columns.3) ?? []
        return JournalRecord(
            sequence: sequence, timestamp: timestamp, kind: RecordKind(rawValue: UInt8(truncatingIfNeeded: rows.int64(row, columns.2) ?? 0)),
            payload: payload, location: location(sequence: sequence, timestamp: timestamp, length: payload.count))
    }

    /// The kinds of record an event is read from: itself, or retention's copy of it.
    static let eventKinds: PostgresValue = .int64Array([Int64(RecordKind.event.rawValue), Int64(RecordKind.eventCarried.rawValue)])

    /// The event at a reference, as originally stored (a carried copy unwrapped); followed
    /// to where retention carried it when it is no longer where the reference says.
    func readEvent(at reference: EventReference, _ connection: PostgresConnection) throws(PostgresError) -> JournalRecord? {
        if let record = try readEvent(at: reference.location, connection) { return record }
        guard let moved = state.owedLocation(of: reference.sequence), moved != reference.location else { return nil }
        return try readEvent(at: moved, connection)
    }

    private func readEvent(at location: RecordLocation, _ connection: PostgresConnection) throws(PostgresError) -> JournalRecord? {
        let (lower, upper) = partitions.bounds(of: Int64(location.segment))
        let rows = try connection.execute("""
            SELECT sequence, committed_at, kind, payload FROM gateway_log
            WHERE sequence = $1 AND committed_at >= $2 AND committed_at < $3 AND kind = ANY($4::int2[])
            """, [.int64(Int64(location.offset)), .int64(lower), .int64(upper), Self.eventKinds])
        return rows.isEmpty ? nil : record(rows, 0).unwrappingCarried()
    }

    /// Where a record is in the cluster: its partition and its sequence.
    func location(sequence: UInt64, timestamp: Int64, length: Int) -> RecordLocation {
        RecordLocation(segment: UInt64(partitions.number(at: timestamp)), offset: sequence, length: UInt32(clamping: length))
    }
}
