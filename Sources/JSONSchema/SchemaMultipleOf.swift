import JSON
/// `multipleOf` decided in decimal. JSON numbers are decimal text, but they reach us as
/// binary Doubles: 0.0075 / 0.0001 computes as 74.99999999999999, and no fixed tolerance on
/// the quotient works at every magnitude (one loose enough for that accepts 1e15 + 1 as a
/// multiple of 2). Instead both numbers go back to the shortest decimal that round-trips
/// to the same Double — the digits the JSON most likely had — and divisibility is checked
/// exactly on integer mantissas.
struct SchemaMultipleOf: Sendable {
    let divisor: Double
    private let decimalDivisor: ShortestDecimal?

    init(_ divisor: Double) {
        self.divisor = divisor
        self.decimalDivisor = ShortestDecimal(divisor)
    }

    func admits(_ value: Double) -> Bool {
        if value == 0 { return true }
        guard value.isFinite else { return false }
        // Integers below 2^53 are exact in binary; `fmod` is exact too.
        let exactLimit = 9_007_199_254_740_992.0
        if divisor.rounded(.towardZero) == divisor, value.rounded(.towardZero) == value,
           abs(value) < exactLimit, divisor < exactLimit {
            return value.truncatingRemainder(dividingBy: divisor) == 0
        }
        guard let decimalDivisor else { return Self.approximatelyMultiple(value, of: divisor) }
        // Common case, a decimal divisor like 0.01: value is a multiple when it is the Double
        // nearest to k·divisor for the k its quotient rounds to. With k·mantissa below 2^53 and
        // 10^places exact (places ≤ 22), that Double is one correctly rounded division away.
        let places = -decimalDivisor.exponent
        if places > 0, places < Self.powersOfTen.count {
            let magnitude = abs(value)
            let scaled = (magnitude / divisor).rounded() * Double(decimalDivisor.mantissa)
            if scaled < exactLimit {
                return scaled / Self.powersOfTen[places] == magnitude
            }
        } else if places <= 0, value.rounded(.towardZero) != value, abs(value) < exactLimit {
            // An integral divisor never divides a value with a fractional part.
            return false
        }
        guard let dividend = ShortestDecimal(value) else {
            return Self.approximatelyMultiple(value, of: divisor)
        }
        return dividend.isMultiple(of: decimalDivisor)
    }

    /// 10^0 ... 10^22, every one exact in binary64.
    private static let powersOfTen: [Double] = (0...22).map { power in
        (0..<power).reduce(1.0) { result, _ in result * 10 }
    }

    /// Only if a Double ever printed in a form `ShortestDecimal` does not parse.
    private static func approximatelyMultiple(_ value: Double, of divisor: Double) -> Bool {
        let quotient = value / divisor
        guard quotient.isFinite else { return false }
        return abs(quotient - quotient.rounded()) <= max(1, abs(quotient)) * Double.ulpOfOne * 4
    }
}

/// |x| as `mantissa × 10^exponent`, from Swift's shortest round-trip rendering of the
/// Double (at most 17 significant digits, so the mantissa fits in 64 bits).
struct ShortestDecimal: Sendable, Equatable {
    let mantissa: UInt64
    let exponent: Int

    init?(_ value: Double) {
        guard value.isFinite else { return nil }
        var mantissa: UInt64 = 0
        var exponent = 0
        var seenPoint = false
        var text = Substring(abs(value).description)
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let power = Int(text[text.index(after: e)...]) else { return nil }
            exponent = power
            text = text[..<e]
        }
        for character in text {
            if character == "." {
                seenPoint = true
                continue
            }
            guard let digit = character.wholeNumberValue else { return nil }
            let (shifted, overflow1) = mantissa.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(digit))
            guard !overflow1 && !overflow2 else { return nil }
            mantissa = sum
            if seenPoint { exponent -= 1 }
        }
        while mantissa != 0 && mantissa % 10 == 0 {
            mantissa /= 10
            exponent += 1
        }
        self.mantissa = mantissa
        self.exponent = exponent
    }

    /// Whether self / divisor is an integer, exactly.
    func isMultiple(of divisor: ShortestDecimal) -> Bool {
        if mantissa == 0 { return true }
        guard divisor.mantissa != 0 else { return false }
        if exponent >= divisor.exponent {
            // mantissa·10^k mod divisor.mantissa, one decimal shift at a time; k is at most
            // about 650 (the whole Double range) and r·10 stays below 10^18.
            var remainder = mantissa % divisor.mantissa
            var shifts = exponent - divisor.exponent
            while shifts > 0 && remainder != 0 {
                remainder = remainder * 10 % divisor.mantissa
                shifts -= 1
            }
            return remainder == 0
        }
        // The divisor has more decimal places: mantissa must be a multiple of
        // divisor.mantissa·10^k, which is out of reach once it overflows 64 bits.
        var scaled = divisor.mantissa
        for _ in 0..<(divisor.exponent - exponent) {
            let (product, overflow) = scaled.multipliedReportingOverflow(by: 10)
            if overflow || product > mantissa { return false }
            scaled = product
        }
        return mantissa % scaled == 0
    }
}
