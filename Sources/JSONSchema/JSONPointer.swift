import JSON
/// JSON Pointer (RFC 6901): the path syntax of `SchemaViolation.instancePath`, of schema
/// locations in `SchemaError`, and of `$ref` fragments.
///
/// Pointers are sequences of code points (RFC 6901 §3), so everything here works on Unicode
/// scalars, never on Swift's Characters: a token that starts with a combining mark
/// ("\u{301}x") would otherwise fuse with the `/` before it into one Character, which neither
/// splits nor escapes as a `/`.
enum JSONPointer {
    /// One reference token, escaped: `~` → `~0`, `/` → `~1` (RFC 6901 §3), in one pass so an
    /// escaped `/` is never escaped again as `~01`.
    static func escape(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else {
            return token
        }
        var escaped = String.UnicodeScalarView()
        for scalar in token.unicodeScalars {
            switch scalar {
            case "~": escaped.append(contentsOf: "~0".unicodeScalars)
            case "/": escaped.append(contentsOf: "~1".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    /// `parent` extended by one token: `"" + "a"` is `/a`.
    static func appending(_ token: String, to parent: String) -> String {
        parent + "/" + escape(token)
    }

    /// The unescaped tokens of `pointer`, or nil when it is not a pointer: it must be empty or
    /// start with `/`, and `~` must be followed by `0` or `1` (RFC 6901 §3–4).
    static func tokens(of pointer: String) -> [String]? {
        if pointer.isEmpty { return [] }
        let scalars = pointer.unicodeScalars
        guard scalars.first == "/" else { return nil }
        var tokens: [String] = []
        for raw in scalars.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            guard let token = unescape(raw) else { return nil }
            tokens.append(token)
        }
        return tokens
    }

    private static func unescape(_ raw: Substring.UnicodeScalarView) -> String? {
        guard raw.contains("~") else { return String(Substring(raw)) }
        var result = String.UnicodeScalarView()
        var iterator = raw.makeIterator()
        while let scalar = iterator.next() {
            guard scalar == "~" else {
                result.append(scalar)
                continue
            }
            switch iterator.next() {
            case "0": result.append("~")
            case "1": result.append("/")
            default: return nil
            }
        }
        return String(result)
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
