extension JSONParser {
    /// The Swift string for a JSON string value whose bytes (quotes included) are
    /// `bytes[range]`, typically a `JSONMember.valueRange` of kind `.string`. The range is
    /// validated again (it is just two integers from the caller), so a wrong range throws
    /// rather than reading past it. Without escapes this is a single copy.
    public static func decodeString(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) throws(JSONError) -> String {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count, range.count >= 2,
              bytes[range.lowerBound] == UInt8(ascii: "\"")
        else {
            throw JSONError(offset: max(0, range.lowerBound), message: "expected a string value in the given range")
        }
        // Scanning the prefix that ends with the range keeps offsets the same and stops the scan
        // at the range's end even if the caller's range cut a string short.
        let prefix = UnsafeBufferPointer(rebasing: bytes[..<range.upperBound])
        let (end, hasEscapes) = try JSONStrings.scan(prefix, openingQuote: range.lowerBound)
        guard end == range.upperBound else {
            throw JSONError(offset: end, message: "the string ends before the end of the given range")
        }
        return JSONStrings.decode(bytes, string: range, hasEscapes: hasEscapes)
    }

    public static func decodeString(_ bytes: [UInt8], range: Range<Int>) throws(JSONError) -> String {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in try decodeString(buffer, range: range) }
    }
}

/// Strings: RFC 8259 §7 (escapes, no raw control characters) and RFC 3629 (UTF-8 that is
/// well formed in the strict sense: no overlong forms, no encoded surrogates, nothing above
/// U+10FFFF, no truncated sequences). Only bytes inside strings can be non-ASCII, so this is
/// the only place UTF-8 is checked.
enum JSONStrings {
    /// Validates the string whose opening quote is at `openingQuote`. Returns one past the
    /// closing quote, and whether a backslash was seen (so decoding can take the copy-only path).
    @inline(__always)
    static func scan(_ buffer: UnsafeBufferPointer<UInt8>, openingQuote: Int) throws(JSONError) -> (end: Int, hasEscapes: Bool) {
        let count = buffer.count
        var i = openingQuote + 1
        var hasEscapes = false
        while true {
            // Eight bytes at a time while none needs a look: event payloads are mostly long runs
            // of plain ASCII inside strings.
            if let base = buffer.baseAddress {
                while i + 8 <= count && isPlainRun(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) {
                    i += 8
                }
            }
            guard i < count else { throw .unterminatedString(openedAt: openingQuote, count: count) }
            let byte = buffer[i]
            if byte == UInt8(ascii: "\"") {
                return (i + 1, hasEscapes)
            } else if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                i = try scanEscape(buffer, backslash: i, openingQuote: openingQuote)
            } else if byte < 0x20 {
                throw .controlCharacter(byte, at: i)
            } else if byte < 0x80 {
                i += 1
            } else {
                i = try scanUTF8Sequence(buffer, lead: i)
            }
        }
    }

    /// True when none of the eight bytes is a quote, a backslash, a control character or
    /// non-ASCII. The "has a zero byte" bit tricks are exact for the any-byte question, which
    /// is all that is asked here.
    @inline(__always)
    private static func isPlainRun(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* 0x22)
        let backslashes = word ^ (ones &* 0x5C)
        let hasQuote = (quotes &- ones) & ~quotes
        let hasBackslash = (backslashes &- ones) & ~backslashes
        let hasControl = (word &- ones &* 0x20) & ~word
        return (hasQuote | hasBackslash | hasControl | word) & highs == 0
    }

    /// Returns the index after the escape that starts at `backslash`.
    private static func scanEscape(_ buffer: UnsafeBufferPointer<UInt8>, backslash: Int, openingQuote: Int) throws(JSONError) -> Int {
        let count = buffer.count
        guard backslash + 1 < count else { throw .unterminatedString(openedAt: openingQuote, count: count) }
        switch buffer[backslash + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"),
             UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return backslash + 2
        case UInt8(ascii: "u"):
            let unit = try codeUnit(buffer, backslash: backslash, openingQuote: openingQuote)
            switch unit {
            case 0xD800..<0xDC00:
                // RFC 8259 §7: a character outside the BMP is a high surrogate escape followed
                // by a low one. Alone, it is no character at all, and cannot become UTF-8.
                let next = backslash + 6
                guard next < count else { throw .unterminatedString(openedAt: openingQuote, count: count) }
                guard buffer[next] == UInt8(ascii: "\\") else { throw .unpairedSurrogate(unit, at: backslash) }
                guard next + 1 < count else { throw .unterminatedString(openedAt: openingQuote, count: count) }
                guard buffer[next + 1] == UInt8(ascii: "u") else { throw .unpairedSurrogate(unit, at: backslash) }
                let low = try codeUnit(buffer, backslash: next, openingQuote: openingQuote)
                guard (0xDC00..<0xE000).contains(low) else { throw .unpairedSurrogate(unit, at: backslash) }
                return next + 6
            case 0xDC00..<0xE000:
                throw .unpairedSurrogate(unit, at: backslash)
            default:
                return backslash + 6
            }
        default:
            throw .invalidEscape(buffer[backslash + 1], at: backslash)
        }
    }

    /// The four hex digits of the `\u` escape at `backslash`.
    @inline(__always)
    private static func codeUnit(_ buffer: UnsafeBufferPointer<UInt8>, backslash: Int, openingQuote: Int) throws(JSONError) -> UInt16 {
        var unit: UInt16 = 0
        for i in backslash + 2..<backslash + 6 {
            guard i < buffer.count else { throw .unterminatedString(openedAt: openingQuote, count: buffer.count) }
            guard let digit = hexValue(buffer[i]) else { throw .invalidUnicodeEscape(at: backslash) }
            unit = unit << 4 | digit
        }
        return unit
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt16? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt16(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt16(byte &- UInt8(ascii: "A") &+ 10)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt16(byte &- UInt8(ascii: "a") &+ 10)
        default: return nil
        }
    }

    /// Validates the multi-byte sequence whose lead byte (≥ 0x80) is at `lead` against the
    /// well-formed table of RFC 3629 §4; returns the index after it.
    private static func scanUTF8Sequence(_ buffer: UnsafeBufferPointer<UInt8>, lead: Int) throws(JSONError) -> Int {
        let first = buffer[lead]
        // The allowed range of the second byte carries every rule besides "continuation
        // bytes are 10xxxxxx": it excludes overlong forms, surrogates and > U+10FFFF.
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        var tightReason = ""
        switch first {
        case 0xC2...0xDF:
            length = 2
        case 0xE0:
            length = 3; secondRange = 0xA0...0xBF; tightReason = "overlong encoding"
        case 0xE1...0xEC, 0xEE...0xEF:
            length = 3
        case 0xED:
            length = 3; secondRange = 0x80...0x9F; tightReason = "encoded surrogate"
        case 0xF0:
            length = 4; secondRange = 0x90...0xBF; tightReason = "overlong encoding"
        case 0xF1...0xF3:
            length = 4
        case 0xF4:
            length = 4; secondRange = 0x80...0x8F; tightReason = "above U+10FFFF"
        case 0x80...0xBF:
            throw .invalidUTF8(first, "unexpected continuation byte", at: lead)
        case 0xC0, 0xC1:
            throw .invalidUTF8(first, "overlong encoding", at: lead)
        case 0xF5...0xF7:
            throw .invalidUTF8(first, "above U+10FFFF", at: lead)
        default:
            throw .invalidUTF8(first, "never used in UTF-8", at: lead)
        }
        guard lead + 1 < buffer.count, (0x80...0xBF).contains(buffer[lead + 1]) else {
            throw .invalidUTF8(first, "truncated sequence", at: lead)
        }
        guard secondRange.contains(buffer[lead + 1]) else { throw .invalidUTF8(first, tightReason, at: lead) }
        var i = lead + 2
        while i < lead + length {
            guard i < buffer.count, buffer[i] & 0xC0 == 0x80 else {
                throw .invalidUTF8(first, "truncated sequence", at: lead)
            }
            i += 1
        }
        return i
    }

    /// The string whose validated bytes (quotes included) are `buffer[string]`.
    static func decode(_ buffer: UnsafeBufferPointer<UInt8>, string: Range<Int>, hasEscapes: Bool) -> String {
        let raw = UnsafeBufferPointer(rebasing: buffer[string.lowerBound + 1..<string.upperBound - 1])
        guard hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        // Every escape is at least as long as the UTF-8 it stands for, so the raw length bounds
        // the decoded one.
        return String(unsafeUninitializedCapacity: raw.count) { out in
            var i = 0
            var o = 0
            while i < raw.count {
                let byte = raw[i]
                guard byte == UInt8(ascii: "\\") else {
                    out[o] = byte
                    o += 1
                    i += 1
                    continue
                }
                let escaped = raw[i + 1]
                i += 2
                switch escaped {
                case UInt8(ascii: "b"): out[o] = 0x08
                case UInt8(ascii: "f"): out[o] = 0x0C
                case UInt8(ascii: "n"): out[o] = 0x0A
                case UInt8(ascii: "r"): out[o] = 0x0D
                case UInt8(ascii: "t"): out[o] = 0x09
                case UInt8(ascii: "u"):
                    var scalar = UInt32(validatedCodeUnit(raw, at: i))
                    i += 4
                    if scalar >= 0xD800 {
                        if scalar < 0xDC00 {
                            // Validation guaranteed the low half follows.
                            let low = UInt32(validatedCodeUnit(raw, at: i + 2))
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            i += 6
                        }
                    }
                    o = writeUTF8(scalar, into: out, at: o)
                    continue
                default:  // '"', '\\' and '/' stand for themselves
                    out[o] = escaped
                }
                o += 1
            }
            return o
        }
    }

    @inline(__always)
    private static func validatedCodeUnit(_ raw: UnsafeBufferPointer<UInt8>, at start: Int) -> UInt16 {
        var unit: UInt16 = 0
        for i in start..<start + 4 { unit = unit << 4 | (hexValue(raw[i]) ?? 0) }
        return unit
    }

    @inline(__always)
    private static func writeUTF8(_ scalar: UInt32, into out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        var o = start
        switch scalar {
        case 0..<0x80:
            out[o] = UInt8(scalar); o += 1
        case 0x80..<0x800:
            out[o] = UInt8(0xC0 | scalar >> 6); out[o + 1] = UInt8(0x80 | scalar & 0x3F); o += 2
        case 0x800..<0x10000:
            out[o] = UInt8(0xE0 | scalar >> 12); out[o + 1] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[o + 2] = UInt8(0x80 | scalar & 0x3F); o += 3
        default:
            out[o] = UInt8(0xF0 | scalar >> 18); out[o + 1] = UInt8(0x80 | scalar >> 12 & 0x3F)
            out[o + 2] = UInt8(0x80 | scalar >> 6 & 0x3F); out[o + 3] = UInt8(0x80 | scalar & 0x3F); o += 4
        }
        return o
    }
}
