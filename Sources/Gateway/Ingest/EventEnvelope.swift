import JSONSchema
import JSON

/// An event as a producer submits it: `{type, data, id?, partitionKey?, occurredAt?}`.
/// `data` stays the exact bytes received — that is what subscribers get.
public struct EventEnvelope: Sendable {
    public var type: String
    public var data: [UInt8]
    public var id: String?
    public var partitionKey: String?
    public var occurredAt: String?
    /// `source` named in the body; honoured only for admin tokens.
    public var source: String?
    /// The tenant the event is addressed to: only its subscriptions receive it.
    public var tenant: String?
    /// A provider's request headers kept with the event (`/in/{source}`; never parsed from a body).
    public var headers: [(name: String, value: String)] = []
    /// Where `data` starts in the request body, so errors inside it name body offsets.
    public var dataOffset = 0
}

extension EventEnvelope {
    /// Scans and validates one envelope. The whole document is checked strictly (RFC 8259,
    /// no duplicate top-level keys); unknown top-level members are ignored so producers can
    /// send extra metadata without breaking.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int = 0) throws(GatewayError) -> EventEnvelope {
        let members: [JSONMember]
        do {
            members = try JSONParser.scanObject(bytes)
        } catch {
            throw classify(error, in: bytes, what: "The event", offset: offset)
        }
        var type: String?
        var data: Range<Int>?
        var envelope = EventEnvelope(type: "", data: [])
        for member in members {
            switch member.key {
            case "type":
                type = try string(bytes, member, name: "type")
            case "data":
                data = member.valueRange
            case "id":
                envelope.id = try string(bytes, member, name: "id")
            case "partitionKey":
                envelope.partitionKey = try string(bytes, member, name: "partitionKey")
            case "occurredAt":
                envelope.occurredAt = try string(bytes, member, name: "occurredAt")
            case "source":
                envelope.source = try string(bytes, member, name: "source")
            case "tenant":
                envelope.tenant = try string(bytes, member, name: "tenant")
            default:
                continue
            }
        }
        guard let type else { throw .invalid("The event has no 'type'.") }
        guard EventTypeName.isValid(type) else {
            throw .invalid("The type '\(type)' is not valid: use dot-separated lowercase segments of letters, digits, '_' or '-', such as 'payment.processed' (at most \(EventTypeName.maxLength) characters).")
        }
        guard let data else { throw .invalid("The event has no 'data'.") }
        envelope.type = type
        envelope.data = Array(bytes[data])
        envelope.dataOffset = offset + data.lowerBound
        if let id = envelope.id, !EventID.isValidProducerID(id) {
            throw .invalid("The id '\(id)' is not valid: use 1 to 128 characters from letters, digits and '._:-'.")
        }
        if let key = envelope.partitionKey, key.isEmpty || key.utf8.count > 256 {
            throw .invalid("The partitionKey must be 1 to 256 bytes.")
        }
        if let occurredAt = envelope.occurredAt, !Timestamp.isRFC3339(occurredAt) {
            throw .invalid("occurredAt '\(occurredAt)' is not an RFC 3339 date-time such as 2024-01-01T12:00:00Z.")
        }
        if let tenant = envelope.tenant, !TenantID.isValid(tenant) {
            throw .invalid("The tenant '\(tenant)' is not a valid tenant id: 1 to 64 characters from letters, digits and '_-.:'.")
        }
        if let source = envelope.source, !SourceName.isValid(source) {
            throw .invalid("The source '\(source)' is not a valid source name.")
        }
        return envelope
    }

    /// Valid JSON that is not an object is a 422 (wrong shape); anything else a 400 saying
    /// where the JSON broke.
    static func classify(_ error: JSONError, in bytes: UnsafeBufferPointer<UInt8>, what: String, offset: Int = 0) -> GatewayError {
        let first = bytes.first { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        if first != UInt8(ascii: "{"), (try? JSONParser.validate(bytes)) != nil {
            return .invalid("\(what) must be a JSON object.")
        }
        return GatewayError(status: 400, detail: "The body is not valid JSON: at byte \(error.offset + offset): \(error.message)")
    }

    private static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ member: JSONMember, name: String) throws(GatewayError) -> String {
        guard member.kind == .string else { throw .invalid("'\(name)' must be a string.") }
        do {
            return try JSONParser.decodeString(bytes, range: member.valueRange)
        } catch {
            throw GatewayError(status: 400, detail: "The body is not valid JSON: at byte \(error.offset): \(error.message)")
        }
    }
}

/// Event type names: dot-separated lowercase segments (`payment.processed`).
public enum EventTypeName {
    public static let maxLength = 128

    public static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= maxLength else { return false }
        var segmentLength = 0
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                segmentLength += 1
            case UInt8(ascii: "."):
                guard segmentLength > 0 else { return false }
                segmentLength = 0
            default:
                return false
            }
        }
        return segmentLength > 0
    }
}

/// Source names: lowercase letters, digits, `_` and `-`, 1-64 characters.
public enum SourceName {
    public static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        return !utf8.isEmpty && utf8.count <= 64 && utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }
}
