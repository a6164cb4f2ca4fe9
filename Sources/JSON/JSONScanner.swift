/// What the scanner reports, in document order, as it validates. Each entry point of
/// `JSONParser` is this one scanner plus a handler: validation ignores everything, the
/// top-level member collector keeps ranges, the tree builder builds. Handlers are generic
/// parameters, so each combination is specialised and the empty callbacks vanish.
///
/// `depth` is the number of open containers around the item (0 for a scalar document, 1 for
/// the members of the root container); a container reports its own depth, counting itself.
protocol JSONScanHandler {
    mutating func openContainer(_ kind: JSONKind, at offset: Int, depth: Int) throws(JSONError)
    /// `end` is one past the closing bracket.
    mutating func closeContainer(_ kind: JSONKind, end: Int, depth: Int) throws(JSONError)
    /// `range` includes the quotes; `depth` is the object's.
    mutating func key(_ range: Range<Int>, hasEscapes: Bool, depth: Int) throws(JSONError)
    /// `range` includes the quotes.
    mutating func string(_ range: Range<Int>, hasEscapes: Bool, depth: Int) throws(JSONError)
    /// The lexeme is valid RFC 8259 grammar and its value is finite as a Double.
    mutating func number(_ range: Range<Int>, depth: Int) throws(JSONError)
    /// `kind` is `.null` or `.bool`; `range` covers `null`, `true` or `false`.
    mutating func literal(_ kind: JSONKind, _ range: Range<Int>, depth: Int) throws(JSONError)
}

/// The single-pass strict RFC 8259 scanner. Iterative, with an explicit stack of open
/// containers, so a hostile document can cost at most `maxDepth` bits of stack state and never
/// overflows the thread's stack. Indices live in locals and bytes are read through an
/// `UnsafeBufferPointer`: in release builds that is a plain load, and this loop is where the
/// ingest path spends its JSON time.
enum JSONScanner {
    static func scan<Handler: JSONScanHandler>(
        _ buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int, handler: inout Handler
    ) throws(JSONError) {
        let count = buffer.count
        var stack = ContainerStack()
        var depth = 0
        var i = skipWhitespace(buffer, from: 0)

        value: while true {
            // A value is due at `i`, and whitespace before it has been skipped.
            guard i < count else { throw .expected("a value", at: i, count: count) }
            switch buffer[i] {
            case UInt8(ascii: "{"):
                guard depth < maxDepth else { throw .tooDeep(maxDepth: maxDepth, at: i) }
                depth += 1
                stack.set(depth: depth, isObject: true)
                try handler.openContainer(.object, at: i, depth: depth)
                i = skipWhitespace(buffer, from: i + 1)
                if i < count && buffer[i] == UInt8(ascii: "}") {
                    i += 1
                    try handler.closeContainer(.object, end: i, depth: depth)
                    depth -= 1
                } else {
                    i = try scanMemberName(buffer, at: i, depth: depth, handler: &handler, expecting: "a string key or '}'")
                    continue value
                }
            case UInt8(ascii: "["):
                guard depth < maxDepth else { throw .tooDeep(maxDepth: maxDepth, at: i) }
                depth += 1
                stack.set(depth: depth, isObject: false)
                try handler.openContainer(.array, at: i, depth: depth)
                i = skipWhitespace(buffer, from: i + 1)
                if i < count && buffer[i] == UInt8(ascii: "]") {
                    i += 1
                    try handler.closeContainer(.array, end: i, depth: depth)
                    depth -= 1
                } else {
                    continue value
                }
            case UInt8(ascii: "\""):
                let (end, hasEscapes) = try JSONStrings.scan(buffer, openingQuote: i)
                try handler.string(i..<end, hasEscapes: hasEscapes, depth: depth)
                i = end
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let end = try JSONNumbers.scan(buffer, from: i)
                try handler.number(i..<end, depth: depth)
                i = end
            case UInt8(ascii: "t"):
                let end = try scanLiteral(buffer, at: i, "true")
                try handler.literal(.bool, i..<end, depth: depth)
                i = end
            case UInt8(ascii: "f"):
                let end = try scanLiteral(buffer, at: i, "false")
                try handler.literal(.bool, i..<end, depth: depth)
                i = end
            case UInt8(ascii: "n"):
                let end = try scanLiteral(buffer, at: i, "null")
                try handler.literal(.null, i..<end, depth: depth)
                i = end
            default:
                throw .expected("a value", at: i, count: count)
            }

            // A value just ended at `i`: close containers until one wants another element.
            while true {
                i = skipWhitespace(buffer, from: i)
                if depth == 0 { break value }
                let isObject = stack.isObject(depth: depth)
                let closer = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                guard i < count else {
                    throw .expected(isObject ? "',' or '}' after object member" : "',' or ']' after array element", at: i, count: count)
                }
                let byte = buffer[i]
                if byte == UInt8(ascii: ",") {
                    i = skipWhitespace(buffer, from: i + 1)
                    // Foundation and JavaScript engines in lenient modes take `[1,]`; RFC 8259
                    // does not, and silently accepting it would make us the odd validator out.
                    if i < count && buffer[i] == closer { throw .trailingComma(before: closer, at: i) }
                    if isObject {
                        i = try scanMemberName(buffer, at: i, depth: depth, handler: &handler, expecting: "a string key after ','")
                    }
                    continue value
                }
                guard byte == closer else {
                    throw .expected(isObject ? "',' or '}' after object member" : "',' or ']' after array element", at: i, count: count)
                }
                i += 1
                try handler.closeContainer(isObject ? .object : .array, end: i, depth: depth)
                depth -= 1
            }
        }
        guard i == count else { throw .trailingData(at: i) }
    }

    /// A member's key, the colon and the whitespace after it. Returns where the value starts.
    @inline(__always)
    private static func scanMemberName<Handler: JSONScanHandler>(
        _ buffer: UnsafeBufferPointer<UInt8>, at start: Int, depth: Int, handler: inout Handler,
        expecting: String
    ) throws(JSONError) -> Int {
        let count = buffer.count
        guard start < count && buffer[start] == UInt8(ascii: "\"") else {
            throw .expected(expecting, at: start, count: count)
        }
        let (end, hasEscapes) = try JSONStrings.scan(buffer, openingQuote: start)
        try handler.key(start..<end, hasEscapes: hasEscapes, depth: depth)
        let colon = skipWhitespace(buffer, from: end)
        guard colon < count && buffer[colon] == UInt8(ascii: ":") else {
            throw .expected("':' after object key", at: colon, count: count)
        }
        return skipWhitespace(buffer, from: colon + 1)
    }

    /// RFC 8259 §2: whitespace is exactly space, tab, line feed and carriage return.
    @inline(__always)
    static func skipWhitespace(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        while i < buffer.count {
            let byte = buffer[i]
            // Every byte that can start or continue a document is above 0x20.
            if byte > 0x20 { return i }
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return i }
            i += 1
        }
        return i
    }

    /// `true`, `false` or `null`, whose first byte has been seen at `start`.
    @inline(__always)
    private static func scanLiteral(
        _ buffer: UnsafeBufferPointer<UInt8>, at start: Int, _ literal: StaticString
    ) throws(JSONError) -> Int {
        let length = literal.utf8CodeUnitCount
        let expected = literal.utf8Start
        var k = 1
        while k < length {
            guard start + k < buffer.count && buffer[start + k] == expected[k] else {
                throw .invalidLiteral(literal.description, at: start + k, count: buffer.count)
            }
            k += 1
        }
        return start + length
    }
}

/// One bit per open container (set: object, clear: array). The first 64 levels live inline,
/// so the default limit never allocates; deeper levels, when a caller allows them, spill into
/// an array.
struct ContainerStack {
    private var inline: UInt64 = 0
    private var spilled: [UInt64] = []

    /// Records the kind of the container at `depth` (1-based), replacing whatever was there.
    @inline(__always)
    mutating func set(depth: Int, isObject: Bool) {
        if depth <= 64 {
            let bit: UInt64 = 1 << UInt64(depth - 1)
            inline = isObject ? inline | bit : inline & ~bit
        } else {
            let word = (depth - 65) >> 6
            let bit: UInt64 = 1 << UInt64((depth - 65) & 63)
            while spilled.count <= word { spilled.append(0) }
            spilled[word] = isObject ? spilled[word] | bit : spilled[word] & ~bit
        }
    }

    @inline(__always)
    func isObject(depth: Int) -> Bool {
        if depth <= 64 { return inline & (1 << UInt64(depth - 1)) != 0 }
        return spilled[(depth - 65) >> 6] & (1 << UInt64((depth - 65) & 63)) != 0
    }
}
