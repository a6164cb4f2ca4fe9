import Runtime
import Crypto

/// HMAC (RFC 2104) over what a provider signed, and the comparison of presented signatures
/// with the expected ones. Every provider here signs `prefix + raw body` for some prefix
/// (empty for GitHub and Shopify, `{t}.` for Stripe, `v0:{ts}:` for Slack): the body is fed
/// in place after the prefix, never copied into a joined buffer, since it may be large.
enum MessageAuthentication {
    /// The MAC of `prefix + body` under `key` (the secret's UTF-8 bytes: every provider here
    /// uses the secret text as given, Stripe's `whsec_` included, as the HMAC key).
    static func code(
        _ algorithm: VerificationSettings.Algorithm, key: String, prefix: [UInt8] = [], body: [UInt8]
    ) -> [UInt8] {
        switch algorithm {
        case .sha256: code(SHA256.self, key: key, prefix: prefix, body: body)
        case .sha512: code(SHA512.self, key: key, prefix: prefix, body: body)
        case .sha1: code(Insecure.SHA1.self, key: key, prefix: prefix, body: body)
        }
    }

    private static func code<H: HashFunction>(_: H.Type, key: String, prefix: [UInt8], body: [UInt8]) -> [UInt8] {
        var mac = HMAC<H>(key: SymmetricKey(data: Array(key.utf8)))
        if !prefix.isEmpty { mac.update(data: prefix) }
        mac.update(data: body)
        return Array(mac.finalize())
    }

    /// Succeeds when any presented MAC equals the MAC under any of `secrets`; otherwise the
    /// mismatch failure, which counts what was tried. Each comparison is constant-time, so
    /// timing does not reveal how much of a forged signature was right.
    static func verify(
        presented: [[UInt8]], secrets: [String], algorithm: VerificationSettings.Algorithm = .sha256,
        prefix: [UInt8] = [], body: [UInt8]
    ) throws(VerificationFailure) {
        for secret in secrets {
            let expected = code(algorithm, key: secret, prefix: prefix, body: body)
            for candidate in presented where constantTimeEquals(candidate, expected) { return }
        }
        throw .mismatch(signatures: presented.count, keys: secrets.count)
    }

    /// Whether two texts are equal, in time that depends on neither (tokens, passwords):
    /// their SHA-256 digests are compared, so not even the length of the expected one leaks.
    static func sameSecret(_ presented: String, _ expected: String) -> Bool {
        constantTimeEquals(Tokens.digest(presented), Tokens.digest(expected))
    }

    /// Lower- or upper-case hex, two digits a byte; nil for anything else.
    static func decodeHex(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The byte length of a MAC made with `algorithm`: a presented signature of another
    /// length is malformed, not merely wrong.
    static func length(_ algorithm: VerificationSettings.Algorithm) -> Int {
        switch algorithm {
        case .sha256: SHA256.byteCount
        case .sha512: SHA512.byteCount
        case .sha1: Insecure.SHA1.byteCount
        }
    }
}
