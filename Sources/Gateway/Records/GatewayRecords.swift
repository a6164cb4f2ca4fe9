/// Everything that changes the gateway's state is one of these records in the journal
/// (DESIGN.md invariant 3). Kinds are stable numbers on disk: never reuse or renumber one.
extension RecordKind {
    static let event = RecordKind(rawValue: 1)
    static let eventTypeUpserted = RecordKind(rawValue: 2)
    static let eventTypeArchived = RecordKind(rawValue: 3)
    static let sourceCreated = RecordKind(rawValue: 4)
    static let sourceRevoked = RecordKind(rawValue: 5)
    /// A subscription's whole configuration as JSON (created, changed, paused, rotated...).
    static let subscriptionUpserted = RecordKind(rawValue: 6)
    static let subscriptionDeleted = RecordKind(rawValue: 7)
    /// Some fields of one subscription changed (`SubscriptionChange`, JSON); kinds 8-10 are
    /// in DeliveryRecords.swift.
    static let subscriptionChanged = RecordKind(rawValue: 11)
}

/// An accepted event as stored. `data` is the exact bytes the producer sent.
struct EventRecord: Equatable {
    var id: String
    var type: String
    var source: String
    var partitionKey: String?
    var occurredAt: String?
    /// The producer's `Idempotency-Key` (or its own event id) and a digest of the request,
    /// so a repeat can be told from a conflicting reuse of the key, after restarts too.
    var idempotencyKey: String?
    var bodyDigest: [UInt8]
    var data: [UInt8]
    /// Set for a test ping: the one subscription it goes to, whatever the patterns say.
    var targetSubscription: String? = nil
    /// Whether `bodyDigest` is `IngestDigest.canonical` (version 3). Versions 1 and 2
    /// digested the raw request body (single ingest) or `data` + `type` (batch).
    var digestIsCanonical = true
    /// The tenant the event was addressed to: only its subscriptions receive it.
    var tenant: String? = nil
    /// A provider's request headers kept with an event received at `/in/{source}`.
    var headers: [(name: String, value: String)] = []

    /// Version 5: version 4 and the provider's headers (a count, then name and value each).
    /// Version 4: version 3 and the tenant (empty for none). Version 3: the layout of
    /// version 2 with the ping target always present (empty for none) and a canonical
    /// digest. Versions 1 (no target), 2, 3 and 4 stay readable.
    static let currentVersion: UInt8 = 5

    static func == (lhs: EventRecord, rhs: EventRecord) -> Bool {
        lhs.id == rhs.id && lhs.type == rhs.type && lhs.source == rhs.source && lhs.partitionKey == rhs.partitionKey
            && lhs.occurredAt == rhs.occurredAt && lhs.idempotencyKey == rhs.idempotencyKey && lhs.bodyDigest == rhs.bodyDigest
            && lhs.data == rhs.data && lhs.targetSubscription == rhs.targetSubscription && lhs.digestIsCanonical == rhs.digestIsCanonical
            && lhs.tenant == rhs.tenant && sameHeaderFields(lhs.headers, rhs.headers)
    }

    func encode() -> [UInt8] {
        var writer = BinaryWriter(capacity: data.count + 96)
        writer.byte(Self.currentVersion)
        writer.string(id)
        writer.string(type)
        writer.string(source)
        writer.string(partitionKey ?? "")
        writer.string(occurredAt ?? "")
        writer.string(idempotencyKey ?? "")
        writer.blob(bodyDigest)
        writer.blob(data)
        writer.string(targetSubscription ?? "")
        writer.string(tenant ?? "")
        writer.integer(UInt32(headers.count))
        for header in headers {
            writer.string(header.name)
            writer.string(header.value)
        }
        return writer.bytes
    }

    /// Decodes everything; `includeData: false` skips copying the payload (the fold at
    /// start-up needs only the header fields).
    static func decode(_ payload: [UInt8], includeData: Bool = true) throws(BinaryReader.Malformed) -> EventRecord {
        var reader = BinaryReader(payload)
        let version = try reader.byte()
        guard (1...5).contains(version) else { throw BinaryReader.Malformed() }
        let id = try reader.string()
        let type = try reader.string()
        let source = try reader.string()
        let partitionKey = try reader.string()
        let occurredAt = try reader.string()
        let key = try reader.string()
        let digest = try reader.blob()
        var data: [UInt8] = []
        if includeData { data = try reader.blob() } else { _ = try reader.blobRange() }
        let target = version >= 2 ? try reader.string() : ""
        let tenant = version >= 4 ? try reader.string() : ""
        // The fold (`includeData: false`) never needs them.
        var headers: [(name: String, value: String)] = []
        if version >= 5 && includeData {
            let count = Int(try reader.integer(UInt32.self))
            guard count <= 1000 else { throw BinaryReader.Malformed() }
            for _ in 0..<count { headers.append((try reader.string(), try reader.string())) }
        }
        var record = EventRecord(
            id: id, type: type, source: source, partitionKey: partitionKey.isEmpty ? nil : partitionKey,
            occurredAt: occurredAt.isEmpty ? nil : occurredAt, idempotencyKey: key.isEmpty ? nil : key,
            bodyDigest: digest, data: data, targetSubscription: target.isEmpty ? nil : target,
            digestIsCanonical: version >= 3, tenant: tenant.isEmpty ? nil : tenant)
        record.headers = headers
        return record
    }
}

extension EventRecord {
    /// Where in an event record's payload the fields of a webhook envelope are, without
    /// decoding them.
    struct EnvelopeFields {
        var id: Range<Int>
        var type: Range<Int>
        var source: Range<Int>
        var data: Range<Int>
    }

    static func envelopeFields(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> EnvelopeFields {
        var reader = BinaryReader(payload)
        let version = try reader.byte()
        guard (1...5).contains(version) else { throw BinaryReader.Malformed() }
        let id = try reader.blobRange()
        let type = try reader.blobRange()
        let source = try reader.blobRange()
        for _ in 0..<4 { _ = try reader.blobRange() }  // partition key, occurredAt, idempotency key, digest
        return EnvelopeFields(id: id, type: type, source: source, data: try reader.blobRange())
    }
}

struct EventTypeRecord: Equatable {
    var name: String
    var description: String
    /// The schema as JSON text, or empty for none.
    var schema: [UInt8]
    /// Whether tenants may subscribe to the type and receive its events (version 2; a
    /// version 1 record is a type invisible to tenants).
    var tenantVisible = false

    func encode() -> [UInt8] {
        var writer = BinaryWriter()
        writer.byte(2)
        writer.string(name)
        writer.string(description)
        writer.blob(schema)
        writer.byte(tenantVisible ? 1 : 0)
        return writer.bytes
    }

    static func decode(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> EventTypeRecord {
        var reader = BinaryReader(payload)
        let version = try reader.byte()
        guard version == 1 || version == 2 else { throw BinaryReader.Malformed() }
        var record = EventTypeRecord(name: try reader.string(), description: try reader.string(), schema: try reader.blob())
        if version == 2 { record.tenantVisible = try reader.byte() == 1 }
        return record
    }
}

/// A name-only record (archiving a type, revoking a source).
struct NameRecord: Equatable {
    var name: String

    func encode() -> [UInt8] {
        var writer = BinaryWriter()
        writer.byte(1)
        writer.string(name)
        return writer.bytes
    }

    static func decode(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> NameRecord {
        var reader = BinaryReader(payload)
        guard try reader.byte() == 1 else { throw BinaryReader.Malformed() }
        return NameRecord(name: try reader.string())
    }
}

struct SourceRecord: Equatable {
    var name: String
    /// SHA-256 of the source's token; the token itself is shown once and never stored.
    var tokenDigest: [UInt8]
    /// How provider webhooks to `/in/{name}` are taken, as stored JSON
    /// (`InboundConfiguration.json(showingSecrets: true)`); empty for a token-only source.
    /// Version 2; a version 1 record is a token-only source.
    var inbound: [UInt8] = []

    func encode() -> [UInt8] {
        var writer = BinaryWriter()
        writer.byte(2)
        writer.string(name)
        writer.blob(tokenDigest)
        writer.blob(inbound)
        return writer.bytes
    }

    static func decode(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> SourceRecord {
        var reader = BinaryReader(payload)
        let version = try reader.byte()
        guard version == 1 || version == 2 else { throw BinaryReader.Malformed() }
        var record = SourceRecord(name: try reader.string(), tokenDigest: try reader.blob())
        if version == 2 { record.inbound = try reader.blob() }
        return record
    }
}

extension RecordKind {
    /// A source's inbound configuration replaced (a secret rotated): `SourceRecord` with an
    /// empty token digest, which keeps the source's token.
    static let sourceConfigured = RecordKind(rawValue: 19)
}
