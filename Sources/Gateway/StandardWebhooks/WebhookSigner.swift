import Runtime
import Crypto

/// Standard Webhooks signatures (spec 1.0.0, "Signature scheme" and "Webhook headers"):
/// `v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`, one entry per
/// active secret, separated by single spaces, so a subscriber keeps verifying while its
/// secret is rotated.
///
/// The spec asks that the id contain no `.`: the signed content is split on dots, so an id
/// with dots could be re-read with a different split. Gateway-assigned ids (`evt_` + base-32)
/// never contain one; producer-chosen ids may, which the id rules should keep in mind.
public enum WebhookSigner {
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

    /// HMAC-SHA256 of the signed content `{id}.{timestamp}.{body}`: the one construction of
    /// it, which the signer and `WebhookVerifier` share, so they cannot drift apart.
    static func mac(_ key: SigningKey, id: String, timestamp: Int, body: [UInt8]) -> SHA256.Digest {
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
