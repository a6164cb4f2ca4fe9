/// The Unix timestamp a provider signs along with the body (Stripe's `t=`, Slack's
/// `X-Slack-Request-Timestamp`, `webhook-timestamp`, an `hmac` source's timestamp header),
/// and the replay window around it. A captured request replays only while its timestamp is
/// within `tolerance` of now; older is refused as stale and newer as from the future, told
/// apart because one is a replay and the other a clock that runs ahead.
enum SignedTimestamp {
    /// Unix seconds as plain ASCII digits, what every provider here sends; a sign, spaces or
    /// a fraction are malformed. `header` names where it came from, for the detail.
    static func parse(_ text: Substring, header: String) throws(VerificationFailure) -> Int {
        guard !text.isEmpty, text.utf8.count <= 18,
              text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let seconds = Int(text) else {
            throw .malformed(header, "does not hold a Unix time in whole seconds")
        }
        return seconds
    }

    /// Throws unless `seconds` is within `tolerance` seconds of `now` (microseconds since the
    /// epoch), either way. At most 18 digits were parsed, so the subtraction cannot overflow.
    static func check(_ seconds: Int, now: Int64, tolerance: Int, header: String) throws(VerificationFailure) {
        let age = Int(now / 1_000_000) - seconds
        if age > tolerance {
            throw VerificationFailure(.staleTimestamp,
                "The '\(header)' timestamp is \(age) seconds old; at most \(tolerance) are accepted (replay protection).")
        }
        if age < -tolerance {
            throw VerificationFailure(.futureTimestamp,
                "The '\(header)' timestamp is \(-age) seconds in the future; at most \(tolerance) are accepted (clock skew).")
        }
    }

    /// `parse`, then `check`.
    static func verify(_ text: Substring, header: String, now: Int64, tolerance: Int) throws(VerificationFailure) -> Int {
        let seconds = try parse(text, header: header)
        try check(seconds, now: now, tolerance: tolerance, header: header)
        return seconds
    }
}
