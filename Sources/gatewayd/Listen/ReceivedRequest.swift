import Gateway
import HTTPServer

/// One request as `gatewayd listen` saw it and answered it: what the printed report is
/// made from. A value, so the report is a pure function of it (tested without sockets).
struct ReceivedRequest: Sendable {
    /// The request's number since the listener started, from 1.
    var number: Int
    /// Wall-clock microseconds since the Unix epoch.
    var receivedAt: Int64
    var method: String
    var target: String
    var headers: HTTPHeaders
    var body: [UInt8]
    var verification: Verification
    /// How often this `webhook-id` has arrived (this time included), and how long after the
    /// previous one: retries, replays and redeliveries keep the id.
    var sighting: Sighting?
    var answer: ListenAnswerPolicy.Answer
    /// `--fail-rate`, to say why an answer failed.
    var failRate: Double?

    struct Sighting: Sendable, Equatable {
        var count: Int
        var microsecondsSincePrevious: Int64?
    }

    /// The Standard Webhooks check, when `--secret` was given.
    enum Verification: Sendable, Equatable {
        case unchecked
        /// `entries` is how many entries the signature header held.
        case valid(WebhookVerifier.Match, entries: Int)
        /// `signatureMatch` is set when only the timestamp failed: the signature itself matched.
        case invalid(WebhookVerificationError, signatureMatch: WebhookVerifier.Match?)

        /// Runs the verifier on the request's headers and body at `now` (Unix seconds). When
        /// only the timestamp fails it still looks for a matching signature, so a report can
        /// tell a stale but genuine request from a forged one.
        init(checking headers: HTTPHeaders, body: [UInt8], with verifier: WebhookVerifier?, now: Int) {
            guard let verifier else {
                self = .unchecked
                return
            }
            let found = StandardWebhooksHeaders { headers[$0] }
            do {
                let match = try verifier.verify(found, body: body, now: now)
                let entries = found.signature?.split(separator: " ").count ?? 0
                self = .valid(match, entries: entries)
            } catch {
                var signatureMatch: WebhookVerifier.Match?
                switch error {
                case .timestampTooOld, .timestampTooNew:
                    if let id = found.id, let signature = found.signature, let text = found.timestamp,
                       let timestamp = try? WebhookVerifier.parseTimestamp(text) {
                        signatureMatch = try? verifier.matchingSignature(signature, id: id, timestamp: timestamp, body: body)
                    }
                default:
                    break
                }
                self = .invalid(error, signatureMatch: signatureMatch)
            }
        }

        /// `valid`, `invalid` or `unchecked`: the machine-readable verdict.
        var verdict: String {
            switch self {
            case .unchecked: "unchecked"
            case .valid: "valid"
            case .invalid: "invalid"
            }
        }

        /// The verdict with its reason, for people: `valid (v1, key 1)`,
        /// `INVALID (no v1 signature matches)`, `INVALID (timestamp too old by 7m: …)`.
        var summary: String {
            switch self {
            case .unchecked:
                return "not checked (start with --secret whsec_… to verify)"
            case let .valid(match, entries):
                let entry = entries > 1 ? ", entry \(match.entryIndex + 1) of \(entries)" : ""
                return "valid (\(match.version), key \(match.secretIndex + 1)\(entry))"
            case let .invalid(error, signatureMatch):
                return "INVALID (\(Self.reason(error, signatureMatch: signatureMatch)))"
            }
        }

        private static func reason(_ error: WebhookVerificationError, signatureMatch: WebhookVerifier.Match?) -> String {
            let signatureNote = signatureMatch.map { "; the signature itself matches key \($0.secretIndex + 1)" }
                ?? "; the signature does not match either"
            switch error {
            case let .missingHeader(name):
                return "no \(name) header"
            case .invalidTimestamp:
                return "webhook-timestamp is not Unix seconds"
            case let .timestampTooOld(age, tolerance):
                return "timestamp too old by \(ListenFormat.seconds(age &- tolerance)): sent \(ListenFormat.seconds(age)) ago, "
                    + "tolerance \(ListenFormat.seconds(tolerance))" + signatureNote
            case let .timestampTooNew(ahead, tolerance):
                return "timestamp too new by \(ListenFormat.seconds(ahead &- tolerance)): \(ListenFormat.seconds(ahead)) in the future, "
                    + "tolerance \(ListenFormat.seconds(tolerance))" + signatureNote
            case .noSignature:
                return "no v1 signature in webhook-signature"
            case .noMatchingSignature:
                return "no v1 signature matches"
            }
        }
    }
}
