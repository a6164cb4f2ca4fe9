import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Event ids: `evt_` and 26 Crockford base-32 characters holding a 48-bit millisecond
/// timestamp and 80 random bits (the ULID layout), so ids sort by creation time. Within one
/// millisecond the random part is incremented rather than redrawn, which keeps ids from one
/// gateway strictly increasing.
public final class EventIDGenerator: Sendable {
    private struct Last {
        var millisecond: UInt64 = 0
        var high: UInt16 = 0
        var low: UInt64 = 0
    }

    private let last = Mutex(Last())
    private let prefix: String

    /// `prefix` names what the ids are for: `evt_` for events, `sub_` for subscriptions.
    public init(prefix: String = "evt_") {
        self.prefix = prefix
    }

    public func next() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let millisecond = UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec / 1_000_000)
        let (time, high, low) = last.withLock { state -> (UInt64, UInt16, UInt64) in
            if millisecond > state.millisecond {
                state.millisecond = millisecond
                state.high = UInt16.random(in: 0...UInt16.max)
                state.low = UInt64.random(in: 0...UInt64.max)
            } else {
                // Same (or an earlier, after a clock step) millisecond: stay on the last one
                // and count up, so order is kept.
                let (sum, overflow) = state.low.addingReportingOverflow(1)
                state.low = sum
                if overflow { state.high &+= 1 }
            }
            return (state.millisecond, state.high, state.low)
        }
        return prefix + EventID.encode(time: time, high: high, low: low)
    }
}

public enum EventID {
    private static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// 128 bits as 26 base-32 characters, most significant first.
    static func encode(time: UInt64, high: UInt16, low: UInt64) -> String {
        // Bits: 48 time | 16 high | 64 low = 128, emitted 5 at a time from the top (the first
        // character carries only 3 bits).
        let upper = (time << 16) | UInt64(high)   // top 64 bits
        let lower = low                          // bottom 64 bits
        var characters = [UInt8](repeating: 0, count: 26)
        for index in 0..<26 {
            let shift = 125 - index * 5           // bit position of this character's lowest bit
            var value: UInt64
            if shift >= 64 {
                value = upper >> (shift - 64)
            } else if shift + 5 <= 64 {
                value = lower >> shift
            } else {
                value = (lower >> shift) | (upper << (64 - shift))
            }
            characters[index] = alphabet[Int(value & 0x1F)]
        }
        return String(decoding: characters, as: UTF8.self)
    }

    /// When a gateway-minted event id was made (microseconds since the epoch): its first ten
    /// characters after `evt_` are the 48-bit millisecond time. Nil for any other shape.
    public static func creationTime(of id: String) -> Int64? {
        let utf8 = Array(id.utf8)
        guard utf8.count == 30, id.hasPrefix("evt_") else { return nil }
        var milliseconds: Int64 = 0
        for character in utf8[4..<14] {
            guard let digit = alphabet.firstIndex(of: character) else { return nil }
            milliseconds = milliseconds << 5 | Int64(digit)
        }
        guard utf8[14...].allSatisfy({ alphabet.contains($0) }) else { return nil }
        return milliseconds * 1000
    }

    /// Ids a producer may choose: 1-128 of letters, digits and `._:-`; not `batch`, which
    /// `/v1/events/batch` would shadow.
    public static func isValidProducerID(_ id: String) -> Bool {
        let utf8 = id.utf8
        return id != "batch" && !utf8.isEmpty && utf8.count <= 128 && utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":")
        }
    }
}
