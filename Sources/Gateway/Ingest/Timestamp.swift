#if canImport(Glibc)
import Glibc
#endif

/// RFC 3339 date-times, as the API shows and accepts them.
public enum Timestamp {
    /// `2026-11-27T12:00:00.123456Z` from microseconds since the epoch.
    public static func format(microseconds: Int64) -> String {
        // Years 0001-9999, the range the format can write.
        let microseconds = min(max(microseconds, -62_135_596_800_000_000), 253_402_300_799_999_999)
        // Floor division, so times before 1970 keep a fraction in 0..<1_000_000.
        var wholeSeconds = microseconds / 1_000_000
        var fraction = Int(microseconds % 1_000_000)
        if fraction < 0 {
            wholeSeconds -= 1
            fraction += 1_000_000
        }
        var seconds = time_t(wholeSeconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // YYYY-MM-DDTHH:MM:SS.ffffffZ written digit by digit into one 27-byte string: this
        // runs for every listed event and every delivery.
        return String(unsafeUninitializedCapacity: 27) { buffer in
            var at = 0
            func put(_ value: Int, width: Int) {
                var value = value
                for index in stride(from: at + width - 1, through: at, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                at += width
            }
            func put(_ character: Unicode.Scalar) {
                buffer[at] = UInt8(ascii: character)
                at += 1
            }
            put(Int(parts.tm_year) + 1900, width: 4)
            put("-")
            put(Int(parts.tm_mon) + 1, width: 2)
            put("-")
            put(Int(parts.tm_mday), width: 2)
            put("T")
            put(Int(parts.tm_hour), width: 2)
            put(":")
            put(Int(parts.tm_min), width: 2)
            put(":")
            put(Int(parts.tm_sec), width: 2)
            put(".")
            put(fraction, width: 6)
            put("Z")
            return at
        }
    }

    public static func isRFC3339(_ text: String) -> Bool {
        parse(text) != nil
    }

    /// Microseconds since the epoch, or nil if `text` is not `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= b.count else { return nil }
            var value = 0
            for index in start..<(start + count) {
                guard b[index] >= 48 && b[index] <= 57 else { return nil }
                value = value * 10 + Int(b[index] - 48)
            }
            return value
        }
        guard b.count >= 20, let year = digits(0, 4), b[4] == UInt8(ascii: "-"), let month = digits(5, 2),
              b[7] == UInt8(ascii: "-"), let day = digits(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
              let hour = digits(11, 2), b[13] == UInt8(ascii: ":"), let minute = digits(14, 2),
              b[16] == UInt8(ascii: ":"), let second = digits(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60 else { return nil }
        var index = 19
        var micros = 0
        if index < b.count && b[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 100_000
            let start = index
            while index < b.count, b[index] >= 48 && b[index] <= 57 {
                micros += Int(b[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offsetSeconds = 0
        guard index < b.count else { return nil }
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let offsetHours = digits(index + 1, 2), b.count > index + 3, b[index + 3] == UInt8(ascii: ":"),
                  let offsetMinutes = digits(index + 4, 2), offsetHours < 24, offsetMinutes < 60 else { return nil }
            offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (b[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        default:
            return nil
        }
        guard index == b.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(min(second, 59))
        var epoch = timegm(&parts)
        // timegm quietly normalises 31 February to 3 March; refuse dates that do not exist.
        var check = tm()
        gmtime_r(&epoch, &check)
        guard check.tm_mday == Int32(day), check.tm_mon == Int32(month - 1) else { return nil }
        let seconds = Int64(epoch) - Int64(offsetSeconds)
        return seconds * 1_000_000 + Int64(micros)
    }
}
