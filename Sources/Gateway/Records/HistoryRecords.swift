extension RecordKind {
    /// Retention's copy of an owed event out of a segment it deletes (`CarriedEventRecord`).
    static let eventCarried = RecordKind(rawValue: 12)
    /// Events owed to a subscription again: a resend or a chunk of a replay.
    static let deliveriesOwed = RecordKind(rawValue: 13)
    /// A replay started or cancelled (`ReplayRecord`).
    static let replayChanged = RecordKind(rawValue: 14)
}

/// An event record copied forward, whole, by retention: the original's sequence, commit time,
/// kind and payload. The journal frames it under a new sequence of its own (sequences are
/// dense within a segment); readers unwrap it (`JournalRecord.unwrappingCarried`) and see
/// the original, so ids, `webhook-id`s, signatures and order stay what they were.
struct CarriedEventRecord {
    static let version: UInt8 = 1

    var sequence: UInt64
    var timestamp: Int64
    var kind: RecordKind
    var payload: [UInt8]

    init(_ original: JournalRecord) {
        sequence = original.sequence
        timestamp = original.timestamp
        kind = original.kind
        payload = original.payload
    }

    func encode() -> [UInt8] {
        var writer = BinaryWriter(capacity: payload.count + 24)
        writer.byte(Self.version)
        writer.integer(sequence)
        writer.integer(timestamp)
        writer.byte(kind.rawValue)
        writer.blob(payload)
        return writer.bytes
    }

    /// The original's sequence, time and kind, and where its payload is in `bytes`.
    static func decodeHeader(_ bytes: [UInt8]) throws(BinaryReader.Malformed) -> (sequence: UInt64, timestamp: Int64, kind: RecordKind, payload: Range<Int>) {
        var reader = BinaryReader(bytes)
        guard try reader.byte() == version else { throw BinaryReader.Malformed() }
        let sequence = try reader.integer(UInt64.self)
        let timestamp = try reader.integer(Int64.self)
        let kind = RecordKind(rawValue: try reader.byte())
        return (sequence, timestamp, kind, try reader.blobRange())
    }
}

extension JournalRecord {
    /// The original record when this one is a carried copy; itself otherwise. The location
    /// stays the copy's: it is where the bytes are now.
    func unwrappingCarried() -> JournalRecord? {
        guard kind == .eventCarried else { return self }
        guard let header = try? CarriedEventRecord.decodeHeader(payload) else { return nil }
        return JournalRecord(sequence: header.sequence, timestamp: header.timestamp, kind: header.kind,
                             payload: Array(payload[header.payload]), location: location)
    }
}

/// Events owed to one subscription again, with where each is: `POST /v1/events/{id}/resend`
/// (no replay id) or one chunk of a replay. The fold adds them to the subscription's ledger
/// (one already pending keeps its place) and the dispatcher hears of them as of fan-outs.
struct DeliveriesOwedRecord: Equatable {
    static let version: UInt8 = 1

    var subscriptionID: String
    /// The replay this chunk belongs to; empty for a resend.
    var replayID: String
    var events: [EventReference]
    /// How far the replay has looked (the last sequence it considered), and whether it has
    /// looked at its whole window.
    var cursor: UInt64 = 0
    var finished = false

    func encode() -> [UInt8] {
        var writer = BinaryWriter(capacity: 48 + events.count * 28)
        writer.byte(Self.version)
        writer.string(subscriptionID)
        writer.string(replayID)
        writer.integer(cursor)
        writer.byte(finished ? 1 : 0)
        writer.integer(UInt32(events.count))
        for event in events {
            writer.integer(event.sequence)
            writer.integer(event.location.segment)
            writer.integer(event.location.offset)
            writer.integer(event.location.length)
        }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(BinaryReader.Malformed) -> DeliveriesOwedRecord {
        var reader = BinaryReader(bytes)
        guard try reader.byte() == version else { throw BinaryReader.Malformed() }
        let subscriptionID = try reader.string()
        let replayID = try reader.string()
        let cursor = try reader.integer(UInt64.self)
        let finished = try reader.byte() == 1
        let count = Int(try reader.integer(UInt32.self))
        var events: [EventReference] = []
        events.reserveCapacity(min(count, bytes.count / 28))
        for _ in 0..<count {
            let sequence = try reader.integer(UInt64.self)
            let location = RecordLocation(segment: try reader.integer(), offset: try reader.integer(), length: try reader.integer())
            events.append(EventReference(sequence: sequence, location: location))
        }
        return DeliveriesOwedRecord(subscriptionID: subscriptionID, replayID: replayID, events: events, cursor: cursor, finished: finished)
    }
}

/// `POST /v1/subscriptions/{id}/replays` (started) and its `DELETE` (cancelled).
struct ReplayRecord: Equatable {
    enum Action: UInt8 {
        case started = 1
        case cancelled = 2
    }

    static let version: UInt8 = 1

    var action: Action
    var replayID: String
    var subscriptionID: String
    /// The window, microseconds since the epoch: `since` inclusive, `until` exclusive.
    var since: Int64 = 0
    var until: Int64 = 0
    /// Type patterns that narrow the subscription's own; empty for all it matches.
    var types: [String] = []

    func encode() -> [UInt8] {
        var writer = BinaryWriter()
        writer.byte(Self.version)
        writer.byte(action.rawValue)
        writer.string(replayID)
        writer.string(subscriptionID)
        writer.integer(since)
        writer.integer(until)
        writer.integer(UInt32(types.count))
        types.forEach { writer.string($0) }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(BinaryReader.Malformed) -> ReplayRecord {
        var reader = BinaryReader(bytes)
        guard try reader.byte() == version, let action = Action(rawValue: try reader.byte()) else { throw BinaryReader.Malformed() }
        var record = ReplayRecord(action: action, replayID: try reader.string(), subscriptionID: try reader.string(),
                                  since: try reader.integer(), until: try reader.integer())
        let count = Int(try reader.integer(UInt32.self))
        guard count <= reader.remaining else { throw BinaryReader.Malformed() }
        for _ in 0..<count { record.types.append(try reader.string()) }
        return record
    }
}
