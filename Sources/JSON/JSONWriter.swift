// Writing JSON without Foundation: responses and webhook bodies are built on hot paths
// (event loops, the dispatcher), where JSONEncoder's cost (tens of microseconds) would
// dominate.

/// Already-encoded JSON, to nest inside a document being written.
public struct JSONFragment: Sendable {
    public let bytes: [UInt8]
    public init(raw bytes: [UInt8]) { self.bytes = bytes }
    public static func string(_ value: String) -> JSONFragment {
        var bytes: [UInt8] = []
        appendJSONString(value, to: &bytes)
        return JSONFragment(raw: bytes)
    }
}

/// Writes a flat JSON object without Foundation: responses are built on the event loop,
/// where JSONEncoder's cost (tens of microseconds) would dominate the request.
public struct JSONObjectWriter: Sendable {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    public init() {}

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        appendJSONString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func add(_ name: String, string value: String) {
        key(name)
        appendJSONString(value, to: &bytes)
    }

    public mutating func add(_ name: String, number value: Int) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func add(_ name: String, bool value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Adds a value that is already valid JSON.
    public mutating func add(_ name: String, raw value: [UInt8]) {
        key(name)
        bytes.append(contentsOf: value)
    }

    /// Adds an array of values that are already valid JSON.
    public mutating func add<Elements: Sequence>(_ name: String, array elements: Elements) where Elements.Element == [UInt8] {
        add(name, raw: jsonArray(elements))
    }

    public consuming func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

/// `[e1,e2,...]` from values that are already valid JSON.
public func jsonArray<Elements: Sequence>(_ elements: Elements) -> [UInt8] where Elements.Element == [UInt8] {
    var bytes: [UInt8] = [UInt8(ascii: "[")]
    for (index, element) in elements.enumerated() {
        if index > 0 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(contentsOf: element)
    }
    bytes.append(UInt8(ascii: "]"))
    return bytes
}

/// Appends `value` as a JSON string literal (RFC 8259 §7): quotation mark, reverse solidus
/// and U+0000-U+001F escaped (the short forms where they exist), everything else as UTF-8.
/// The one string escaper of the project: the serializer, the object writer, problem
/// documents and webhook envelopes all use it.
public func appendJSONString(_ value: String, to bytes: inout [UInt8]) {
    var value = value
    value.withUTF8 { appendJSONString(utf8: UnsafeRawBufferPointer($0), to: &bytes) }
}

/// Appends UTF-8 bytes as a JSON string literal, quoted and escaped: for text that is still
/// in a buffer (a journal record's field) and need not become a `String` first.
public func appendJSONString(utf8 value: UnsafeRawBufferPointer, to bytes: inout [UInt8]) {
    let hex: StaticString = "0123456789abcdef"
    bytes.append(UInt8(ascii: "\""))
    var clean = 0  // start of the run of bytes that need no escape
    for (index, byte) in value.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[clean..<index]))
        clean = index + 1
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        default:
            hex.withUTF8Buffer { digits in
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
            }
        }
    }
    bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[clean...]))
    bytes.append(UInt8(ascii: "\""))
}
