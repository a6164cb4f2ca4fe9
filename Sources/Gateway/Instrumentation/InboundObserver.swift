import Synchronization

/// What became of a request to `POST /in/{source}` (issue 12): a small, fixed set, so it can
/// label a metric and key the source's statistics.
public enum InboundOutcome: String, Sendable, CaseIterable {
    case accepted
    /// A repeated delivery: answered with the original receipt, nothing stored.
    case duplicate
    /// Slack's `url_verification`, answered with its challenge.
    case challenge
    /// Refused before anything else: the client's address is not in the allowlist.
    case ipNotAllowed = "ip_not_allowed"
    case missingHeader = "missing_header"
    case duplicatedHeader = "duplicated_header"
    case malformedHeader = "malformed_header"
    case staleTimestamp = "stale_timestamp"
    case futureTimestamp = "future_timestamp"
    case signatureMismatch = "signature_mismatch"
    case credentials
    case sourceMisconfigured = "source_misconfigured"
    /// Verified, but ingest refused it (a schema, `--require-event-types`, a reused delivery
    /// id with another body).
    case refused
    /// Verified, but the store could not take it (503).
    case unavailable

    init(_ check: VerificationFailure.Check) {
        switch check {
        case .missingHeader: self = .missingHeader
        case .duplicatedHeader: self = .duplicatedHeader
        case .malformedHeader: self = .malformedHeader
        case .staleTimestamp: self = .staleTimestamp
        case .futureTimestamp: self = .futureTimestamp
        case .signatureMismatch: self = .signatureMismatch
        case .credentials: self = .credentials
        case .sourceMisconfigured: self = .sourceMisconfigured
        }
    }

    var isRejection: Bool { ![.accepted, .duplicate, .challenge].contains(self) }
}

/// Told of every request to `/in/{source}` of a source that exists (metrics). Quick and
/// non-blocking: it runs on the event loop or the journal writer.
public protocol InboundObserver: Sendable {
    func inboundRequest(source: String, outcome: InboundOutcome)
}

/// Each source's inbound counts since the gateway started (not journaled: a restart begins
/// at zero), for `GET /v1/sources`.
public final class InboundStatistics: Sendable {
    private let counts = Mutex<[String: [InboundOutcome: Int]]>([:])

    public init() {}

    func record(_ source: String, _ outcome: InboundOutcome) {
        counts.withLock { $0[source, default: [:]][outcome, default: 0] += 1 }
    }

    public func counts(of source: String) -> [InboundOutcome: Int] {
        counts.withLock { $0[source] ?? [:] }
    }
}
