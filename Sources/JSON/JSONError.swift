/// Why a document is not strict RFC 8259 JSON (or breaks a limit the caller set). `offset` is
/// the byte where parsing broke, counted from the start of the input: the first byte that
/// cannot belong to a valid document, the backslash that starts a bad escape, the lead byte
/// of a bad UTF-8 sequence, or the input's length when it ends too early. The message is
/// written for the person who sent the document: it goes out verbatim in problem+json
/// `detail` fields.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public let offset: Int
    public let message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "at byte \(offset): \(message)" }
}

// Builders for the messages. Each is `@inline(never)` so string formatting stays out of the
// scanning loops, which are the ingest hot path.
extension JSONError {
    /// Something specific was due at `offset`; at the end of the input that is said outright,
    /// since a truncated body is the most common way to get here.
    @inline(never)
    static func expected(_ what: String, at offset: Int, count: Int) -> JSONError {
        if offset >= count {
            return JSONError(offset: count, message: "unexpected end of input; expected \(what)")
        }
        return JSONError(offset: offset, message: "expected \(what)")
    }

    @inline(never)
    static func trailingComma(before closer: UInt8, at offset: Int) -> JSONError {
        JSONError(offset: offset, message: "trailing comma before '\(Character(Unicode.Scalar(closer)))'")
    }

    @inline(never)
    static func tooDeep(maxDepth: Int, at offset: Int) -> JSONError {
        JSONError(offset: offset, message: "nesting deeper than \(maxDepth) levels")
    }

    @inline(never)
    static func trailingData(at offset: Int) -> JSONError {
        JSONError(offset: offset, message: "unexpected data after the document")
    }

    @inline(never)
    static func unterminatedString(openedAt start: Int, count: Int) -> JSONError {
        JSONError(offset: count, message: "unterminated string (opened at byte \(start))")
    }

    @inline(never)
    static func controlCharacter(_ byte: UInt8, at offset: Int) -> JSONError {
        JSONError(offset: offset, message: "unescaped control character \(hex(byte)) in string")
    }

    /// `offset` is the backslash.
    @inline(never)
    static func invalidEscape(_ byte: UInt8, at offset: Int) -> JSONError {
        if byte > 0x20 && byte < 0x7F {
            return JSONError(offset: offset, message: "invalid escape \\\(Character(Unicode.Scalar(byte)))")
        }
        return JSONError(offset: offset, message: "invalid escape: '\\' followed by byte \(hex(byte))")
    }

    /// `offset` is the backslash.
    @inline(never)
    static func invalidUnicodeEscape(at offset: Int) -> JSONError {
        JSONError(offset: offset, message: "invalid \\u escape: expected 4 hex digits")
    }

    /// `offset` is the backslash of the `\u` escape that has no partner.
    @inline(never)
    static func unpairedSurrogate(_ codeUnit: UInt16, at offset: Int) -> JSONError {
        JSONError(offset: offset, message: "unpaired surrogate \\u\(hex4(codeUnit))")
    }

    /// `offset` is the lead byte of the bad sequence.
    @inline(never)
    static func invalidUTF8(_ lead: UInt8, _ reason: String, at offset: Int) -> JSONError {
        JSONError(offset: offset, message: "invalid UTF-8 byte \(hex(lead)) (\(reason))")
    }

    @inline(never)
    static func leadingZero(at offset: Int) -> JSONError {
        JSONError(offset: offset, message: "leading zeros are not allowed in numbers")
    }

    /// `offset` is the number's first byte.
    @inline(never)
    static func numberOutOfRange(at offset: Int) -> JSONError {
        JSONError(offset: offset, message: "number out of range (beyond ±1.7976931348623157e308)")
    }

    @inline(never)
    static func invalidLiteral(_ literal: String, at offset: Int, count: Int) -> JSONError {
        expected("'\(literal)'", at: offset, count: count)
    }

    /// `offset` is the duplicate's opening quote.
    @inline(never)
    static func duplicateKey(_ key: String, at offset: Int) -> JSONError {
        var quoted: [UInt8] = []
        JSONSerializer.writeString(key, into: &quoted)
        return JSONError(offset: offset, message: "duplicate key \(String(decoding: quoted, as: UTF8.self))")
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 0x10 ? "0x0\(digits)" : "0x\(digits)"
    }

    private static func hex4(_ unit: UInt16) -> String {
        let digits = String(unit, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}
