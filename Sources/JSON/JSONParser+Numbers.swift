/// Numbers: the RFC 8259 §6 grammar, `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`,
/// and conversion to Double.
///
/// Range policy: a number whose value rounds to ±infinity as a Double (`1e400`, 400 nines) is
/// rejected as "number out of range", in every entry point, validation included. Accepting it
/// would hand a schema or a filter an infinity that JSON itself cannot express, and
/// serializing it back out would be impossible. A value too small to represent rounds to ±0
/// (or a subnormal), as every IEEE parser does; that loses nothing a Double could have kept.
enum JSONNumbers {
    /// Validates the number starting at `start` (a '-' or a digit); returns one past its end.
    @inline(__always)
    static func scan(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) throws(JSONError) -> Int {
        let count = buffer.count
        var i = start
        if buffer[i] == UInt8(ascii: "-") { i += 1 }
        let integerStart = i
        guard i < count && isDigit(buffer[i]) else { throw .expected("a digit after '-'", at: i, count: count) }
        if buffer[i] == UInt8(ascii: "0") {
            i += 1
            if i < count && isDigit(buffer[i]) { throw .leadingZero(at: i) }
        } else {
            i = skipDigits(buffer, from: i + 1)
        }
        let integerDigits = i - integerStart
        if i < count && buffer[i] == UInt8(ascii: ".") {
            i += 1
            guard i < count && isDigit(buffer[i]) else { throw .expected("a digit after '.'", at: i, count: count) }
            i = skipDigits(buffer, from: i + 1)
        }
        // The value is below 10^(integerDigits + exponent), so as long as that power is at most
        // 10^308 it is finite and there is nothing to convert. Only numbers that might overflow
        // pay for an exact conversion.
        var magnitudeBound = integerDigits
        if i < count && buffer[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var negative = false
            if i < count && (buffer[i] == UInt8(ascii: "+") || buffer[i] == UInt8(ascii: "-")) {
                negative = buffer[i] == UInt8(ascii: "-")
                i += 1
            }
            guard i < count && isDigit(buffer[i]) else { throw .expected("a digit in the exponent", at: i, count: count) }
            var exponent = 0
            while i < count && isDigit(buffer[i]) {
                // Saturate: past a million the answer no longer changes, and it cannot overflow.
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(buffer[i] &- UInt8(ascii: "0")) }
                i += 1
            }
            magnitudeBound += negative ? -exponent : exponent
        }
        if magnitudeBound > 308 {
            guard let value = exactValue(buffer, start..<i), value.isFinite else { throw .numberOutOfRange(at: start) }
        }
        return i
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always)
    private static func skipDigits(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        while i < buffer.count && isDigit(buffer[i]) { i += 1 }
        return i
    }

    /// The Double nearest to a lexeme that `scan` accepted.
    static func value(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(JSONError) -> Double {
        if let fast = fastValue(buffer, range) { return fast }
        guard let value = exactValue(buffer, range), value.isFinite else { throw .numberOutOfRange(at: range.lowerBound) }
        return value
    }

    /// Clinger's fast path: when the significand fits in 53 bits and the power of ten is at
    /// most 10^22, both are exact Doubles and one IEEE multiplication or division rounds
    /// correctly. That covers integers below 2^53 and ordinary decimals like 12.75 or 1e-5.
    private static func fastValue(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Double? {
        var i = range.lowerBound
        let end = range.upperBound
        let negative = buffer[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var significand: UInt64 = 0
        var significantDigits = 0
        var fractionDigits = 0
        var inFraction = false
        while i < end {
            let byte = buffer[i]
            if byte == UInt8(ascii: ".") {
                inFraction = true
            } else if isDigit(byte) {
                if significand != 0 || byte != UInt8(ascii: "0") { significantDigits += 1 }
                // 19 digits always fit in a UInt64; longer ones go the exact way.
                guard significantDigits <= 19 else { return nil }
                significand = significand &* 10 &+ UInt64(byte &- UInt8(ascii: "0"))
                if inFraction { fractionDigits += 1 }
            } else {
                break  // 'e' or 'E'
            }
            i += 1
        }
        var exponent = 0
        if i < end {
            i += 1
            var exponentNegative = false
            if buffer[i] == UInt8(ascii: "+") || buffer[i] == UInt8(ascii: "-") {
                exponentNegative = buffer[i] == UInt8(ascii: "-")
                i += 1
            }
            while i < end {
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(buffer[i] &- UInt8(ascii: "0")) }
                i += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        exponent -= fractionDigits
        var value: Double
        if significand == 0 {
            value = 0
        } else {
            guard significand <= 1 << 53, exponent >= -22, exponent <= 22 else { return nil }
            value = Double(significand)
            if exponent < 0 { value /= powerOfTen(-exponent) } else if exponent > 0 { value *= powerOfTen(exponent) }
        }
        return negative ? -value : value
    }

    /// 10^n for 0 ≤ n ≤ 22, all exactly representable.
    @inline(__always)
    private static func powerOfTen(_ n: Int) -> Double {
        var result = 1.0
        var base = 10.0
        var n = n
        // No step rounds: every product that reaches `result` is a power of ten up to 10^22,
        // which a Double holds exactly (5^22 < 2^53). Only the last squaring of `base` may
        // overshoot, and it is never used.
        while n > 0 {
            if n & 1 == 1 { result *= base }
            base *= base
            n >>= 1
        }
        return result
    }

    /// Correctly rounded conversion of a grammar-valid lexeme through the standard library
    /// (strtod in the C locale). `nil` is not expected after validation; callers treat it as
    /// out of range rather than trusting it never happens.
    private static func exactValue(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Double? {
        Double(String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self))
    }
}
