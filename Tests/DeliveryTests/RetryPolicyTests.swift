@testable import Delivery
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

@Suite("Retry policy")
struct RetryPolicyTests {
    static let second: Int64 = 1_000_000
    static let firstAt: Int64 = 1_700_000_000 * second
    static let exact = RetryPolicy(jitter: 0)

    static func decide(_ policy: RetryPolicy = exact, attempt: Int, elapsed: Duration = .zero,
                       _ outcome: AttemptOutcome = .failed(status: 500, error: nil), seed: UInt64 = 1) -> RetryDecision {
        var random = SplitMix64(seed: seed)
        let (seconds, attoseconds) = elapsed.components
        let now = firstAt + seconds * second + attoseconds / 1_000_000_000_000
        return policy.decision(afterAttempt: attempt, firstAttemptAt: firstAt, now: now, outcome: outcome, random: &random)
    }

    // MARK: - Schedule

    @Test func defaultScheduleWithoutJitter() {
        let expected: [Duration] = [.seconds(5), .seconds(30), .seconds(120), .seconds(600), .seconds(1800),
                                    .seconds(3600), .seconds(10_800), .seconds(21_600), .seconds(43_200), .seconds(86_400)]
        #expect(RetryPolicy.defaultSchedule == expected)
        #expect(Self.exact.maxAttempts == 11)
        var elapsed = Duration.zero
        for (index, delay) in expected.enumerated() {
            #expect(Self.decide(attempt: index + 1, elapsed: elapsed) == .retry(after: delay))
            elapsed += delay
        }
        // Attempt 11 is the last: it dead-letters, well inside the 3-day maximum age.
        guard case .deadLetter(let reason) = Self.decide(attempt: 11, elapsed: elapsed) else {
            Issue.record("attempt 11 did not dead-letter")
            return
        }
        #expect(reason == "Gave up after 11 attempts, the maximum for this subscription. The last attempt failed with HTTP 500.")
    }

    @Test func pastTheScheduleDelaysDoubleUpToTheCap() {
        var policy = RetryPolicy(schedule: [.seconds(10), .seconds(20)], jitter: 0, maximumDelay: .seconds(100),
                                 maxAttempts: 10, maxAge: .seconds(1_000_000))
        let delays = (1...9).map { Self.decide(policy, attempt: $0) }
        #expect(delays == [10, 20, 40, 80, 100, 100, 100, 100, 100].map { .retry(after: .seconds($0)) })
        // A huge attempt number neither traps nor exceeds the cap.
        policy.maxAttempts = 1000
        #expect(Self.decide(policy, attempt: 999) == .retry(after: .seconds(100)))
        // The cap also applies to the table itself.
        policy = RetryPolicy(schedule: [.seconds(500)], jitter: 0, maximumDelay: .seconds(100))
        #expect(Self.decide(policy, attempt: 1) == .retry(after: .seconds(100)))
    }

    @Test func jitterStaysWithinTwentyPercentAndIsUsed() {
        let policy = RetryPolicy()  // ±20% by default
        for (index, base) in RetryPolicy.defaultSchedule.enumerated() {
            var smallest = Duration.seconds(1_000_000)
            var largest = Duration.zero
            var atTheCap = 0
            for seed in UInt64(0)..<500 {
                guard case .retry(let delay) = Self.decide(policy, attempt: index + 1, seed: seed) else {
                    Issue.record("attempt \(index + 1) did not retry")
                    return
                }
                // The cap (24 h) cuts the top of the last entry's band.
                let ceiling = min(base * 1.2 + .milliseconds(1), policy.maximumDelay)
                #expect(delay >= base * 0.8 - .milliseconds(1) && delay <= ceiling,
                        "attempt \(index + 1), seed \(seed): \(delay)")
                smallest = min(smallest, delay)
                largest = max(largest, delay)
                if delay == policy.maximumDelay { atTheCap += 1 }
            }
            // Draws past the cap are folded back below it, not piled up on it.
            #expect(atTheCap < 10, "attempt \(index + 1): \(atTheCap) of 500 delays were exactly the cap")
            // 500 draws cover most of the ±20% band: the jitter is real, not a constant.
            #expect(smallest < base * 0.85 && largest > min(base * 1.15, policy.maximumDelay * 0.99),
                    "attempt \(index + 1): \(smallest)...\(largest)")
        }
    }

    @Test func jitterIsDeterministicForASeed() {
        let policy = RetryPolicy()
        for seed: UInt64 in [0, 7, 42] {
            #expect(Self.decide(policy, attempt: 3, seed: seed) == Self.decide(policy, attempt: 3, seed: seed))
        }
        #expect(Self.decide(policy, attempt: 3, seed: 1) != Self.decide(policy, attempt: 3, seed: 2))
    }

    @Test func jitterNeverLeavesTheMinimumAndMaximum() {
        let policy = RetryPolicy(schedule: [.milliseconds(1100), .seconds(100)], jitter: 0.5,
                                 maximumDelay: .seconds(110), minimumDelay: .seconds(1))
        for seed in UInt64(0)..<300 {
            guard case .retry(let first) = Self.decide(policy, attempt: 1, seed: seed),
                  case .retry(let second) = Self.decide(policy, attempt: 2, seed: seed) else {
                Issue.record("no retry")
                return
            }
            #expect(first >= .seconds(1) && first <= .milliseconds(1650))
            #expect(second >= .seconds(50) && second <= .seconds(110))  // 150 s folds back to 70 s
        }
    }

    // MARK: - Limits

    @Test func maxAgeDeadLettersBeforeAnAttemptPastIt() {
        let policy = RetryPolicy(jitter: 0, maxAge: .seconds(3600))
        // After attempt 4 the delay is 10 minutes: from 50 minutes in it lands at 60, allowed.
        #expect(Self.decide(policy, attempt: 4, elapsed: .seconds(3000)) == .retry(after: .seconds(600)))
        // From 51 minutes in it would land past the hour: give up now.
        #expect(Self.decide(policy, attempt: 4, elapsed: .seconds(3060), .failed(status: nil, error: "connection refused"))
            == .deadLetter(reason: "Gave up after 4 attempts over 51m: the next would start 1h 1m after the first, "
                + "past the maximum age of 1h. The last attempt failed: connection refused."))
        // Already past it (say the gateway was down for a day).
        guard case .deadLetter = Self.decide(policy, attempt: 1, elapsed: .seconds(86_400)) else {
            Issue.record("an attempt older than maxAge was retried")
            return
        }
        // The defaults: the whole schedule, even at +20% jitter, fits inside 3 days, so
        // maxAttempts is what ends it and maxAge is the backstop.
        let total = RetryPolicy.defaultSchedule.reduce(Duration.zero, +) * 1.2
        #expect(total < RetryPolicy.defaultMaxAge)
    }

    @Test func maxAttemptsCountsThrottledAttemptsToo() {
        let policy = RetryPolicy(jitter: 0, maxAttempts: 3)
        #expect(Self.decide(policy, attempt: 2, .throttled(status: 429, retryAfter: .seconds(10))) == .retry(after: .seconds(10)))
        #expect(Self.decide(policy, attempt: 3, .throttled(status: 429, retryAfter: .seconds(10)))
            == .deadLetter(reason: "Gave up after 3 attempts, the maximum for this subscription. "
                + "The last attempt was throttled with HTTP 429."))
        #expect(Self.decide(RetryPolicy(jitter: 0, maxAttempts: 1), attempt: 1)
            == .deadLetter(reason: "Gave up after 1 attempt, the maximum for this subscription. The last attempt failed with HTTP 500."))
    }

    // MARK: - Status rules

    @Test func onlyTwoHundredsSucceed() {
        for status in [200, 201, 202, 204, 299] {
            #expect(Self.decide(attempt: 1, AttemptOutcome(status: status)) == .done)
            #expect(Self.decide(attempt: 11, AttemptOutcome(status: status)) == .done)
        }
        for status in [100, 199, 300, 301, 302, 304, 307, 400, 401, 403, 404, 408, 409, 500, 502, 504, 599] {
            #expect(AttemptOutcome(status: status) == .failed(status: status, error: nil))
            #expect(Self.decide(attempt: 1, AttemptOutcome(status: status)) == .retry(after: .seconds(5)), "status \(status)")
        }
        // A hand-built case is re-read by its status.
        #expect(Self.decide(attempt: 1, .succeeded(status: 500)) == .retry(after: .seconds(5)))
        #expect(Self.decide(attempt: 1, .failed(status: 204, error: nil)) == .done)
        // Timeouts and connection errors retry.
        #expect(Self.decide(attempt: 2, .failed(status: nil, error: "timeout after 30s")) == .retry(after: .seconds(30)))
    }

    @Test func goneDisablesTheSubscription() {
        let expected = RetryDecision.disableSubscription(
            reason: "The subscriber answered 410 Gone on attempt 1: it asks for no more webhooks, so the subscription is disabled.")
        #expect(AttemptOutcome(status: 410) == .gone)
        #expect(Self.decide(attempt: 1, .gone) == expected)
        #expect(Self.decide(attempt: 1, .failed(status: 410, error: nil)) == expected)
        // Even on what would have been the last attempt: disabling wins over dead-lettering.
        guard case .disableSubscription = Self.decide(attempt: 11, .gone) else {
            Issue.record("410 on the last attempt did not disable")
            return
        }
    }

    @Test func throttlingHonoursRetryAfterWithinTheCap() {
        #expect(AttemptOutcome(status: 429, retryAfter: .seconds(7)) == .throttled(status: 429, retryAfter: .seconds(7)))
        #expect(AttemptOutcome(status: 503) == .throttled(status: 503, retryAfter: nil))
        // Honoured as given, whatever the schedule would say.
        #expect(Self.decide(attempt: 1, .throttled(status: 429, retryAfter: .seconds(120))) == .retry(after: .seconds(120)))
        #expect(Self.decide(attempt: 9, .throttled(status: 503, retryAfter: .seconds(120))) == .retry(after: .seconds(120)))
        // Capped at 1 hour by default, and by the configured cap.
        #expect(Self.decide(attempt: 1, .throttled(status: 503, retryAfter: .seconds(7200))) == .retry(after: .seconds(3600)))
        let tight = RetryPolicy(jitter: 0, retryAfterCap: .seconds(60))
        #expect(Self.decide(tight, attempt: 1, .throttled(status: 429, retryAfter: .seconds(61))) == .retry(after: .seconds(60)))
        // Zero is not a tight loop.
        #expect(Self.decide(attempt: 1, .throttled(status: 429, retryAfter: .zero)) == .retry(after: .seconds(1)))
        // Without Retry-After: the schedule.
        #expect(Self.decide(attempt: 3, .throttled(status: 429, retryAfter: nil)) == .retry(after: .seconds(120)))
        // Only 429 and 503 carry Retry-After weight.
        #expect(Self.decide(attempt: 1, .throttled(status: 500, retryAfter: .seconds(900))) == .retry(after: .seconds(5)))
        // With jitter, Retry-After is a floor: the spread only goes later.
        for seed in UInt64(0)..<200 {
            guard case .retry(let delay) = Self.decide(RetryPolicy(), attempt: 1, .throttled(status: 429, retryAfter: .seconds(100)), seed: seed) else {
                Issue.record("no retry")
                return
            }
            #expect(delay >= .seconds(100) && delay <= .seconds(120))
        }
    }

    // MARK: - Overrides and validation

    @Test func overridesMergeOntoTheGlobalPolicy() throws {
        let global = RetryPolicy(jitter: 0)
        #expect(global.applying(.init()) == global)

        let fewer = global.applying(.init(maxAttempts: 3))
        #expect(fewer.maxAttempts == 3)
        #expect(fewer.schedule == RetryPolicy.defaultSchedule)
        #expect(Self.decide(fewer, attempt: 3) == .deadLetter(reason: "Gave up after 3 attempts, the maximum for this subscription. The last attempt failed with HTTP 500."))

        // A new schedule brings its own default attempt count...
        let short = global.applying(.init(schedule: [.seconds(1), .seconds(2)]))
        #expect(short.maxAttempts == 3)
        #expect(Self.decide(short, attempt: 2) == .retry(after: .seconds(2)))
        // ...unless the gateway set one explicitly.
        let explicit = RetryPolicy(jitter: 0, maxAttempts: 5).applying(.init(schedule: [.seconds(1)]))
        #expect(explicit.maxAttempts == 5)
        #expect(Self.decide(explicit, attempt: 4) == .retry(after: .seconds(8)))

        let young = global.applying(.init(maxAge: .seconds(60)))
        #expect(young.maxAge == .seconds(60))
        #expect(young.maxAttempts == 11)
        guard case .deadLetter = Self.decide(young, attempt: 2, elapsed: .seconds(40)) else {
            Issue.record("maxAge override was ignored")
            return
        }
        try young.validate()
    }

    @Test func validationNamesWhatIsWrong() throws {
        try RetryPolicy().validate()
        func error(_ policy: RetryPolicy) -> RetryPolicyError? {
            do { try policy.validate() } catch { return error }
            return nil
        }
        #expect(error(RetryPolicy(schedule: [])) == .emptySchedule)
        #expect(error(RetryPolicy(schedule: [.seconds(1), .zero])) == .nonPositiveDelay(index: 1))
        #expect(error(RetryPolicy(schedule: Array(repeating: .seconds(1), count: 101))) == .scheduleTooLong(101))
        #expect(error(RetryPolicy(maxAttempts: 0)) == .maxAttemptsOutOfRange(0))
        #expect(error(RetryPolicy(maxAttempts: 1001)) == .maxAttemptsOutOfRange(1001))
        #expect(error(RetryPolicy(maxAge: .zero)) == .nonPositiveMaxAge)
        #expect(error(RetryPolicy(jitter: 1)) == .jitterOutOfRange(1))
        #expect(error(RetryPolicy(jitter: -0.1)) == .jitterOutOfRange(-0.1))
        #expect(error(RetryPolicy(maximumDelay: .seconds(1), minimumDelay: .seconds(2))) == .delayBoundsInverted)
        #expect(error(RetryPolicy(retryAfterCap: .zero)) == .nonPositiveRetryAfterCap)
        #expect(RetryPolicyError.maxAttemptsOutOfRange(0).description == "maxAttempts is 0; it must be from 1 to 1000.")
        // An unvalidated policy still never traps.
        #expect(Self.decide(RetryPolicy(schedule: [], jitter: 5), attempt: 1) != .done)
        #expect(Self.decide(RetryPolicy(schedule: [], jitter: 0, maxAttempts: 3), attempt: -3) == .retry(after: .seconds(86_400)))
        let absurd = RetryPolicy(schedule: [.seconds(Int64.max / 4)], jitter: .infinity, maximumDelay: .seconds(Int64.max),
                                 minimumDelay: .seconds(-5), maxAttempts: 500, maxAge: .seconds(Int64.max))
        for attempt in [1, 2, 100, 499] {
            guard case .retry(let delay) = Self.decide(absurd, attempt: attempt) else {
                Issue.record("attempt \(attempt) did not retry")
                continue
            }
            #expect(delay >= .zero)
        }
        #expect(Self.decide(RetryPolicy(jitter: .nan), attempt: 1) == .retry(after: .seconds(5)))
    }

    @Test func durationsReadWellInReasons() {
        #expect(RetryPolicy.describe(.zero) == "0s")
        #expect(RetryPolicy.describe(.milliseconds(300)) == "under 1s")
        #expect(RetryPolicy.describe(.seconds(45)) == "45s")
        #expect(RetryPolicy.describe(.seconds(150)) == "2m 30s")
        #expect(RetryPolicy.describe(.seconds(3 * 86_400)) == "3d")
        #expect(RetryPolicy.describe(.seconds(2 * 86_400 + 23 * 3600 + 59)) == "2d 23h")
    }

    // MARK: - Retry-After

    /// `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110's example date.
    static let exampleDate: Int64 = 784_111_777

    @Test func retryAfterDelaySeconds() {
        let now = Self.exampleDate * Self.second
        #expect(RetryPolicy.parseRetryAfter("120", now: now) == .seconds(120))
        #expect(RetryPolicy.parseRetryAfter("0", now: now) == .zero)
        #expect(RetryPolicy.parseRetryAfter(" \t120 ", now: now) == .seconds(120))
        #expect(RetryPolicy.parseRetryAfter("007", now: now) == .seconds(7))
        #expect(RetryPolicy.parseRetryAfter("99999999999999999999999", now: now) == .seconds(1 << 31))
        for junk in ["", " ", "-5", "+5", "5.5", "5s", "1e3", "0x10", "5 5", "five", "120,", "١٢٠", "Infinity"] {
            #expect(RetryPolicy.parseRetryAfter(junk, now: now) == nil, "'\(junk)'")
        }
    }

    @Test func retryAfterHTTPDates() throws {
        let now = Self.exampleDate * Self.second
        #expect(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:51:07 GMT", now: now) == .seconds(90))
        #expect(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == .zero)
        #expect(RetryPolicy.parseRetryAfter("Sat, 05 Nov 1994 08:49:37 GMT", now: now) == .zero)  // the past: now
        #expect(RetryPolicy.parseRetryAfter("Mon, 07 Nov 1994 08:49:37 GMT", now: now) == .seconds(86_400))
        // Sub-second "now": the wait is measured from it exactly.
        #expect(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:38 GMT", now: now + 250_000) == .milliseconds(750))
        // The obsolete forms RFC 9110 §5.6.7 asks recipients to read.
        #expect(RetryPolicy.parseRetryAfter("Sunday, 06-Nov-94 08:51:07 GMT", now: now) == .seconds(90))
        #expect(RetryPolicy.parseRetryAfter("Sun Nov  6 08:51:07 1994", now: now) == .seconds(90))
        #expect(RetryPolicy.parseRetryAfter("Sun Nov 16 08:49:37 1994", now: now) == .seconds(10 * 86_400))
        // Two-digit years: up to 50 years ahead stays ahead; further means the last century.
        let in2026 = Int64(1_780_000_000) * Self.second
        #expect(RetryPolicy.parseRetryAfter("Tuesday, 01-Jan-80 00:00:00 GMT", now: in2026) == .zero)  // 1980
        let in2060 = try #require(RetryPolicy.parseRetryAfter("Thursday, 01-Jan-60 00:00:00 GMT", now: in2026))  // 2060
        #expect(in2060 > .seconds(33 * 365 * 86_400))

        for junk in [
            "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 gmt", "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 29 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT junk", "Sun, 06 Nov 1994 08:49:37", "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
            "2026-11-27T12:00:00Z", "Sun, 06 Nov 1994 8:49:37 GMT",
        ] {
            #expect(RetryPolicy.parseRetryAfter(junk, now: now) == nil, "'\(junk)'")
        }
        // A leap day and a leap second are dates.
        #expect(RetryPolicy.parseRetryAfter("Tue, 29 Feb 2028 00:00:00 GMT", now: now) != nil)
        #expect(RetryPolicy.parseRetryAfter("Sat, 31 Dec 2016 23:59:60 GMT", now: now) != nil)
    }

    /// Our calendar arithmetic against the C library's `timegm`, day by day across leap years
    /// and century rules.
    @Test func httpDateArithmeticMatchesTimegm() {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var checked = 0
        for year in [1970, 1999, 2000, 2024, 2100, 2400] {
            for month in 1...12 {
                for day in [1, 15, 28, 29, 30, 31] {
                    var parts = tm()
                    parts.tm_year = Int32(year - 1900)
                    parts.tm_mon = Int32(month - 1)
                    parts.tm_mday = Int32(day)
                    parts.tm_hour = 13
                    parts.tm_min = 5
                    parts.tm_sec = 9
                    let expected = Int64(timegm(&parts))
                    let valid = parts.tm_mday == Int32(day)  // timegm normalises 31 Apr to 1 May
                    let text = "Mon, \(pad(day)) \(months[month - 1]) \(year) 13:05:09 GMT"
                    #expect(HTTPDate.parse(Array(text.utf8), nowSeconds: 0) == (valid ? expected : nil), "\(text)")
                    if valid {
                        #expect(HTTPDate.civilYear(epochSeconds: expected) == year)
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 300)
        #expect(HTTPDate.civilYear(epochSeconds: -1) == 1969)
    }

    @Test func retryAfterFeedsTheDecision() {
        let now = Self.exampleDate * Self.second
        let outcome = AttemptOutcome(status: 503, retryAfter: RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 10:49:37 GMT", now: now))
        var random = SplitMix64(seed: 3)
        #expect(Self.exact.decision(afterAttempt: 1, firstAttemptAt: now, now: now, outcome: outcome, random: &random)
            == .retry(after: .seconds(3600)))
    }
}
