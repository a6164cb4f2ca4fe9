/// Splits an already-validated JSON array into the byte ranges of its elements, so each
/// element of a batch can be scanned (and its `data` kept verbatim) like a single event.
public enum JSONArrayElements {
    /// `array` must be the range of a valid JSON array inside `bytes`.
    public static func ranges(in bytes: UnsafeBufferPointer<UInt8>, array: Range<Int>) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var depth = 0
        var inString = false
        var escaped = false
        var elementStart: Int?
        var lastNonSpace = array.lowerBound
        for index in array {
            let byte = bytes[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                lastNonSpace = index
                continue
            }
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                continue
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth == 1 && byte == UInt8(ascii: "[") { lastNonSpace = index; continue }
                if depth == 2 && elementStart == nil { elementStart = index }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if depth == 1 {
                    if let start = elementStart { ranges.append(start..<(lastNonSpace + 1)) }
                    return ranges
                }
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 {
                    if let start = elementStart { ranges.append(start..<(lastNonSpace + 1)) }
                    elementStart = nil
                    continue
                }
            case UInt8(ascii: "\""):
                inString = true
                if depth == 1 && elementStart == nil { elementStart = index }
            default:
                if depth == 1 && elementStart == nil { elementStart = index }
            }
            lastNonSpace = index
        }
        return ranges
    }
}

/// `Array.withUnsafeBufferPointer` rethrows untyped errors; this keeps a typed error typed.
/// Inlinable: it wraps every request body, and unspecialized it looked up generic metadata.
@inlinable
public func withBytes<R, E: Error>(_ bytes: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
    var failure: E?
    let result: R? = bytes.withUnsafeBufferPointer { buffer in
        do throws(E) {
            return try body(buffer)
        } catch {
            failure = error
            return nil
        }
    }
    if let failure { throw failure }
    return result!
}
