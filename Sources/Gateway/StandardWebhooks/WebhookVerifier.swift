import Runtime
import Crypto

/// The three Standard Webhooks headers of a received request (spec 1.0.0, "Webhook
/// headers"), found by whoever holds the request: this module knows no HTTP types.
public struct StandardWebhooksHeaders: Sendable, Equatable {
    public var id: String?
    public var timestamp: String?
    public var signature: String?

    public init(id: String?, timestamp: String?, signature: String?) {
        self.id = id
        self.timestamp = timestamp
        self.signature = signature
    }

    /// Reads the headers through `field`, a case-insensitive lookup of the request's first
    /// value of a header. Senders built on Svix spell them `svix-id`, `svix-timestamp` and
    /// `svix-signature` with the same meaning (the reference libraries accept both); one
    /// family is read, never a mix, so a request cannot pair one family's id with the
    /// other's signature.
    public init(field: (String) -> String?) {
        let family = ["webhook-id", "webhook-timestamp", "webhook-signature"].contains { field($0) != nil }
            ? "webhook" : "svix"
        self.init(id: field(family + "-id"), timestamp: field(family + "-timestamp"),
                  signature: field(family + "-signature"))
    }
}

/// Verifies Standard Webhooks signatures the way a receiver must (spec 1.0.0, "Verifying
/// webhooks"): the id, timestamp and signature headers are present, the timestamp is
/// within `tolerance` of now either way (replay protection), and at least one `v1` entry of
/// the signature header is the HMAC of `{id}.{timestamp}.{body}` under one of the secrets.
/// Several secrets are for rotation: a receiver holding the old and the new one accepts
/// either while the sender moves over.
///
/// Pure: the caller passes `now`, so tests need no clock. The checks run in the spec's
/// order, and the first that fails is the error; `timestampVerdict` and
/// `matchingSignature` let a tool report each part on its own.
public struct WebhookVerifier: Sendable {
    /// How far a timestamp may be from now, either way, in seconds: the reference
    /// libraries' value. It bounds how long a captured request can be replayed.
    public static let defaultTolerance = 300

    /// Which secret (index into `secrets`) and which entry of the header (index among its
    /// space-separated entries, any version counted) verified.
    public struct Match: Sendable, Equatable {
        public let version: String
        public let secretIndex: Int
        public let entryIndex: Int

        public init(version: String, secretIndex: Int, entryIndex: Int) {
            self.version = version
            self.secretIndex = secretIndex
            self.entryIndex = entryIndex
        }
    }

    public let secrets: [WebhookSecret]
    /// Seconds; must not be negative.
    public let tolerance: Int

    public init(secrets: [WebhookSecret], tolerance: Int = WebhookVerifier.defaultTolerance) {
        precondition(tolerance >= 0, "a negative tolerance would refuse every timestamp")
        self.secrets = secrets
        self.tolerance = tolerance
    }

    /// Every check, in order; what verified, or why not.
    public func verify(
        _ headers: StandardWebhooksHeaders, body: [UInt8], now: Int
    ) throws(WebhookVerificationError) -> Match {
        guard let id = headers.id, !id.isEmpty else { throw .missingHeader("webhook-id") }
        guard let timestampText = headers.timestamp, !timestampText.isEmpty else { throw .missingHeader("webhook-timestamp") }
        guard let signature = headers.signature, !signature.isEmpty else { throw .missingHeader("webhook-signature") }
        let timestamp = try Self.parseTimestamp(timestampText)
        if let stale = timestampVerdict(timestamp, now: now) { throw stale }
        return try matchingSignature(signature, id: id, timestamp: timestamp, body: body)
    }

    /// A `webhook-timestamp` value: Unix seconds as plain ASCII digits (what the reference
    /// libraries send and parse); a sign, spaces or a fraction are refused.
    public static func parseTimestamp(_ text: String) throws(WebhookVerificationError) -> Int {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let value = Int(text) else {
            throw .invalidTimestamp
        }
        return value
    }

    /// nil when `timestamp` is within the tolerance of `now`; otherwise the error saying
    /// how far off it is, too old and too new told apart (a stale capture is not a clock skew).
    public func timestampVerdict(_ timestamp: Int, now: Int) -> WebhookVerificationError? {
        // Hostile timestamps near Int.max must not trap: overflow means "very far".
        let (age, overflow) = now.subtractingReportingOverflow(timestamp)
        if overflow {
            return timestamp > now
                ? .timestampTooNew(secondsAhead: Int.max, tolerance: tolerance)
                : .timestampTooOld(secondsOld: Int.max, tolerance: tolerance)
        }
        if age > tolerance { return .timestampTooOld(secondsOld: age, tolerance: tolerance) }
        if age < -tolerance { return .timestampTooNew(secondsAhead: Int(clamping: age.magnitude), tolerance: tolerance) }
        return nil
    }

    /// The first secret, in order, that one of the header's `v1` entries was made with,
    /// whatever the timestamp's age. Entries of other versions (`v1a` is the asymmetric
    /// scheme) and malformed entries are skipped, not failed, as the spec's verifiers do.
    /// MACs are compared in constant time, so timing does not reveal how much of a forged
    /// signature was right.
    public func matchingSignature(
        _ header: String, id: String, timestamp: Int, body: [UInt8]
    ) throws(WebhookVerificationError) -> Match {
        var presented: [(entryIndex: Int, mac: [UInt8])] = []
        for (entryIndex, entry) in header.split(separator: " ", omittingEmptySubsequences: true).enumerated() {
            guard entry.hasPrefix("v1,") else { continue }
            guard let bytes = try? Base64.decode(entry.dropFirst(3)), bytes.count == SHA256.byteCount else { continue }
            presented.append((entryIndex, bytes))
        }
        guard !presented.isEmpty else { throw .noSignature }
        for (secretIndex, secret) in secrets.enumerated() {
            let key = WebhookSigner.SigningKey(secret)
            let expected = WebhookSigner.mac(key, id: id, timestamp: timestamp, body: body).withUnsafeBytes { Array($0) }
            for candidate in presented where constantTimeEquals(candidate.mac, expected) {
                return Match(version: "v1", secretIndex: secretIndex, entryIndex: candidate.entryIndex)
            }
        }
        throw .noMatchingSignature
    }
}

/// Why a webhook did not verify. Messages never include a secret or the expected signature.
public enum WebhookVerificationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Carries the header's name (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    case missingHeader(String)
    /// The timestamp header is not Unix seconds.
    case invalidTimestamp
    case timestampTooOld(secondsOld: Int, tolerance: Int)
    case timestampTooNew(secondsAhead: Int, tolerance: Int)
    /// The header held no well-formed `v1` entry.
    case noSignature
    case noMatchingSignature

    public var description: String {
        switch self {
        case let .missingHeader(name):
            "The \(name) header is missing or empty."
        case .invalidTimestamp:
            "The webhook-timestamp header is not a Unix time in whole seconds."
        case let .timestampTooOld(age, tolerance):
            "The webhook-timestamp is \(age) seconds old; at most \(tolerance) are accepted (replay protection)."
        case let .timestampTooNew(ahead, tolerance):
            "The webhook-timestamp is \(ahead) seconds in the future; at most \(tolerance) are accepted (clock skew)."
        case .noSignature:
            "The webhook-signature header has no 'v1,<base64 HMAC-SHA256>' entry."
        case .noMatchingSignature:
            "No v1 entry of the webhook-signature header matches the body, id and timestamp under any secret."
        }
    }
}
