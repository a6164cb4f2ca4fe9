import JSON

extension RecordKind {
    /// A tenant created, or some of its fields changed (`TenantChangeRecord`, JSON).
    static let tenantChanged = RecordKind(rawValue: 15)
    /// A tenant deleted, with its subscriptions and tokens (`NameRecord` of its id).
    static let tenantDeleted = RecordKind(rawValue: 16)
    static let tenantTokenIssued = RecordKind(rawValue: 17)
    static let tenantTokenRevoked = RecordKind(rawValue: 18)
}

/// A tenant created (`created`, with every field) or changed (only the fields given),
/// applied to the tenant as it stands when folded in, like `SubscriptionChange`.
struct TenantChangeRecord: Equatable {
    var tenantID: String
    var created: Bool
    var fields: TenantInput

    func encode() -> [UInt8] {
        var input = fields
        input.id = tenantID
        guard case .object(var members) = input.json() else { return [] }
        members.insert(("created", .bool(created)), at: 0)
        return JSONParser.serialize(.object(members))
    }

    static func decode(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> TenantChangeRecord {
        guard let value = try? JSONParser.parse(payload), case .object(var members) = value,
              case .bool(let created)? = value["created"], case .string(let id)? = value["id"] else { throw BinaryReader.Malformed() }
        members.removeAll { $0.key == "created" || $0.key == "id" }
        guard let fields = try? TenantInput(.object(members), partial: true) else { throw BinaryReader.Malformed() }
        return TenantChangeRecord(tenantID: id, created: created, fields: fields)
    }
}

struct TenantTokenRecord: Equatable {
    var token: TenantToken

    func encode() -> [UInt8] {
        var writer = BinaryWriter()
        writer.byte(1)
        writer.string(token.id)
        writer.string(token.tenantID)
        writer.blob(token.digest)
        writer.string(token.description)
        writer.integer(token.expiresAt ?? 0)
        return writer.bytes
    }

    /// `createdAt` is the record's commit time.
    static func decode(_ payload: [UInt8], at timestamp: Int64) throws(BinaryReader.Malformed) -> TenantTokenRecord {
        var reader = BinaryReader(payload)
        guard try reader.byte() == 1 else { throw BinaryReader.Malformed() }
        let id = try reader.string()
        let tenant = try reader.string()
        let digest = try reader.blob()
        let description = try reader.string()
        let expiry: Int64 = try reader.integer()
        return TenantTokenRecord(token: TenantToken(id: id, tenantID: tenant, digest: digest, description: description,
                                                    expiresAt: expiry == 0 ? nil : expiry, createdAt: timestamp))
    }
}

struct TenantTokenRevokedRecord: Equatable {
    var tenantID: String
    var tokenID: String

    func encode() -> [UInt8] {
        var writer = BinaryWriter()
        writer.byte(1)
        writer.string(tenantID)
        writer.string(tokenID)
        return writer.bytes
    }

    static func decode(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> TenantTokenRevokedRecord {
        var reader = BinaryReader(payload)
        guard try reader.byte() == 1 else { throw BinaryReader.Malformed() }
        return TenantTokenRevokedRecord(tenantID: try reader.string(), tokenID: try reader.string())
    }
}
