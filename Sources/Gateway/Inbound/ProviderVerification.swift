/// Issue 12: proving that a webhook a provider POSTs to `/in/{source}` is genuine. Each
/// scheme follows its provider's public documentation (cited where it is implemented). Pure:
/// no HTTP types, no clock — the caller passes the request and `now`.

/// A received request as the verifiers see it: its header fields and its raw body, byte for
/// byte (signatures are over exact bytes).
public struct InboundRequest: Sendable {
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(headers: [(name: String, value: String)], body: [UInt8]) {
        self.headers = headers
        self.body = body
    }

    /// Every value of a header, in order (names compare without case, RFC 9110 §5.1).
    public func values(_ name: String) -> [String] {
        headers.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    /// ASCII case-insensitive equality, without building lowercased copies: it runs for every
    /// header of every inbound request. Field names are tokens (ASCII), so folding the 0x20
    /// bit of letters is enough.
    static func sameName(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        return zip(a.utf8, b.utf8).allSatisfy { x, y in
            x == y || (Self.isLetter(x) && x | 0x20 == y | 0x20)
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
    }

    /// The value of a header that must appear once: nil when absent; `.duplicated` when it
    /// appears more than once (an ambiguous signature is refused, not guessed at).
    public func single(_ name: String) -> Result<String?, VerificationFailure> {
        let found = values(name)
        if found.count > 1 { return .failure(.duplicated(name)) }
        return .success(found.first)
    }

    /// `single`, for the schemes: a header that must be there once.
    func required(_ name: String) throws(VerificationFailure) -> String {
        guard let value = try optional(name) else { throw .missing(name) }
        return value
    }

    /// `single`, for the schemes: a header that may be absent but never repeated.
    func optional(_ name: String) throws(VerificationFailure) -> String? {
        try single(name).get()
    }
}

public enum VerificationScheme: String, Sendable, Equatable, CaseIterable {
    case github, stripe, shopify, slack, gitlab
    case standardWebhooks = "standard-webhooks"
    case hmac, basic, none
}

/// A source's signing secret; during a rotation's overlap the previous one is listed too,
/// until `expiresAt` (microseconds since the epoch).
public struct SourceSecret: Sendable, Equatable {
    public var value: String
    public var expiresAt: Int64?

    public init(value: String, expiresAt: Int64? = nil) {
        self.value = value
        self.expiresAt = expiresAt
    }
}

/// How one source's requests are verified.
public struct VerificationSettings: Sendable, Equatable {
    public enum Algorithm: String, Sendable, Equatable, CaseIterable { case sha256, sha512, sha1 }
    public enum Encoding: String, Sendable, Equatable, CaseIterable { case hex, base64 }

    public var scheme: VerificationScheme
    /// Newest first. For `basic`, the passwords; for `gitlab`, the tokens.
    public var secrets: [SourceSecret] = []
    /// How far a signed timestamp may be from now, either way, in seconds (stripe, slack,
    /// standard-webhooks, hmac with a timestamp header).
    public var tolerance: Int = 300
    /// `standard-webhooks` v1a: Ed25519 public keys (base64 of 32 bytes, optional `whpk_`).
    public var publicKeys: [String] = []
    /// `hmac`: the header carrying the signature.
    public var header: String?
    /// `hmac`: sha256 (default) or sha512; sha1 only when asked for explicitly.
    public var algorithm: Algorithm = .sha256
    /// `hmac`: how the signature is written.
    public var encoding: Encoding = .hex
    /// `hmac`: text before the signature in the header, such as `sha256=`.
    public var prefix: String?
    /// `hmac`: a header with a Unix timestamp (seconds) that is signed too, as
    /// `{timestamp}.{body}`, and checked against `tolerance`.
    public var timestampHeader: String?
    /// `basic`: the user name.
    public var username: String?

    public init(scheme: VerificationScheme) {
        self.scheme = scheme
    }

    /// The secrets that verify a request received at `now`.
    public func activeSecrets(at now: Int64) -> [String] {
        secrets.filter { ($0.expiresAt ?? .max) > now }.map(\.value)
    }
}

/// What a verified request says about itself.
public struct VerifiedRequest: Sendable, Equatable {
    /// The provider's id of this delivery (its retries repeat it), for dedupe; nil when the
    /// scheme has none (`X-GitHub-Delivery`, Stripe's event `id`, `X-Shopify-Webhook-Id`,
    /// `webhook-id`, ...).
    public var deliveryID: String?
    /// The event type the provider names, before the source's mapping (GitHub: event and
    /// `action`, `pull_request.opened`; Stripe: the body's `type`; Shopify: the topic; GitLab:
    /// `X-Gitlab-Event`); nil when it names none.
    public var providerType: String?
    /// Slack's `url_verification`: answer with this challenge instead of storing an event.
    public var challenge: String?
    /// True when verifying found the body to be one strict JSON object (it read members of
    /// it): whoever stores the body need not check it again.
    public var bodyIsJSONObject = false

    public init(deliveryID: String? = nil, providerType: String? = nil, challenge: String? = nil, bodyIsJSONObject: Bool = false) {
        self.deliveryID = deliveryID
        self.providerType = providerType
        self.challenge = challenge
        self.bodyIsJSONObject = bodyIsJSONObject
    }
}

/// Why a request was refused (401). The detail names the check that failed — never the
/// expected value.
public struct VerificationFailure: Error, Sendable, Equatable {
    public enum Check: String, Sendable, Equatable {
        case missingHeader = "missing-header"
        case duplicatedHeader = "duplicated-header"
        case malformedHeader = "malformed-header"
        case staleTimestamp = "stale-timestamp"
        case futureTimestamp = "future-timestamp"
        case signatureMismatch = "signature-mismatch"
        case credentials
        /// The source's settings cannot verify anything (an `hmac` source without a header, a
        /// `basic` source without a user name, ...): the operator's mistake, not the sender's.
        /// `VerificationSettings.configurationProblem` finds these when the source is saved.
        case sourceMisconfigured = "source-misconfigured"
    }

    public var check: Check
    public var detail: String

    public init(_ check: Check, _ detail: String) {
        self.check = check
        self.detail = detail
    }

    public static func missing(_ header: String) -> VerificationFailure {
        VerificationFailure(.missingHeader, "The request has no '\(header)' header.")
    }

    public static func duplicated(_ header: String) -> VerificationFailure {
        VerificationFailure(.duplicatedHeader, "The request has more than one '\(header)' header.")
    }

    /// `why` completes "The '<header>' header …" and must not quote the value: a malformed
    /// signature may still be most of a real one.
    public static func malformed(_ header: String, _ why: String) -> VerificationFailure {
        VerificationFailure(.malformedHeader, "The '\(header)' header \(why).")
    }

    /// No signature matched. Says how much was tried, never what was expected.
    public static func mismatch(signatures: Int, keys: Int) -> VerificationFailure {
        mismatch(signatures: signatures, against: counted(keys, "active secret"))
    }

    /// `against` completes "… checked against …", e.g. "2 active secrets and 1 public key".
    public static func mismatch(signatures: Int, against: String) -> VerificationFailure {
        VerificationFailure(.signatureMismatch,
                            "No signature matched the body: \(counted(signatures, "signature")) checked against \(against).")
    }

    /// "1 signature", "2 signatures".
    static func counted(_ count: Int, _ noun: String) -> String {
        count == 1 ? "1 \(noun)" : "\(count) \(noun)s"
    }
}
