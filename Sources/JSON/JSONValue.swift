/// A parsed JSON document (RFC 8259). Built only where a tree is needed — schema validation,
/// schemas themselves, filters — never for the ingest envelope, which is scanned in place.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// Every JSON number as a Double; `isInteger` tells integral values (`1.0` is an integer
    /// for JSON Schema).
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in document order. Keys are unique when produced by `JSONParser`.
    case object([(key: String, value: JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        // JSON compares strings by code points; Swift's `==` would also equate canonically
        // equivalent spellings ("é" and "e\u{301}").
        case let (.string(a), .string(b)): return a.utf8.elementsEqual(b.utf8)
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            // JSON Schema equality: same keys with equal values, in any order.
            guard a.count == b.count else { return false }
            for (key, value) in a {
                guard let other = b.first(where: { $0.key.utf8.elementsEqual(key.utf8) }), other.value == value else { return false }
            }
            return true
        default: return false
        }
    }

    /// The member named `key` of an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key.utf8.elementsEqual(key.utf8) }?.value
    }

    public var isInteger: Bool {
        guard case .number(let value) = self else { return false }
        return value.isFinite && value.rounded(.towardZero) == value
    }
}
