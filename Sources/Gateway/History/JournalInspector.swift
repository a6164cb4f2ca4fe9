#if canImport(Glibc)
import Glibc
#endif
import JSON
import Runtime
import Synchronization

/// `gatewayd journal verify|stats|dump`: looks at a data directory without changing it, so
/// it is safe on a running gateway's (whose active segment may grow meanwhile) as on a
/// stopped one's. Nothing here truncates, rebuilds or writes.
public enum JournalInspector {
    /// The largest record the journal writes: a bigger length field is damage.
    static let maxRecordSize = Journal.Configuration(directory: "").maxRecordSize

    /// Something wrong with a file, and where.
    public struct Finding: Sendable, CustomStringConvertible {
        public var file: String
        public var offset: Int
        public var problem: String
        public var description: String { "\(file) at byte \(offset): \(problem)" }
    }

    public struct VerifyReport: Sendable {
        public var segments = 0
        public var records = 0
        public var indexFiles = 0
        public var snapshots = 0
        public var damage: [Finding] = []
        /// The active segment's torn tail, which the next start cuts off (not damage).
        public var tornTail: Finding?
    }

    /// Reads every record of every segment (checksum, sequence order, segments in sequence),
    /// every index file (header, body checksum, that it describes its segment and matches
    /// what the segment holds) and every snapshot (checksums, every field).
    public static func verify(directory: String) throws(JournalError) -> VerifyReport {
        var report = VerifyReport()
        let bases = try SegmentFile.list(in: directory)
        var expected: UInt64?
        for (index, base) in bases.enumerated() {
            let name = SegmentFile.name(base: base)
            let isLast = index == bases.count - 1
            if let expected, base != expected {
                report.damage.append(Finding(file: name, offset: 0, problem: "starts at sequence \(base) but \(expected) was expected"))
            }
            let built: SegmentIndexBuilder
            let scan: JournalRecovery.SegmentScan
            do throws(JournalError) {
                (built, scan) = try SegmentIndexBuilder.scan(segment: base, directory: directory, maxRecordSize: maxRecordSize)
            } catch {
                report.damage.append(Finding(file: name, offset: 0, problem: "\(error)"))
                continue
            }
            report.segments += 1
            report.records += scan.records
            if let damage = scan.damage {
                let finding = Finding(file: name, offset: scan.validEnd, problem: damage)
                if isLast { report.tornTail = finding } else { report.damage.append(finding) }
            }
            expected = (scan.lastSequence ?? (base &- 1)) &+ 1
            guard !isLast else { continue }
            // A sealed segment's index must exist (or be rebuilt at the next start) and say
            // what the segment says.
            let indexName = SegmentIndexFormat.name(base: base)
            do throws(SegmentIndexFile.OpenError) {
                let file = try SegmentIndexFile(directory: directory, base: base, segmentLength: scan.validEnd)
                report.indexFiles += 1
                if !file.verify() {
                    report.damage.append(Finding(file: indexName, offset: SegmentIndexFormat.headerSize, problem: "body checksum mismatch"))
                } else if file.summary.eventCount != built.summary.eventCount || file.summary.lastSequence != built.summary.lastSequence
                            || file.summary.attemptCount != built.summary.attemptCount {
                    report.damage.append(Finding(file: indexName, offset: 0, problem: "does not match its segment"))
                }
            } catch {
                if case .damaged(let reason) = error {
                    report.damage.append(Finding(file: indexName, offset: 0, problem: reason))
                } else {
                    report.damage.append(Finding(file: indexName, offset: 0, problem: "missing (rebuilt at the next start)"))
                }
            }
        }
        for covered in FoldSnapshot.list(in: directory) {
            let name = FoldSnapshot.name(covering: covered)
            guard let bytes = AtomicFile.read(directory + "/" + name) else {
                report.damage.append(Finding(file: name, offset: 0, problem: "cannot be read"))
                continue
            }
            do throws(FoldSnapshot.Damaged) {
                _ = try FoldSnapshot.decode(bytes, idempotencyWindow: 0)
                report.snapshots += 1
            } catch {
                report.damage.append(Finding(file: name, offset: 0, problem: error.description))
            }
        }
        return report
    }

    public struct Stats: Sendable {
        public struct Segment: Sendable {
            public var name: String
            public var bytes: Int
            public var firstSequence: UInt64
            public var lastSequence: UInt64
            public var events: Int
            /// Commit times of its first and last event (microseconds), if it holds any.
            public var oldest: Int64?
            public var newest: Int64?
        }

        public var segments: [Segment] = []
        public var totalBytes: Int { segments.reduce(0) { $0 + $1.bytes } }
        /// The newest snapshot: the sequence it covers and when it was written (microseconds).
        public var snapshotCovers: UInt64?
        public var snapshotWrittenAt: Int64?
        /// Unfinished deliveries and dead letters per subscription, as of the journal's end.
        public var pending: [(subscription: String, pending: Int, deadLetters: Int)] = []
        public var eventsEver = 0
    }

    /// Segments (size, sequences, events, time span), the newest snapshot's age, and what
    /// each subscription is owed: the newest snapshot folded forward over the journal after it.
    public static func stats(directory: String) throws(JournalError) -> Stats {
        var stats = Stats()
        var fold = GatewayFold(idempotencyWindow: 0)
        var covered: UInt64 = 0
        if let newest = FoldSnapshot.list(in: directory).first {
            let path = directory + "/" + FoldSnapshot.name(covering: newest)
            if let bytes = AtomicFile.read(path), let restored = try? FoldSnapshot.decode(bytes, idempotencyWindow: 0) {
                fold = restored
                covered = newest
                stats.snapshotCovers = newest
                var info = stat()
                if stat(path, &info) == 0 { stats.snapshotWrittenAt = Int64(info.st_mtim.tv_sec) * 1_000_000 + Int64(info.st_mtim.tv_nsec / 1000) }
            }
        }
        let bases = try SegmentFile.list(in: directory)
        let folded = Mutex(fold)
        let snapshotCovers = covered
        for (index, base) in bases.enumerated() {
            let name = SegmentFile.name(base: base)
            let size = SegmentFile.size(directory: directory, base: base)
            // A sealed segment the snapshot covers, with a good index: its summary is enough.
            if index < bases.count - 1, bases[index + 1] - 1 <= covered,
               let file = try? SegmentIndexFile(directory: directory, base: base, segmentLength: size) {
                let summary = file.summary
                stats.segments.append(Stats.Segment(
                    name: name, bytes: size, firstSequence: base, lastSequence: summary.lastSequence, events: summary.eventCount,
                    oldest: summary.eventCount > 0 ? summary.minTime : nil, newest: summary.eventCount > 0 ? summary.maxTime : nil))
                continue
            }
            let (builder, scan) = try SegmentIndexBuilder.scan(segment: base, directory: directory, maxRecordSize: maxRecordSize) { records in
                let fresh = records.filter { $0.sequence > snapshotCovers }
                if !fresh.isEmpty { folded.withLock { _ = $0.apply(fresh, now: 0) } }
            }
            let summary = builder.summary
            stats.segments.append(Stats.Segment(
                name: name, bytes: size, firstSequence: base, lastSequence: scan.lastSequence ?? base &- 1, events: summary.eventCount,
                oldest: summary.eventCount > 0 ? summary.minTime : nil, newest: summary.eventCount > 0 ? summary.maxTime : nil))
        }
        fold = folded.withLock { $0 }
        stats.eventsEver = fold.eventCount
        stats.pending = fold.subscriptions.keys.sorted().map { id in
            (id, fold.ledgers[id]?.pendingCount ?? 0, fold.ledgers[id]?.deadLetters.count ?? 0)
        }
        return stats
    }

    /// Records from sequence `from` on, at most `limit`, each as one line of JSON. Secrets,
    /// tokens and token digests are left out.
    public static func dump(directory: String, from: UInt64, limit: Int, line: (String) -> Void) throws(JournalError) {
        for record in try records(directory: directory, from: from, limit: limit) { line(json(record)) }
    }

    /// Records from sequence `from` on, at most `limit`, read from the segments that hold them.
    static func records(directory: String, from: UInt64, limit: Int) throws(JournalError) -> [JournalRecord] {
        let bases = try SegmentFile.list(in: directory)
        let start = bases.lastIndex { $0 <= from } ?? 0
        var found: [JournalRecord] = []
        for base in bases[start...] where found.count < limit {
            let collected = Mutex<[JournalRecord]>([])
            _ = try JournalRecovery.scanSegment(path: directory + "/" + SegmentFile.name(base: base), base: base,
                                                maxRecord: maxRecordSize) { records in
                collected.withLock { $0 += records.filter { $0.sequence >= from } }
            }
            found += collected.withLock { $0 }.prefix(limit - found.count)
        }
        return found
    }

    static func json(_ record: JournalRecord) -> String {
        var json = JSONObjectWriter()
        json.add("sequence", number: Int(record.sequence))
        json.add("timestamp", string: Timestamp.format(microseconds: record.timestamp))
        json.add("kind", string: kindName(record.kind))
        json.add("segment", string: SegmentFile.name(base: record.location.segment))
        json.add("offset", number: Int(record.location.offset))
        json.add("length", number: Int(record.location.length))
        json.add("record", raw: fields(record))
        return String(decoding: json.finish(), as: UTF8.self)
    }

    static func kindName(_ kind: RecordKind) -> String {
        switch kind {
        case .event: "event"
        case .eventTypeUpserted: "event-type-upserted"
        case .eventTypeArchived: "event-type-archived"
        case .sourceCreated: "source-created"
        case .sourceRevoked: "source-revoked"
        case .subscriptionUpserted: "subscription-upserted"
        case .subscriptionDeleted: "subscription-deleted"
        case .subscriptionChanged: "subscription-changed"
        case .deliveryAttempted: "delivery-attempted"
        case .deadLettersChanged: "dead-letters-changed"
        case .subscriptionDisabled: "subscription-disabled"
        case .eventCarried: "event-carried"
        case .deliveriesOwed: "deliveries-owed"
        case .replayChanged: "replay-changed"
        default: "unknown-\(kind.rawValue)"
        }
    }

    /// What a dump shows of a record's payload.
    private static func fields(_ record: JournalRecord) -> [UInt8] {
        var json = JSONObjectWriter()
        func strings(_ values: [String]) -> [[UInt8]] { values.map { JSONFragment.string($0).bytes } }
        switch record.kind {
        case .event, .eventCarried:
            guard let original = record.unwrappingCarried(), let event = try? EventRecord.decode(original.payload) else { break }
            if record.kind == .eventCarried { json.add("originalSequence", number: Int(original.sequence)) }
            json.add("id", string: event.id)
            json.add("type", string: event.type)
            json.add("source", string: event.source)
            if let key = event.partitionKey { json.add("partitionKey", string: key) }
            if let key = event.idempotencyKey { json.add("idempotencyKey", string: key) }
            if (try? JSONParser.parse(event.data)) != nil {
                json.add("data", raw: event.data)
            } else {
                json.add("data", string: String(decoding: event.data, as: UTF8.self))
            }
        case .deliveryAttempted:
            guard let attempt = try? DeliveryAttemptRecord.decode(record.payload) else { break }
            json.add("subscriptionId", string: attempt.subscriptionID)
            json.add("eventSequence", number: Int(attempt.sequence))
            json.add("attempt", number: Int(attempt.attempt))
            if let status = attempt.status { json.add("status", number: status) }
            json.add("result", string: ["retry-scheduled", "delivered", "dead-lettered"][Int(attempt.result.rawValue)])
            if !attempt.error.isEmpty { json.add("error", string: attempt.error) }
        case .subscriptionUpserted:
            guard let value = try? JSONParser.parse(record.payload), let subscription = try? Subscription.fromStored(value) else { break }
            json.add("id", string: subscription.id)
            json.add("url", string: subscription.url)
            json.add("eventTypes", array: strings(subscription.eventTypes.map(\.text)))
        case .subscriptionChanged:
            guard let change = try? SubscriptionChange.decode(record.payload) else { break }
            json.add("subscriptionId", string: change.subscriptionID)
        case .eventTypeUpserted:
            guard let type = try? EventTypeRecord.decode(record.payload) else { break }
            json.add("name", string: type.name)
        case .eventTypeArchived, .sourceRevoked, .subscriptionDeleted:
            guard let name = try? NameRecord.decode(record.payload) else { break }
            json.add("name", string: name.name)
        case .sourceCreated:
            guard let source = try? SourceRecord.decode(record.payload) else { break }
            json.add("name", string: source.name)
        case .deadLettersChanged:
            guard let change = try? DeadLettersChangedRecord.decode(record.payload) else { break }
            json.add("subscriptionId", string: change.subscriptionID)
            json.add("action", string: change.action == .redeliver ? "redeliver" : "discard")
            json.add("sequences", array: change.sequences.map { Array(String($0).utf8) })
        case .subscriptionDisabled:
            guard let disabled = try? SubscriptionDisabledRecord.decode(record.payload) else { break }
            json.add("subscriptionId", string: disabled.subscriptionID)
            json.add("reason", string: disabled.reason)
        case .deliveriesOwed:
            guard let owed = try? DeliveriesOwedRecord.decode(record.payload) else { break }
            json.add("subscriptionId", string: owed.subscriptionID)
            if !owed.replayID.isEmpty { json.add("replayId", string: owed.replayID) }
            json.add("sequences", array: owed.events.map { Array(String($0.sequence).utf8) })
        case .replayChanged:
            guard let replay = try? ReplayRecord.decode(record.payload) else { break }
            json.add("replayId", string: replay.replayID)
            json.add("subscriptionId", string: replay.subscriptionID)
            json.add("action", string: replay.action == .started ? "started" : "cancelled")
        default:
            json.add("payloadBytes", number: record.payload.count)
        }
        return json.finish()
    }
}
