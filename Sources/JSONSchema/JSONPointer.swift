import JSON
/// JSON Pointer (RFC 6901): the path syntax of `SchemaViolation.instancePath`, of schema
/// locations in `SchemaError`, and of `$ref` fragments.
enum JSONPointer {
    /// One reference token, escaped: `~` → `~0` first, then `/` → `~1` (RFC 6901 §3; the order
    /// matters, or `/` would come back as `~01`).
    static func escape(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else {
            return token
        }
        return token.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    /// `parent` extended by one token: `"" + "a"` is `/a`.
    static func appending(_ token: String, to parent: String) -> String {
        parent + "/" + escape(token)
    }

    /// The unescaped tokens of `pointer`, or nil when it is not a pointer: it must be empty or
    /// start with `/`, and `~` must be followed by `0` or `1` (RFC 6901 §3–4).
    static func tokens(of pointer: String) -> [String]? {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { return nil }
        var tokens: [String] = []
        for raw in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            guard let token = unescape(raw) else { return nil }
            tokens.append(token)
        }
        return tokens
    }

    private static func unescape(_ raw: Substring) -> String? {
        guard raw.contains("~") else { return String(raw) }
        var result = ""
        var iterator = raw.makeIterator()
        while let character = iterator.next() {
            guard character == "~" else {
                result.append(character)
                continue
            }
            switch iterator.next() {
            case "0": result.append("~")
            case "1": result.append("/")
            default: return nil
            }
        }
        return result
    }

    /// An array index token: decimal digits without leading zeros (RFC 6901 §4).
    static func arrayIndex(_ token: String) -> Int? {
        guard let first = token.utf8.first, token.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if first == 0x30 && token.utf8.count > 1 { return nil }
        return Int(token)
    }
}

/// A step into an instance, kept as a token until a violation needs the rendered pointer:
/// valid instances never pay for building path strings.
enum InstancePathComponent: Sendable {
    case key(String)
    case index(Int)
}

extension [InstancePathComponent] {
    var jsonPointer: String {
        var pointer = ""
        for component in self {
            switch component {
            case .key(let key): pointer += "/" + JSONPointer.escape(key)
            case .index(let index): pointer += "/" + String(index)
            }
        }
        return pointer
    }
}
