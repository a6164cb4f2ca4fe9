import Runtime
import Crypto

/// A Standard Webhooks symmetric signing secret (spec 1.0.0, "Signature scheme": HMAC-SHA256,
/// a random key of 24 to 64 bytes, serialised as `whsec_` + base64).
///
/// Parsing accepts the serialised form and also the bare base64 without `whsec_`, because the
/// reference libraries (standard-webhooks/standard-webhooks `libraries/go/webhook.go`,
/// `libraries/javascript/src/index.ts`) strip the prefix when present and decode the rest
/// either way: a receiver configured with either form of a secret computes the same key, so
/// we must too. Any other prefix (`whsk_`
/// and `whpk_` are the spec's asymmetric keys; `_` is outside the base64 alphabet, so a prefix
/// cannot be mistaken for key material) is refused rather than guessed at.
///
/// The value never prints its key: `description`, `debugDescription` and `dump` all show
/// `WebhookSecret(redacted)`, so a secret interpolated into a log line stays secret
/// (DESIGN invariant 7). `serialized` is the one deliberate way out, for showing a new secret
/// to the operator once.
public struct WebhookSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The serialisation prefix the spec gives symmetric secrets.
    public static let prefix = "whsec_"
    /// The spec's lower bound ("at least 24 bytes (192 bits)"); shorter keys are guessable.
    public static let minimumByteCount = 24
    /// The spec's upper bound (512 bits).
    public static let maximumByteCount = 64
    /// What `generate()` draws: 256 bits, the HMAC-SHA256 output size.
    public static let generatedByteCount = 32

    /// The HMAC key. Kept as bytes (not a `SymmetricKey`, which is not `Sendable`).
    let key: [UInt8]

    /// Parses `whsec_<base64>` or bare `<base64>`.
    public init(parsing text: String) throws(WebhookSecretError) {
        guard !text.isEmpty else { throw .empty }
        var encoded = Substring(text)
        var skipped = 0
        if encoded.hasPrefix(Self.prefix) {
            encoded = encoded.dropFirst(Self.prefix.count)
            skipped = Self.prefix.utf8.count
        } else if let underscore = encoded.firstIndex(of: "_") {
            throw .wrongPrefix(Self.shownPrefix(encoded[...underscore]))
        }
        guard !encoded.isEmpty else { throw .empty }
        let bytes: [UInt8]
        do {
            bytes = try Base64.decode(encoded)
        } catch {
            // Offsets count from the start of the text the operator gave, prefix included.
            throw .invalidBase64(error.shifted(by: skipped).description)
        }
        try self.init(bytes: bytes)
    }

    /// A secret from raw key bytes (24 to 64 of them).
    public init(bytes: [UInt8]) throws(WebhookSecretError) {
        guard !bytes.isEmpty else { throw .empty }
        guard (Self.minimumByteCount...Self.maximumByteCount).contains(bytes.count) else {
            throw .wrongLength(byteCount: bytes.count)
        }
        key = bytes
    }

    /// A new secret of 32 bytes from the system's cryptographic random source (swift-crypto
    /// draws `SymmetricKey(size:)` from BoringSSL's `RAND_bytes`, seeded by `getrandom`).
    public static func generate() -> WebhookSecret {
        let fresh = SymmetricKey(size: SymmetricKeySize(bitCount: generatedByteCount * 8))
        return WebhookSecret(trustedKey: fresh.withUnsafeBytes { Array($0) })
    }

    private init(trustedKey: [UInt8]) {
        key = trustedKey
    }

    /// `whsec_` + base64 of the key: the form to show an operator or a subscriber, once.
    public var serialized: String { Self.prefix + Base64.encode(key) }

    public var description: String { "WebhookSecret(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }

    /// The part before `_` is shown in the error only when it looks like a prefix (a few
    /// letters), so an error message can never carry key material.
    private static func shownPrefix(_ candidate: Substring) -> String {
        let letters = candidate.dropLast()
        guard candidate.count <= 8, letters.allSatisfy({ $0.isASCII && $0.isLetter }) else { return "" }
        return String(candidate)
    }
}

/// Why a text is not a usable signing secret. Messages never include the secret itself.
public enum WebhookSecretError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    /// Carries the prefix that was found (e.g. `whsk_`), or "" when it did not look like one.
    case wrongPrefix(String)
    /// Carries why the base64 did not decode (a position, never a character).
    case invalidBase64(String)
    case wrongLength(byteCount: Int)

    public var description: String {
        switch self {
        case .empty:
            return "The signing secret is empty; expected 'whsec_' followed by base64 of 24 to 64 random bytes."
        case .wrongPrefix(let prefix):
            let found = prefix.isEmpty ? "an unknown prefix" : "the prefix '\(prefix)'"
            return "The signing secret has \(found); a Standard Webhooks signing secret starts with 'whsec_' "
                + "(or is bare base64). 'whsk_' and 'whpk_' are asymmetric keys, which HMAC signing cannot use."
        case .invalidBase64(let reason):
            return "The signing secret is not 'whsec_' followed by valid base64: \(reason)."
        case .wrongLength(let count):
            return "The signing secret decodes to \(count) bytes; Standard Webhooks requires "
                + "\(WebhookSecret.minimumByteCount) to \(WebhookSecret.maximumByteCount) random bytes."
        }
    }
}

/// Standard Webhooks signatures (spec 1.0.0, "Signature scheme" and "Webhook headers"):
/// `v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`, one entry per
/// active secret, separated by single spaces, so a subscriber keeps verifying while its
/// secret is rotated.
///
/// The spec asks that the id contain no `.`: the signed content is split on dots, so an id
/// with dots could be re-read with a different split. Gateway-assigned ids (`evt_` + base-32)
/// never contain one; producer-chosen ids may, which the id rules should keep in mind.
public enum WebhookSigner {
    /// How far a timestamp may be from now, either way, before `verify` refuses it; the
    /// reference libraries' value. It bounds how long a captured request can be replayed.
    public static let defaultTolerance = 300

    /// The `webhook-signature` header value: one `v1,` entry per secret, in order. No secrets
    /// gives "" (a subscription always has at least one, so callers need not handle it).
    ///
    /// The signed content is streamed into each HMAC in two parts (`id.timestamp.`, then the
    /// body), so the body, which may be large and is shared by every subscriber
    /// (DESIGN "The hot path"), is never copied.
    public static func signature(secrets: [WebhookSecret], id: String, timestamp: Int, body: [UInt8]) -> String {
        signature(keys: secrets.map(SigningKey.init), id: id, timestamp: timestamp, body: body)
    }

    /// As `signature(secrets:…)`, with keys prepared once: a sender that signs many
    /// messages with one secret keeps its `SigningKey` and skips the per-message keying
    /// (two SHA-256 blocks and the key schedule).
    public static func signature(keys: [SigningKey], id: String, timestamp: Int, body: [UInt8]) -> String {
        var header = ""
        for key in keys {
            if !header.isEmpty { header += " " }
            header += "v1,"
            header += mac(key, id: id, timestamp: timestamp, body: body).withUnsafeBytes { Base64.encode($0) }
        }
        return header
    }

    /// HMAC-SHA256 (RFC 2104) keyed with a secret: SHA-256 states that have already
    /// absorbed the padded key XOR ipad and XOR opad, copied for each message. Built on
    /// `SHA256` directly because its `update(bufferPointer:)` is concrete, where `HMAC`'s
    /// public `update(data:)` is generic over `DataProtocol` and costs more than the hashing.
    public struct SigningKey {
        fileprivate let inner: SHA256
        fileprivate let outer: SHA256

        public init(_ secret: WebhookSecret) {
            // A key longer than SHA-256's 64-byte block is hashed first (RFC 2104); secrets
            // are at most 64 bytes today, so this only guards a future limit. The key is then
            // zero-padded to the block.
            let key = secret.key.count > 64 ? Array(SHA256.hash(data: secret.key)) : secret.key
            var block = [UInt8](repeating: 0, count: 64)
            for (index, byte) in key.enumerated() { block[index] = byte }
            var inner = SHA256()
            var outer = SHA256()
            block.map { $0 ^ 0x36 }.withUnsafeBytes { inner.update(bufferPointer: $0) }
            block.map { $0 ^ 0x5C }.withUnsafeBytes { outer.update(bufferPointer: $0) }
            self.inner = inner
            self.outer = outer
        }
    }

    /// Checks a `webhook-signature` header the way a subscriber would: the timestamp must be
    /// within `tolerance` seconds of `now` (both Unix seconds), and at least one `v1` entry
    /// must be the signature under at least one of `secrets`. Entries of other versions
    /// (`v1a` is the asymmetric scheme) are skipped, not failed, as the spec's verifiers do.
    /// MACs are compared in constant time, so timing does not reveal how much of a forged
    /// signature was right.
    public static func verify(
        signatureHeader: String,
        secrets: [WebhookSecret],
        id: String,
        timestamp: Int,
        body: [UInt8],
        now: Int,
        tolerance: Int = defaultTolerance
    ) throws(WebhookVerificationError) {
        // Hostile timestamps near Int.min/Int.max must not trap: overflow means "very far".
        let (age, overflow) = now.subtractingReportingOverflow(timestamp)
        if overflow {
            if timestamp > now { throw .timestampTooNew(secondsAhead: Int.max, tolerance: tolerance) }
            throw .timestampTooOld(secondsOld: Int.max, tolerance: tolerance)
        }
        if age > tolerance { throw .timestampTooOld(secondsOld: age, tolerance: tolerance) }
        if age < 0, age.magnitude > tolerance.magnitude || tolerance < 0 {
            throw .timestampTooNew(secondsAhead: Int(clamping: age.magnitude), tolerance: tolerance)
        }
        var presented: [[UInt8]] = []
        for entry in signatureHeader.split(separator: " ", omittingEmptySubsequences: true) {
            guard entry.hasPrefix("v1,") else { continue }
            // A malformed entry is only a non-match: another entry may still verify.
            guard let bytes = try? Base64.decode(entry.dropFirst(3)), bytes.count == SHA256.byteCount else { continue }
            presented.append(bytes)
        }
        guard !presented.isEmpty else { throw .noSignature }
        for secret in secrets {
            let expected = mac(SigningKey(secret), id: id, timestamp: timestamp, body: body).withUnsafeBytes { Array($0) }
            for candidate in presented where constantTimeEquals(candidate, expected) {
                return
            }
        }
        throw .noMatchingSignature
    }

    private static func mac(_ key: SigningKey, id: String, timestamp: Int, body: [UInt8]) -> SHA256.Digest {
        var hash = key.inner
        // `id.timestamp.` in one small buffer, then the body in place.
        var prefix: [UInt8] = []
        prefix.reserveCapacity(id.utf8.count + 22)
        prefix.append(contentsOf: id.utf8)
        prefix.append(UInt8(ascii: "."))
        prefix.append(contentsOf: String(timestamp).utf8)
        prefix.append(UInt8(ascii: "."))
        prefix.withUnsafeBytes { hash.update(bufferPointer: $0) }
        body.withUnsafeBytes { hash.update(bufferPointer: $0) }
        let innerDigest = hash.finalize()
        var outer = key.outer
        innerDigest.withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize()
    }
}

/// Why a signature did not verify.
public enum WebhookVerificationError: Error, Equatable, Sendable, CustomStringConvertible {
    case timestampTooOld(secondsOld: Int, tolerance: Int)
    case timestampTooNew(secondsAhead: Int, tolerance: Int)
    /// The header held no well-formed `v1` entry.
    case noSignature
    case noMatchingSignature

    public var description: String {
        switch self {
        case let .timestampTooOld(age, tolerance):
            "The webhook-timestamp is \(age) seconds old; at most \(tolerance) are accepted (replay protection)."
        case let .timestampTooNew(ahead, tolerance):
            "The webhook-timestamp is \(ahead) seconds in the future; at most \(tolerance) are accepted (clock skew)."
        case .noSignature:
            "The webhook-signature header has no 'v1,<base64 HMAC-SHA256>' entry."
        case .noMatchingSignature:
            "No v1 entry of the webhook-signature header matches the body, id and timestamp under any active secret."
        }
    }
}
