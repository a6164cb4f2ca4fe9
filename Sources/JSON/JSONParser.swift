/// Strict RFC 8259 JSON for the gateway, in one pass over the bytes as received.
///
/// Strict means: exactly one value with only whitespace (space, tab, LF, CR) around it; no
/// trailing commas, comments, single quotes, NaN/Infinity, leading zeros, `+1`, `.5` or
/// `1.`; strings with only the eight short escapes and `\uXXXX`, surrogate escapes in pairs,
/// no raw control characters, and well-formed UTF-8 (no overlong forms, encoded surrogates,
/// code points above U+10FFFF or truncated sequences); numbers that fit a Double (see
/// `JSONNumbers` for the range policy); at most `maxDepth` nested arrays and objects.
///
/// Foundation's parsers are too slow for the ingest budget (≈12-20 µs for a 300-byte event
/// against ≈10 µs for the whole request) and too lenient (trailing commas, last duplicate key
/// silently wins), so the gateway would accept events it cannot promise to relay faithfully.
///
/// Every error is a `JSONError` whose offset points at the byte where the document broke.
public enum JSONParser {
    /// The document as a tree. Duplicate keys are an error when `rejectDuplicateKeys` is set;
    /// otherwise the last value wins and keeps the first occurrence's position (what
    /// JavaScript and Python do), so keys in the result are always unique.
    public static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 64, rejectDuplicateKeys: Bool = false
    ) throws(JSONError) -> JSONValue {
        var builder = JSONTreeBuilder(buffer: bytes, rejectDuplicateKeys: rejectDuplicateKeys)
        try JSONScanner.scan(bytes, maxDepth: maxDepth, handler: &builder)
        return builder.result
    }

    public static func parse(
        _ bytes: [UInt8], maxDepth: Int = 64, rejectDuplicateKeys: Bool = false
    ) throws(JSONError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in
            try parse(buffer, maxDepth: maxDepth, rejectDuplicateKeys: rejectDuplicateKeys)
        }
    }

    /// Any byte collection (`Data`, a slice, ...); offsets count from its first byte.
    public static func parse(
        _ bytes: some Collection<UInt8>, maxDepth: Int = 64, rejectDuplicateKeys: Bool = false
    ) throws(JSONError) -> JSONValue {
        let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONError) in
                try parse(buffer, maxDepth: maxDepth, rejectDuplicateKeys: rejectDuplicateKeys)
            }
        }
        if let contiguous { return try contiguous.get() }
        return try parse(Array(bytes), maxDepth: maxDepth, rejectDuplicateKeys: rejectDuplicateKeys)
    }

    /// The UTF-8 of `text`; offsets are UTF-8 byte offsets.
    public static func parse(
        _ text: String, maxDepth: Int = 64, rejectDuplicateKeys: Bool = false
    ) throws(JSONError) -> JSONValue {
        try parse(text.utf8, maxDepth: maxDepth, rejectDuplicateKeys: rejectDuplicateKeys)
    }

    /// Full strict validation, building nothing and allocating nothing (below 64 levels of
    /// nesting). Accepts exactly what `parse` accepts with duplicate keys allowed: key
    /// uniqueness needs the keys, so it is checked where keys are built.
    public static func validate(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 64) throws(JSONError) {
        var handler = JSONValidationHandler()
        try JSONScanner.scan(bytes, maxDepth: maxDepth, handler: &handler)
    }

    public static func validate(_ bytes: [UInt8], maxDepth: Int = 64) throws(JSONError) {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in try validate(buffer, maxDepth: maxDepth) }
    }

    public static func validate(_ text: String, maxDepth: Int = 64) throws(JSONError) {
        let contiguous = text.utf8.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONError) in try validate(buffer, maxDepth: maxDepth) }
        }
        if let contiguous { return try contiguous.get() }
        try validate(Array(text.utf8), maxDepth: maxDepth)
    }
}

/// The type of a JSON value, as the first byte of its lexeme tells it.
public enum JSONKind: Sendable {
    case null, bool, number, string, array, object
}

/// One member of the top-level object, as `JSONParser.scanObject` found it.
public struct JSONMember: Sendable, Equatable {
    /// The key, escapes decoded.
    public let key: String
    /// The value's exact bytes in the scanned buffer: from its first byte (a quote, a bracket,
    /// a digit...) to one past its last, whitespace inside included, whitespace around excluded.
    public let valueRange: Range<Int>
    public let kind: JSONKind

    public init(key: String, valueRange: Range<Int>, kind: JSONKind) {
        self.key = key
        self.valueRange = valueRange
        self.kind = kind
    }
}

/// `validate`: the scanner's checks are the whole job.
struct JSONValidationHandler: JSONScanHandler {
    func openContainer(_ kind: JSONKind, at offset: Int, depth: Int) {}
    func closeContainer(_ kind: JSONKind, end: Int, depth: Int) {}
    func key(_ range: Range<Int>, hasEscapes: Bool, depth: Int) {}
    func string(_ range: Range<Int>, hasEscapes: Bool, depth: Int) {}
    func number(_ range: Range<Int>, depth: Int) {}
    func literal(_ kind: JSONKind, _ range: Range<Int>, depth: Int) {}
}
