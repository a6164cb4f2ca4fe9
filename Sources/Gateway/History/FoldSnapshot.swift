#if canImport(Glibc)
import Glibc
#endif
import Histogram
import Logging
import JSON
import JSONSchema
import Runtime

/// The fold of the journal (`GatewayFold`) written to a file, with the sequence it covers:
/// recovery loads the newest valid snapshot and folds only the records after it, so restart
/// time follows the journal written since the last snapshot, not the whole history, and
/// state records (subscriptions, types, sources) outlive the segments retention deletes.
///
/// File: `snapshot-<covered sequence, 20 digits>.snap`, written atomically (`AtomicFile`):
///
///     "WHGSNAP1" | u64 covered sequence | u64 body length | u32 body CRC | u32 header CRC | body
///
/// The body is the fold's parts in `BinaryWriter` form, versioned by its first byte.
enum FoldSnapshot {
    static let magic: [UInt8] = Array("WHGSNAP1".utf8)
    static let prefix = "snapshot-"
    static let suffix = ".snap"
    static let headerSize = 32
    /// 4: each source's inbound configuration (stored JSON, empty for none).
    /// 3: event types' tenant visibility, then tenants and their tokens at the end.
    /// 2: attempt durations as histograms (`AttemptDurations`); 1, still read: as a ring.
    static let version: UInt8 = 4

    /// What a snapshot holds: the fold minus what can be derived from it.
    struct Parts: Equatable {
        var eventCount: Int
        var keys: [UInt64: GatewayFold.KeyEntry]
        var keyAges: [GatewayFold.KeyAge]
        var eventTypes: [String: EventTypeState]
        var sources: [SourceState]
        var sourcesByDigest: [[UInt8]: String]
        var subscriptions: [Subscription]
        var ledgers: [String: DeliveryLedger]
        var replays: [String: ReplayState]
        var undecodable: Int
        var appliedThrough: UInt64
        var tenants: [Tenant] = []
        var tenantTokens: [TenantToken] = []
    }

    struct Damaged: Error, CustomStringConvertible {
        var description: String
    }

    static func name(covering sequence: UInt64) -> String {
        let digits = String(sequence)
        return prefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    static func sequence(fromName name: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        return UInt64(name.dropFirst(prefix.count).dropLast(suffix.count))
    }

    /// Snapshots in `directory`, newest first, by the sequence their name says they cover.
    static func list(in directory: String) -> [UInt64] {
        AtomicFile.names(in: directory, endingWith: suffix).compactMap(sequence(fromName:)).sorted(by: >)
    }

    static func encode(_ fold: GatewayFold) -> [UInt8] {
        let parts = fold.snapshotParts
        var writer = BinaryWriter(capacity: 4096)
        writer.byte(version)
        writer.integer(UInt64(parts.eventCount))
        writer.integer(UInt64(parts.undecodable))
        writer.integer(parts.appliedThrough)
        writer.integer(UInt32(parts.keys.count))
        // In dictionary order: no reader needs another, and sorting a million keys would
        // only cost time.
        for (hash, entry) in parts.keys {
            writer.integer(hash)
            writer.integer(entry.digest.words.0)
            writer.integer(entry.digest.words.1)
            writer.integer(entry.digest.words.2)
            writer.integer(entry.digest.words.3)
            writer.integer(entry.sequence)
            writer.location(entry.location)
            writer.integer(entry.timestamp)
        }
        writer.integer(UInt32(parts.keyAges.count))
        for age in parts.keyAges {
            writer.integer(age.hash)
            writer.integer(age.timestamp)
        }
        writer.integer(UInt32(parts.eventTypes.count))
        for type in parts.eventTypes.values.sorted(by: { $0.name < $1.name }) {
            writer.string(type.name)
            writer.string(type.description)
            writer.blob(type.schemaText)
            writer.byte((type.archived ? 1 : 0) | (type.tenantVisible ? 2 : 0))
            writer.integer(type.createdAt)
            writer.integer(type.updatedAt)
        }
        writer.integer(UInt32(parts.sources.count))
        for source in parts.sources.sorted(by: { $0.name < $1.name }) {
            writer.string(source.name)
            writer.blob(source.tokenDigest)
            writer.integer(source.createdAt)
            writer.blob(source.inbound.map(JournalStore.stored) ?? [])
        }
        // Kept as it is rather than derived: which name a token finds is the journal's order.
        writer.integer(UInt32(parts.sourcesByDigest.count))
        for (digest, name) in parts.sourcesByDigest.sorted(by: { $0.value < $1.value }) {
            writer.blob(digest)
            writer.string(name)
        }
        writer.integer(UInt32(parts.subscriptions.count))
        for subscription in parts.subscriptions.sorted(by: { $0.id < $1.id }) {
            writer.blob(JSONParser.serialize(subscription.storedJSON()))
            writer.integer(subscription.createdAt)
            writer.integer(subscription.updatedAt)
        }
        writer.integer(UInt32(parts.ledgers.count))
        for (id, ledger) in parts.ledgers.sorted(by: { $0.key < $1.key }) {
            writer.string(id)
            writer.ledger(ledger)
        }
        writer.integer(UInt32(parts.replays.count))
        for replay in parts.replays.values.sorted(by: { $0.id < $1.id }) {
            writer.string(replay.id)
            writer.string(replay.subscriptionID)
            writer.integer(replay.since)
            writer.integer(replay.until)
            writer.integer(UInt32(replay.types.count))
            replay.types.forEach { writer.string($0) }
            writer.integer(replay.cursor)
            writer.integer(Int64(replay.enqueued))
            writer.integer(Int64(replay.delivered))
            writer.integer(Int64(replay.deadLettered))
            writer.byte((replay.finishedEnqueuing ? 1 : 0) | (replay.cancelled ? 2 : 0))
            writer.integer(replay.createdAt)
            writer.integer(replay.updatedAt)
        }
        writer.integer(UInt32(parts.tenants.count))
        for tenant in parts.tenants.sorted(by: { $0.id < $1.id }) {
            var fields = TenantInput()
            fields.name = tenant.name
            fields.description = tenant.description
            fields.metadata = tenant.metadata
            fields.maxSubscriptions = .some(tenant.quotas.maxSubscriptions)
            fields.deliveryRateLimit = .some(tenant.quotas.deliveryRateLimit)
            writer.string(tenant.id)
            writer.blob(JSONParser.serialize(fields.json()))
            writer.integer(tenant.createdAt)
            writer.integer(tenant.updatedAt)
        }
        writer.integer(UInt32(parts.tenantTokens.count))
        for token in parts.tenantTokens.sorted(by: { $0.id < $1.id }) {
            writer.blob(TenantTokenRecord(token: token).encode())
            writer.integer(token.createdAt)
        }
        let body = writer.bytes
        var header = magic
        appendLittleEndian(parts.appliedThrough, to: &header)
        appendLittleEndian(UInt64(body.count), to: &header)
        appendLittleEndian(body.withUnsafeBytes { RecordFraming.checksum($0) }, to: &header)
        appendLittleEndian(header.withUnsafeBytes { RecordFraming.checksum($0) }, to: &header)
        return header + body
    }

    /// The fold in `bytes`, checked end to end (header, checksums, every field).
    static func decode(_ bytes: [UInt8], idempotencyWindow: Int64) throws(Damaged) -> GatewayFold {
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else { throw Damaged(description: "not a snapshot") }
        func u64(_ at: Int) -> UInt64 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian } }
        func u32(_ at: Int) -> UInt32 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian } }
        let headerChecksum = bytes.withUnsafeBytes { RecordFraming.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<28])) }
        guard u32(28) == headerChecksum else { throw Damaged(description: "header checksum mismatch") }
        guard Int(u64(16)) == bytes.count - headerSize else { throw Damaged(description: "cut short") }
        let body = Array(bytes[headerSize...])
        guard body.withUnsafeBytes({ RecordFraming.checksum($0) }) == u32(24) else { throw Damaged(description: "body checksum mismatch") }
        do throws(BinaryReader.Malformed) {
            let parts = try decodeParts(body)
            guard parts.appliedThrough == u64(8) else { throw BinaryReader.Malformed() }
            return GatewayFold(idempotencyWindow: idempotencyWindow, restoring: parts)
        } catch {
            throw Damaged(description: "a field does not decode")
        }
    }

    private static func decodeParts(_ body: [UInt8]) throws(BinaryReader.Malformed) -> Parts {
        var reader = BinaryReader(body)
        let version = try reader.byte()
        guard (1...Self.version).contains(version) else { throw BinaryReader.Malformed() }
        var parts = Parts(eventCount: Int(try reader.integer(UInt64.self)), keys: [:], keyAges: [], eventTypes: [:], sources: [], sourcesByDigest: [:],
                          subscriptions: [], ledgers: [:], replays: [:], undecodable: Int(try reader.integer(UInt64.self)),
                          appliedThrough: try reader.integer(UInt64.self))
        for _ in 0..<(try reader.count()) {
            let hash = try reader.integer(UInt64.self)
            let digest = KeyDigest(words: (try reader.integer(), try reader.integer(), try reader.integer(), try reader.integer()))
            parts.keys[hash] = GatewayFold.KeyEntry(digest: digest, sequence: try reader.integer(), location: try reader.location(),
                                                    timestamp: try reader.integer())
        }
        for _ in 0..<(try reader.count()) {
            parts.keyAges.append(GatewayFold.KeyAge(hash: try reader.integer(), timestamp: try reader.integer()))
        }
        for _ in 0..<(try reader.count()) {
            let name = try reader.string()
            let description = try reader.string()
            let schemaText = try reader.blob()
            let flags = try reader.byte()
            // Compiled again, as the fold does from the journal (a schema a newer build
            // refuses leaves the type without validation rather than unreadable).
            let schema = schemaText.isEmpty ? nil : try? JSONSchema(JSONParser.parse(schemaText))
            parts.eventTypes[name] = EventTypeState(name: name, description: description, schemaText: schemaText, schema: schema,
                                                    archived: flags & 1 != 0, tenantVisible: version >= 3 && flags & 2 != 0,
                                                    createdAt: try reader.integer(), updatedAt: try reader.integer())
        }
        for _ in 0..<(try reader.count()) {
            var source = SourceState(name: try reader.string(), tokenDigest: try reader.blob(), createdAt: try reader.integer())
            if version >= 4 {
                source.inbound = try GatewayFold.inbound(SourceRecord(name: source.name, tokenDigest: [], inbound: try reader.blob()))
            }
            parts.sources.append(source)
        }
        for _ in 0..<(try reader.count()) {
            parts.sourcesByDigest[try reader.blob()] = try reader.string()
        }
        for _ in 0..<(try reader.count()) {
            guard let json = try? JSONParser.parse(try reader.blob()), var subscription = try? Subscription.fromStored(json) else {
                throw BinaryReader.Malformed()
            }
            subscription.createdAt = try reader.integer()
            subscription.updatedAt = try reader.integer()
            parts.subscriptions.append(subscription)
        }
        for _ in 0..<(try reader.count()) {
            parts.ledgers[try reader.string()] = try reader.ledger(version: version)
        }
        for _ in 0..<(try reader.count()) {
            let id = try reader.string()
            let subscriptionID = try reader.string()
            let since = try reader.integer(Int64.self)
            let until = try reader.integer(Int64.self)
            var types: [String] = []
            for _ in 0..<(try reader.count()) { types.append(try reader.string()) }
            let cursor = try reader.integer(UInt64.self)
            let enqueued = Int(try reader.integer(Int64.self))
            let delivered = Int(try reader.integer(Int64.self))
            let deadLettered = Int(try reader.integer(Int64.self))
            let flags = try reader.byte()
            parts.replays[id] = ReplayState(
                id: id, subscriptionID: subscriptionID, since: since, until: until, types: types, cursor: cursor, enqueued: enqueued,
                delivered: delivered, deadLettered: deadLettered, finishedEnqueuing: flags & 1 != 0, cancelled: flags & 2 != 0,
                createdAt: try reader.integer(), updatedAt: try reader.integer())
        }
        guard version >= 3 else { return parts }
        for _ in 0..<(try reader.count()) {
            let id = try reader.string()
            guard let json = try? JSONParser.parse(try reader.blob()), let fields = try? TenantInput(json, partial: true) else {
                throw BinaryReader.Malformed()
            }
            var tenant = Tenant(id: id, name: fields.name ?? id)
            fields.apply(to: &tenant)
            tenant.createdAt = try reader.integer()
            tenant.updatedAt = try reader.integer()
            parts.tenants.append(tenant)
        }
        for _ in 0..<(try reader.count()) {
            let payload = try reader.blob()
            parts.tenantTokens.append(try TenantTokenRecord.decode(payload, at: try reader.integer()).token)
        }
        return parts
    }
}

private extension BinaryWriter {
    /// The current histogram, then a flag and the previous one.
    mutating func durations(_ durations: AttemptDurations) {
        histogram(durations.current)
        if let previous = durations.previous {
            byte(1)
            histogram(previous)
        } else {
            byte(0)
        }
    }

    mutating func histogram(_ histogram: Histogram<UInt16>) {
        let pairs = AttemptDurations.pairs(of: histogram)
        integer(UInt32(pairs.count))
        for pair in pairs {
            integer(pair.value)
            integer(pair.count)
        }
    }

    mutating func location(_ location: RecordLocation) {
        integer(location.segment)
        integer(location.offset)
        integer(location.length)
    }

    mutating func ledger(_ ledger: DeliveryLedger) {
        let live = Array(ledger.live.elements)
        integer(UInt32(live.count))
        for entry in live {
            integer(entry.sequence)
            location(entry.location)
        }
        let extraOrder = Array(ledger.extraOrder.elements)
        integer(UInt32(extraOrder.count))
        extraOrder.forEach { integer($0) }
        integer(UInt32(ledger.extra.count))
        for (sequence, place) in ledger.extra {
            integer(sequence)
            location(place)
        }
        let owed = ledger.owed.members
        integer(UInt32(owed.count))
        owed.forEach { integer($0) }
        integer(UInt32(ledger.progress.count))
        for (sequence, progress) in ledger.progress {
            integer(sequence)
            integer(Int64(progress.attempts))
            integer(progress.firstAttemptAt)
            integer(progress.nextAttemptAt)
            string(progress.lastError)
        }
        integer(UInt32(ledger.moved.count))
        for (sequence, place) in ledger.moved {
            integer(sequence)
            location(place)
        }
        integer(UInt32(ledger.deadLetterOrder.count))
        for sequence in ledger.deadLetterOrder {
            let letter = ledger.deadLetters[sequence]!
            integer(sequence)
            location(letter.location)
            integer(Int64(letter.attempts))
            integer(letter.deadLetteredAt)
            string(letter.reason)
        }
        integer(Int64(ledger.delivered))
        integer(Int64(ledger.attempts))
        integer(Int64(ledger.failedAttempts))
        durations(ledger.durations)
        if let lastError = ledger.lastError {
            byte(1)
            string(lastError.message)
            integer(lastError.at)
        } else {
            byte(0)
        }
        integer(UInt32(ledger.replayOf.count))
        for (sequence, replay) in ledger.replayOf {
            integer(sequence)
            string(replay)
        }
    }
}

private extension BinaryReader {
    /// An element count, refused when larger than the bytes left could hold.
    mutating func count() throws(BinaryReader.Malformed) -> Int {
        let count = Int(try integer(UInt32.self))
        guard count <= remaining else { throw BinaryReader.Malformed() }
        return count
    }

    mutating func location() throws(BinaryReader.Malformed) -> RecordLocation {
        RecordLocation(segment: try integer(), offset: try integer(), length: try integer())
    }

    mutating func durations() throws(BinaryReader.Malformed) -> AttemptDurations {
        let current = try histogram()
        return AttemptDurations(current: current, previous: try byte() == 1 ? try histogram() : nil)
    }

    mutating func histogram() throws(BinaryReader.Malformed) -> Histogram<UInt16> {
        var pairs: [(value: UInt64, count: UInt16)] = []
        for _ in 0..<(try count()) { pairs.append((try integer(), try integer())) }
        // A histogram never holds more than a window of attempts.
        guard pairs.reduce(0, { $0 + Int($1.count) }) <= AttemptDurations.window else { throw BinaryReader.Malformed() }
        return AttemptDurations.histogram(from: pairs)
    }

    /// Version 1: the ring of raw durations and where it would write next.
    mutating func ringOfDurations() throws(BinaryReader.Malformed) -> AttemptDurations {
        var ring: [Int64] = []
        for _ in 0..<(try count()) { ring.append(try integer()) }
        let next = Int(try integer(Int64.self))
        guard next >= 0, next <= ring.count else { throw BinaryReader.Malformed() }
        return AttemptDurations(durations: Array(ring[next...] + ring[..<next]))
    }

    mutating func ledger(version: UInt8) throws(BinaryReader.Malformed) -> DeliveryLedger {
        var live: [DeliveryLedger.Entry] = []
        for _ in 0..<(try count()) { live.append(DeliveryLedger.Entry(sequence: try integer(), location: try location())) }
        var extraOrder: [UInt64] = []
        for _ in 0..<(try count()) { extraOrder.append(try integer()) }
        var extra: [UInt64: RecordLocation] = [:]
        for _ in 0..<(try count()) { extra[try integer()] = try location() }
        var owed: [UInt64] = []
        for _ in 0..<(try count()) { owed.append(try integer()) }
        var progress: [UInt64: DeliveryLedger.Progress] = [:]
        for _ in 0..<(try count()) {
            progress[try integer()] = DeliveryLedger.Progress(attempts: Int(try integer(Int64.self)), firstAttemptAt: try integer(),
                                                              nextAttemptAt: try integer(), lastError: try string())
        }
        var moved: [UInt64: RecordLocation] = [:]
        for _ in 0..<(try count()) { moved[try integer()] = try location() }
        var deadLetters: [UInt64: DeliveryLedger.DeadLetter] = [:]
        var deadLetterOrder: [UInt64] = []
        for _ in 0..<(try count()) {
            let sequence = try integer(UInt64.self)
            deadLetters[sequence] = DeliveryLedger.DeadLetter(location: try location(), attempts: Int(try integer(Int64.self)),
                                                              deadLetteredAt: try integer(), reason: try string())
            deadLetterOrder.append(sequence)
        }
        let delivered = Int(try integer(Int64.self))
        let attempts = Int(try integer(Int64.self))
        let failedAttempts = Int(try integer(Int64.self))
        let durations = version == 1 ? try ringOfDurations() : try self.durations()
        let lastError = try byte() == 1 ? DeliveryLedger.LastError(message: try string(), at: try integer()) : nil
        var replayOf: [UInt64: String] = [:]
        for _ in 0..<(try count()) { replayOf[try integer()] = try string() }
        return DeliveryLedger(live: live, extraOrder: extraOrder, extra: extra, owed: owed, progress: progress, moved: moved,
                              deadLetters: deadLetters, deadLetterOrder: deadLetterOrder, delivered: delivered,
                              attempts: attempts, failedAttempts: failedAttempts, durations: durations,
                              lastError: lastError, replayOf: replayOf)
    }
}

extension FoldSnapshot {
    /// How many snapshots are kept: the newest, and the one before it for when the newest
    /// turns out damaged. Retention deletes only segments the older one covers, so either
    /// can be folded forward from the segments that remain.
    static let kept = 2

    /// The newest snapshot in `directory` that reads back whole, with the sequence it
    /// covers; damaged ones are logged and skipped.
    static func loadNewest(in directory: String, idempotencyWindow: Int64, logger: Logger) -> (fold: GatewayFold, covered: UInt64)? {
        for covered in list(in: directory) {
            let path = directory + "/" + name(covering: covered)
            do throws(Damaged) {
                guard let bytes = AtomicFile.read(path) else { throw Damaged(description: "cannot be read") }
                return (try decode(bytes, idempotencyWindow: idempotencyWindow), covered)
            } catch {
                logger.error("snapshot damaged; trying an older one or the journal", metadata: ["file": "\(path)", "reason": "\(error)"])
            }
        }
        return nil
    }

    /// Writes `fold` as the newest snapshot and deletes all but the newest `kept`.
    static func write(_ fold: GatewayFold, in directory: String) throws(JournalError) {
        try AtomicFile.write(encode(fold), to: directory + "/" + name(covering: fold.appliedThrough), directory: directory, step: "snapshot")
        for old in list(in: directory).dropFirst(kept) { unlink(directory + "/" + name(covering: old)) }
    }
}
