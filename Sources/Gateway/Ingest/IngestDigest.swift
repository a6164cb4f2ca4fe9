import Crypto

/// What tells a repeated request from a conflicting reuse of its idempotency key: the same
/// digest for the same event whichever endpoint carried it (`POST /v1/events` or
/// `/v1/events/batch`), and however the envelope around it was written.
///
/// Compared: the event's `type`, its `data` byte for byte (what subscribers receive), its
/// `partitionKey`, its `occurredAt`, the `id` when the producer chose one, and the `tenant`
/// it is addressed to (hashed only when there is one, so digests of events without a tenant
/// are those earlier builds stored). Not compared:
/// whitespace and member order in the envelope, members the gateway ignores, and `source`
/// (keys are already scoped to the source that sent them).
enum IngestDigest {
    /// 16 bytes of SHA-256 over the fields above, each length-prefixed (an absent field has
    /// its own marker), so no two different events share an input.
    static func canonical(
        type: String, data: [UInt8], partitionKey: String?, occurredAt: String?, producerID: String?, tenant: String? = nil
    ) -> [UInt8] {
        var hash = SHA256()
        hash.update(data: [1])  // the digest's own version
        func field(_ bytes: some Collection<UInt8>) {
            var length = UInt32(bytes.count).littleEndian
            withUnsafeBytes(of: &length) { hash.update(bufferPointer: $0) }
            // In place (the data is hashed for every keyed event); a copy only for text that
            // is not stored contiguously.
            if bytes.withContiguousStorageIfAvailable({ hash.update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
                hash.update(data: Array(bytes))
            }
        }
        func optional(_ text: String?) {
            if let text {
                hash.update(data: [1])
                field(text.utf8)
            } else {
                hash.update(data: [0])
            }
        }
        field(type.utf8)
        field(data)
        optional(partitionKey)
        optional(occurredAt)
        optional(producerID)
        if let tenant {
            hash.update(data: [2])
            field(tenant.utf8)
        }
        return Array(hash.finalize().prefix(16))
    }

    /// The canonical digest of an event stored by a build that digested something else.
    /// Whether the producer chose the id is not stored; the id is taken as the producer's
    /// when it is also the key (no `Idempotency-Key` header was sent), which is exact for
    /// every request but one that sent both a header key and its own id.
    static func canonical(of event: EventRecord) -> [UInt8] {
        canonical(type: event.type, data: event.data, partitionKey: event.partitionKey, occurredAt: event.occurredAt,
                  producerID: event.idempotencyKey == event.id ? event.id : nil, tenant: event.tenant)
    }
}
