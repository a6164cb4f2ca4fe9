/// When to try a webhook again, and when to give up (DESIGN "Delivering a webhook").
///
/// A pure value: `decision(afterAttempt:…)` maps the attempt that just ended to what happens
/// next, with time and randomness passed in, so the rules are tested without clocks or
/// sockets and the scheduler stays a thin shell around it.
///
/// The rules:
/// - Only 2xx is success (Standard Webhooks spec 1.0.0, "Delivery success and failure").
/// - `410 Gone` disables the subscription: the receiver has said it wants no more.
/// - `429` and `503` honour `Retry-After`, capped at `retryAfterCap` so one header cannot park
///   a subscription for a year; they still count toward `maxAttempts`, so a receiver that
///   throttles forever still ends in the dead-letter list rather than retrying forever.
/// - Anything else (another status, a timeout, a connection error) retries per `schedule`.
/// - After `maxAttempts` attempts, or when the next attempt would start later than `maxAge`
///   after the first, the delivery is dead-lettered with a reason (DESIGN invariant 2: never
///   silently dropped).
///
/// Times are wall-clock microseconds since the Unix epoch, as the journal records them, so a
/// decision made after a restart sees the same ages as one made before it.
public struct RetryPolicy: Sendable, Equatable {
    /// Delays after attempts 1, 2, 3, …: fast at first (most failures are blips), then
    /// spreading out to just over two days in all, so a subscriber down for a weekend still
    /// gets its events. Roughly exponential, like the spec's example schedule.
    public static let defaultSchedule: [Duration] = [
        .seconds(5), .seconds(30), .seconds(2 * 60), .seconds(10 * 60), .seconds(30 * 60),
        .seconds(3600), .seconds(3 * 3600), .seconds(6 * 3600), .seconds(12 * 3600), .seconds(24 * 3600),
    ]

    /// The delay after attempt `n` is `schedule[n - 1]`; past its end each delay doubles the
    /// previous one (exponential backoff), up to `maximumDelay`. Every entry must be positive.
    public var schedule: [Duration]
    /// Each scheduled delay is scaled by a factor drawn uniformly from `1 ± jitter`, so
    /// deliveries that failed together (one receiver outage) do not all return together and
    /// knock it over again. `0` gives exact delays; must be in `0..<1`.
    public var jitter: Double
    /// The cap on any one delay, after jitter (see `clamp` for how jitter near it is kept).
    public var maximumDelay: Duration
    /// The floor on any one delay, after jitter: `Retry-After: 0` or a date in the past does
    /// not become a tight retry loop.
    public var minimumDelay: Duration
    /// The most `Retry-After` is honoured for; a longer one is cut to this.
    public var retryAfterCap: Duration
    /// No attempt starts later than this after the first one.
    public var maxAge: Duration

    /// Nil until set: then it follows `schedule` (one first attempt plus one per delay), also
    /// when an override replaces the schedule.
    private var configuredMaxAttempts: Int?

    /// Attempts in all, the first included. Defaults to `1 + schedule.count`.
    public var maxAttempts: Int {
        get { configuredMaxAttempts ?? 1 + schedule.count }
        set { configuredMaxAttempts = newValue }
    }

    public static let defaultJitter = 0.2
    public static let defaultMaximumDelay: Duration = .seconds(24 * 3600)
    public static let defaultMinimumDelay: Duration = .seconds(1)
    public static let defaultRetryAfterCap: Duration = .seconds(3600)
    public static let defaultMaxAge: Duration = .seconds(3 * 24 * 3600)

    /// Limits that `validate()` enforces, so a policy from configuration or the API cannot
    /// make the scheduler hold a delivery for decades or retry it millions of times.
    public static let maximumScheduleCount = 100
    public static let maximumAttemptsLimit = 1000

    public init(
        schedule: [Duration] = defaultSchedule,
        jitter: Double = defaultJitter,
        maximumDelay: Duration = defaultMaximumDelay,
        minimumDelay: Duration = defaultMinimumDelay,
        maxAttempts: Int? = nil,
        maxAge: Duration = defaultMaxAge,
        retryAfterCap: Duration = defaultRetryAfterCap
    ) {
        self.schedule = schedule
        self.jitter = jitter
        self.maximumDelay = maximumDelay
        self.minimumDelay = minimumDelay
        self.configuredMaxAttempts = maxAttempts
        self.maxAge = maxAge
        self.retryAfterCap = retryAfterCap
    }

    /// Per-subscription settings (the subscription's `retry` object); nil fields keep the
    /// gateway-wide value.
    public struct Overrides: Sendable, Equatable {
        public var schedule: [Duration]?
        public var maxAttempts: Int?
        public var maxAge: Duration?

        public init(schedule: [Duration]? = nil, maxAttempts: Int? = nil, maxAge: Duration? = nil) {
            self.schedule = schedule
            self.maxAttempts = maxAttempts
            self.maxAge = maxAge
        }
    }

    /// This policy with `overrides` laid over it. A replaced schedule brings its own default
    /// `maxAttempts` unless one was set here or in `overrides`.
    public func applying(_ overrides: Overrides) -> RetryPolicy {
        var merged = self
        if let schedule = overrides.schedule { merged.schedule = schedule }
        if let maxAttempts = overrides.maxAttempts { merged.maxAttempts = maxAttempts }
        if let maxAge = overrides.maxAge { merged.maxAge = maxAge }
        return merged
    }

    /// Checks the values a configuration file or an API request can set. `decision` never
    /// traps on a policy that skipped this, but its answers would not be what was meant.
    public func validate() throws(RetryPolicyError) {
        guard !schedule.isEmpty else { throw .emptySchedule }
        guard schedule.count <= Self.maximumScheduleCount else { throw .scheduleTooLong(schedule.count) }
        if let index = schedule.firstIndex(where: { $0 <= .zero }) { throw .nonPositiveDelay(index: index) }
        guard (1...Self.maximumAttemptsLimit).contains(maxAttempts) else { throw .maxAttemptsOutOfRange(maxAttempts) }
        guard maxAge > .zero else { throw .nonPositiveMaxAge }
        guard jitter >= 0, jitter < 1 else { throw .jitterOutOfRange(jitter) }
        guard minimumDelay >= .zero, minimumDelay <= maximumDelay else { throw .delayBoundsInverted }
        guard retryAfterCap > .zero else { throw .nonPositiveRetryAfterCap }
    }

    // MARK: - Deciding

    /// What to do after attempt number `attempt` (1 for the first) ended with `outcome`.
    /// `firstAttemptAt` and `now` are microseconds since the epoch; `random` supplies the
    /// jitter (pass a seeded generator in tests, `SystemRandomNumberGenerator` in production).
    public func decision(
        afterAttempt attempt: Int,
        firstAttemptAt: Int64,
        now: Int64,
        outcome: AttemptOutcome,
        random: inout some RandomNumberGenerator
    ) -> RetryDecision {
        let attempt = max(1, attempt)
        let outcome = outcome.normalized
        let delay: Duration
        switch outcome {
        case .succeeded:
            return .done
        case .gone:
            return .disableSubscription(reason: "The subscriber answered 410 Gone on attempt \(attempt): "
                + "it asks for no more webhooks, so the subscription is disabled.")
        case .throttled(_, let retryAfter?):
            guard attempt < maxAttempts else { return tooManyAttempts(attempt, outcome) }
            delay = throttledDelay(retryAfter, random: &random)
        case .throttled, .failed:
            guard attempt < maxAttempts else { return tooManyAttempts(attempt, outcome) }
            delay = scheduledDelay(afterAttempt: attempt, random: &random)
        }
        // Give up now rather than wait for an attempt that maxAge forbids anyway.
        let elapsed = Self.duration(microseconds: now.subtractingReportingOverflow(firstAttemptAt))
        if elapsed + delay > maxAge {
            return .deadLetter(reason: "Gave up after \(attempt) attempt\(attempt == 1 ? "" : "s") over "
                + "\(Self.describe(elapsed)): the next would start \(Self.describe(elapsed + delay)) after the first, "
                + "past the maximum age of \(Self.describe(maxAge)). The last \(outcome.summary).")
        }
        return .retry(after: delay)
    }

    /// The delay after attempt `attempt` fails, jittered and clamped. Exposed so the
    /// scheduler and its tests can show the schedule a subscription will follow.
    public func scheduledDelay(afterAttempt attempt: Int, random: inout some RandomNumberGenerator) -> Duration {
        let fallback = schedule.last ?? maximumDelay
        let index = max(0, attempt - 1)
        var base = Self.milliseconds(index < schedule.count ? schedule[index] : fallback)
        if index >= schedule.count {
            // Past the table: keep doubling (in Double, at most 2^64 times, so no overflow;
            // the cap below brings it back).
            let doublings = min(index - schedule.count + 1, 64)
            base *= Double(sign: .plus, exponent: doublings, significand: 1)
        }
        base = min(base, Self.milliseconds(maximumDelay))
        if jitter > 0 {
            base *= 1 + min(jitter, 0.99) * Double.random(in: -1...1, using: &random)
        }
        return clamp(base, lower: minimumDelay, upper: maximumDelay)
    }

    /// `Retry-After` capped, then spread upward only (by up to `jitter`): the header is a
    /// minimum wait, and many deliveries throttled at once by one receiver should not all
    /// come back in the same second.
    private func throttledDelay(_ retryAfter: Duration, random: inout some RandomNumberGenerator) -> Duration {
        var base = Self.milliseconds(min(max(retryAfter, minimumDelay), retryAfterCap, maximumDelay))
        if jitter > 0 {
            base *= 1 + min(jitter, 0.99) * Double.random(in: 0...1, using: &random)
        }
        return clamp(base, lower: minimumDelay, upper: maximumDelay)
    }

    private func tooManyAttempts(_ attempt: Int, _ outcome: AttemptOutcome) -> RetryDecision {
        .deadLetter(reason: "Gave up after \(attempt) attempt\(attempt == 1 ? "" : "s"), the maximum for this "
            + "subscription. The last \(outcome.summary).")
    }

    /// A jittered delay that overshoots the cap is folded back below it by as much as it
    /// overshot, rather than cut to the cap: cutting would send every delivery whose draw came
    /// out high back at exactly the cap, together, which is what the jitter is there to stop.
    private func clamp(_ milliseconds: Double, lower: Duration, upper: Duration) -> Duration {
        // An unvalidated policy with absurd bounds must still not trap converting to Int64.
        let ceiling = min(Self.milliseconds(upper), Self.largestMilliseconds)
        let floor = min(max(Self.milliseconds(lower), 0), ceiling)
        var value = milliseconds.rounded()
        if value > ceiling { value = ceiling - (value - ceiling) }
        return .milliseconds(Int64(min(max(value, floor), ceiling)))
    }

    /// About 285 million years: far past any sane delay, well inside Int64.
    private static let largestMilliseconds: Double = 9e18

    private static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds / 1_000_000_000_000_000)
    }

    private static func duration(microseconds value: (partialValue: Int64, overflow: Bool)) -> Duration {
        value.overflow ? .seconds(Int64.max / 2) : .microseconds(max(0, value.partialValue))
    }

    /// `45s`, `2m 30s`, `3h`, `2d 23h`: short enough for a dead-letter reason.
    static func describe(_ duration: Duration) -> String {
        var seconds = max(0, duration.components.seconds)
        if seconds == 0 { return duration > .zero ? "under 1s" : "0s" }
        var parts: [String] = []
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where seconds >= size {
            parts.append("\(seconds / size)\(unit)")
            seconds %= size
            if parts.count == 2 { break }
        }
        return parts.joined(separator: " ")
    }
}

/// How one delivery attempt ended.
public enum AttemptOutcome: Sendable, Equatable {
    /// A 2xx answer.
    case succeeded(status: Int)
    /// Any other answer (`status`), or no answer at all (`error`: a timeout, a refused or
    /// reset connection, a TLS failure).
    case failed(status: Int?, error: String?)
    /// `410 Gone`.
    case gone
    /// `429` or `503`, with the `Retry-After` it carried, if any was readable.
    case throttled(status: Int, retryAfter: Duration?)

    /// The outcome of an HTTP answer, by the rules above. Prefer this over building cases by
    /// hand: it is the one place that decides which statuses mean what.
    public init(status: Int, retryAfter: Duration? = nil) {
        switch status {
        case 200...299: self = .succeeded(status: status)
        case 410: self = .gone
        case 429, 503: self = .throttled(status: status, retryAfter: retryAfter)
        default: self = .failed(status: status, error: nil)
        }
    }

    /// Cases built by hand are re-read by status, so `.succeeded(status: 500)` is not taken
    /// for a success, nor `.failed(status: 410, …)` missed as a 410.
    var normalized: AttemptOutcome {
        switch self {
        case .succeeded(let status):
            return AttemptOutcome(status: status)
        case .failed(let status?, _):
            if case .failed = AttemptOutcome(status: status) { return self }
            return AttemptOutcome(status: status)
        case .failed(nil, _), .gone:
            return self
        case .throttled(let status, let retryAfter):
            // Only 429 and 503 may delay by Retry-After.
            if status == 429 || status == 503 { return self }
            return AttemptOutcome(status: status, retryAfter: retryAfter)
        }
    }

    /// "attempt failed with HTTP 500", for dead-letter reasons.
    var summary: String {
        switch self {
        case .succeeded(let status): "attempt answered HTTP \(status)"
        case .failed(let status?, let error?): "attempt failed with HTTP \(status) (\(error))"
        case .failed(let status?, nil): "attempt failed with HTTP \(status)"
        case .failed(nil, let error?): "attempt failed: \(error)"
        case .failed(nil, nil): "attempt failed without an answer"
        case .gone: "attempt answered HTTP 410 Gone"
        case .throttled(let status, _): "attempt was throttled with HTTP \(status)"
        }
    }
}

/// What the scheduler does next with a delivery.
public enum RetryDecision: Sendable, Equatable {
    /// Delivered; nothing more to do.
    case done
    /// Try again this long from now.
    case retry(after: Duration)
    /// Park it in the subscription's dead-letter list, with why.
    case deadLetter(reason: String)
    /// Stop delivering to this subscription (a 410), with why.
    case disableSubscription(reason: String)
}

/// A retry setting that cannot work, from configuration or a subscription's `retry` object.
public enum RetryPolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptySchedule
    case scheduleTooLong(Int)
    case nonPositiveDelay(index: Int)
    case maxAttemptsOutOfRange(Int)
    case nonPositiveMaxAge
    case jitterOutOfRange(Double)
    case delayBoundsInverted
    case nonPositiveRetryAfterCap

    public var description: String {
        switch self {
        case .emptySchedule:
            "The retry schedule is empty; give at least one delay."
        case .scheduleTooLong(let count):
            "The retry schedule has \(count) delays; at most \(RetryPolicy.maximumScheduleCount) are allowed."
        case .nonPositiveDelay(let index):
            "Retry delay \(index) (counting from 0) is not positive; every delay must be more than 0 seconds."
        case .maxAttemptsOutOfRange(let value):
            "maxAttempts is \(value); it must be from 1 to \(RetryPolicy.maximumAttemptsLimit)."
        case .nonPositiveMaxAge:
            "maxAge must be more than 0 seconds."
        case .jitterOutOfRange(let value):
            "The retry jitter is \(value); it must be at least 0 and less than 1 (0.2 means ±20%)."
        case .delayBoundsInverted:
            "The minimum retry delay must be from 0 up to the maximum retry delay."
        case .nonPositiveRetryAfterCap:
            "The Retry-After cap must be more than 0 seconds."
        }
    }
}
