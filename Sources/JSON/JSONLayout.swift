/// Re-lays out a JSON document's whitespace without touching its tokens: strings, numbers
/// and literals are copied byte for byte, so `12.50` stays `12.50` and a 20-digit integer
/// keeps every digit (a parse into `JSONValue` would turn both into Doubles). For showing a
/// received body to a person (`pretty`) or on one line of a log (`compact`).
///
/// The document is validated with the strict parser first, so the re-layout can trust its
/// structure; invalid input throws the parser's error and produces nothing.
public enum JSONLayout {
    /// One member or element a line, nested levels indented by `indent` spaces, `": "`
    /// between key and value; empty objects and arrays stay `{}` and `[]`.
    public static func pretty(_ bytes: [UInt8], indent: Int = 2, maxDepth: Int = 64) throws(JSONError) -> [UInt8] {
        try JSONParser.validate(bytes, maxDepth: maxDepth)
        return relayout(bytes, indent: max(0, indent))
    }

    /// No whitespace outside strings.
    public static func compact(_ bytes: [UInt8], maxDepth: Int = 64) throws(JSONError) -> [UInt8] {
        try JSONParser.validate(bytes, maxDepth: maxDepth)
        return relayout(bytes, indent: nil)
    }

    /// Walks a valid document token by token; `indent` nil means compact.
    private static func relayout(_ bytes: [UInt8], indent: Int?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(indent == nil ? bytes.count : bytes.count * 2)
        var depth = 0
        func newline() {
            guard let indent else { return }
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: depth * indent))
        }
        func isWhitespace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case _ where isWhitespace(byte):
                index += 1
            case UInt8(ascii: "\""):
                // Copy the whole string; an escaped quote (`\"`) does not end it.
                var end = index + 1
                while bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                out.append(contentsOf: bytes[index...end])
                index = end + 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var next = index + 1
                while isWhitespace(bytes[next]) { next += 1 }
                out.append(byte)
                if bytes[next] == UInt8(ascii: "}") || bytes[next] == UInt8(ascii: "]") {
                    out.append(bytes[next])
                    index = next + 1
                } else {
                    depth += 1
                    newline()
                    index += 1
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                newline()
                out.append(byte)
                index += 1
            case UInt8(ascii: ","):
                out.append(byte)
                newline()
                index += 1
            case UInt8(ascii: ":"):
                out.append(byte)
                if indent != nil { out.append(UInt8(ascii: " ")) }
                index += 1
            default:
                out.append(byte)
                index += 1
            }
        }
        return out
    }
}
