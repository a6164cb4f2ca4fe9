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
