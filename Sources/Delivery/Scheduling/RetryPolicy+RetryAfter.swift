extension RetryPolicy {
    /// The wait a `Retry-After` header asks for (RFC 9110 §10.2.3): `delay-seconds` or an
    /// `HTTP-date`, measured from `now` (microseconds since the epoch). A date in the past
    /// means "now" (`.zero`). Nil for anything else: a negative or fractional number, a unit,
    /// a date in another format, or trailing junk. A receiver's header is input, and a wrong
    /// guess at what it meant is worse than falling back to the schedule.
    ///
    /// All three HTTP-date forms are read, as RFC 9110 §5.6.7 asks of recipients: IMF-fixdate
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`), and the obsolete RFC 850 (`Sunday, 06-Nov-94
    /// 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) forms. Dates are case-sensitive
    /// (§5.6.7); the day name must be a real one but is not checked against the date.
    public static func parseRetryAfter(_ header: String, now: Int64) -> Duration? {
        var bytes = Array(header.utf8)[...]
        // Field values arrive with optional whitespace around them (RFC 9110 §5.5).
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        guard !bytes.isEmpty else { return nil }

        if bytes.allSatisfy(HTTPDate.isDigit) {
            // delay-seconds = 1*DIGIT. A value too large to represent is taken as 2^31 seconds
            // (the rule RFC 9111 §1.2.2 gives caches for delta-seconds); the cap cuts it anyway.
            var seconds: Int64 = 0
            for digit in bytes {
                seconds = seconds * 10 + Int64(digit - UInt8(ascii: "0"))
                if seconds >= HTTPDate.deltaSecondsCeiling { return .seconds(HTTPDate.deltaSecondsCeiling) }
            }
            return .seconds(seconds)
        }
        guard let date = HTTPDate.parse(Array(bytes), nowSeconds: now / 1_000_000) else { return nil }
        let wait = date.multipliedReportingOverflow(by: 1_000_000)
        guard !wait.overflow, wait.partialValue > now else { return .zero }
        return .microseconds(wait.partialValue - now)
    }
}

/// HTTP-date (RFC 9110 §5.6.7) to seconds since the epoch.
enum HTTPDate {
    static let deltaSecondsCeiling: Int64 = 1 << 31

    private static let shortDays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map { Array($0.utf8) }
    private static let longDays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"].map { Array($0.utf8) }
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map { Array($0.utf8) }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Seconds since the epoch, or nil if `bytes` is not exactly one of the three forms.
    static func parse(_ bytes: [UInt8], nowSeconds: Int64) -> Int64? {
        var cursor = Cursor(bytes: bytes)
        if let date = imfFixdate(&cursor) { return date }
        cursor = Cursor(bytes: bytes)
        if let date = rfc850(&cursor, nowSeconds: nowSeconds) { return date }
        cursor = Cursor(bytes: bytes)
        return asctime(&cursor)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT`
    private static func imfFixdate(_ c: inout Cursor) -> Int64? {
        guard c.oneOf(shortDays) != nil, c.literal(", "), let day = c.number(2), c.literal(" "),
              let month = c.oneOf(months), c.literal(" "), let year = c.number(4), c.literal(" "),
              let time = c.time(), c.literal(" GMT"), c.atEnd else { return nil }
        return epochSeconds(year: year, month: month + 1, day: day, time: time)
    }

    /// `Sunday, 06-Nov-94 08:49:37 GMT`
    private static func rfc850(_ c: inout Cursor, nowSeconds: Int64) -> Int64? {
        guard c.oneOf(longDays) != nil, c.literal(", "), let day = c.number(2), c.literal("-"),
              let month = c.oneOf(months), c.literal("-"), let shortYear = c.number(2), c.literal(" "),
              let time = c.time(), c.literal(" GMT"), c.atEnd else { return nil }
        // §5.6.7: a two-digit year more than 50 years ahead is the latest past year ending so.
        let currentYear = civilYear(epochSeconds: nowSeconds)
        var year = currentYear - currentYear % 100 + shortYear
        if year > currentYear + 50 { year -= 100 }
        return epochSeconds(year: year, month: month + 1, day: day, time: time)
    }

    /// `Sun Nov  6 08:49:37 1994` (day as 2DIGIT or SP DIGIT).
    private static func asctime(_ c: inout Cursor) -> Int64? {
        guard c.oneOf(shortDays) != nil, c.literal(" "), let month = c.oneOf(months), c.literal(" ") else { return nil }
        let day: Int
        if c.literal(" ") {
            guard let single = c.number(1) else { return nil }
            day = single
        } else {
            guard let double = c.number(2) else { return nil }
            day = double
        }
        guard c.literal(" "), let time = c.time(), c.literal(" "), let year = c.number(4), c.atEnd else { return nil }
        return epochSeconds(year: year, month: month + 1, day: day, time: time)
    }

    private static func epochSeconds(year: Int, month: Int, day: Int, time: (hour: Int, minute: Int, second: Int)) -> Int64? {
        guard day >= 1, day <= daysIn(month: month, year: year),
              time.hour < 24, time.minute < 60, time.second <= 60 else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Int64(days) * 86_400 + Int64(time.hour * 3600 + time.minute * 60 + time.second)
    }

    private static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The Gregorian year that `epochSeconds` falls in.
    static func civilYear(epochSeconds: Int64) -> Int {
        let days = Int(epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400) + 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        return yearOfEra + era * 400 + (monthIndex >= 10 ? 1 : 0)
    }

    private struct Cursor {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard position + count <= bytes.count else { return false }
            let matches = text.withUTF8Buffer { expected in
                expected.indices.allSatisfy { bytes[position + $0] == expected[$0] }
            }
            if matches { position += count }
            return matches
        }

        /// Exactly `digits` digits.
        mutating func number(_ digits: Int) -> Int? {
            guard position + digits <= bytes.count else { return nil }
            var value = 0
            for index in position..<(position + digits) {
                guard HTTPDate.isDigit(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            }
            position += digits
            return value
        }

        /// The index of the word in `words` that comes next (longest first is not needed:
        /// no word of one list is a prefix of another).
        mutating func oneOf(_ words: [[UInt8]]) -> Int? {
            for (index, word) in words.enumerated()
            where position + word.count <= bytes.count && bytes[position..<(position + word.count)].elementsEqual(word) {
                position += word.count
                return index
            }
            return nil
        }

        /// `HH:MM:SS`.
        mutating func time() -> (hour: Int, minute: Int, second: Int)? {
            guard let hour = number(2), literal(":"), let minute = number(2), literal(":"), let second = number(2) else {
                return nil
            }
            return (hour, minute, second)
        }
    }
}
