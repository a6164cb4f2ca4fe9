import Runtime
import Crypto

/// Standard Webhooks (spec 1.0.0, https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
/// "Signature scheme", "Webhook headers" and "Verifying signatures"), which Svix-based senders
/// follow with `svix-` header names (https://docs.svix.com/receiving/verifying-payloads/how-manual):
/// - `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
///   space-separated list of `version,base64` entries, any of which may verify (rotation).
/// - The signed content is `{id}.{timestamp}.{raw body}`. `v1` entries are its HMAC-SHA256
///   under a `whsec_` secret (checked by `WebhookVerifier`, which our own deliveries use the
///   signer of); `v1a` entries are its Ed25519 signature under the sender's key pair, checked
///   with the `whpk_` public keys the source lists (a trust list the operator configured,
///   never a key the request names).
/// - Entries of other versions are skipped, for forward compatibility; the timestamp must be
///   within the tolerance; `webhook-id` is the idempotency key.
enum StandardWebhooksVerification {
    static let families = ["webhook", "svix"]
    static let publicKeyPrefix = "whpk_"

    static func verify(_ request: InboundRequest, settings: VerificationSettings, now: Int64) throws(VerificationFailure) -> VerifiedRequest {
        // Every spelling must be single before `StandardWebhooksHeaders` picks a family by
        // the first value of each.
        for family in families {
            for part in ["id", "timestamp", "signature"] { _ = try request.optional("\(family)-\(part)") }
        }
        let headers = StandardWebhooksHeaders { request.values($0).first }
        let family = request.values("webhook-id").isEmpty && request.values("webhook-timestamp").isEmpty
            && request.values("webhook-signature").isEmpty ? "svix" : "webhook"
        guard let id = headers.id, !id.isEmpty else { throw .missing("\(family)-id") }
        guard let timestampText = headers.timestamp, !timestampText.isEmpty else { throw .missing("\(family)-timestamp") }
        guard let signature = headers.signature, !signature.isEmpty else { throw .missing("\(family)-signature") }

        let timestamp = try SignedTimestamp.verify(Substring(timestampText), header: "\(family)-timestamp",
                                                   now: now, tolerance: settings.tolerance)
        let entries = Entries(signature)
        guard entries.symmetric + entries.asymmetric.count > 0 else {
            throw .malformed("\(family)-signature", "has no 'v1,<base64>' or 'v1a,<base64>' entry")
        }
        let secrets = settings.activeSecrets(at: now).compactMap { try? WebhookSecret(parsing: $0) }
        let publicKeys = settings.publicKeys.compactMap(Self.publicKey)

        if entries.symmetric > 0, !secrets.isEmpty,
           (try? WebhookVerifier(secrets: secrets).matchingSignature(signature, id: id, timestamp: timestamp, body: request.body)) != nil {
            return verified(id: id, body: request.body)
        }
        if !entries.asymmetric.isEmpty, !publicKeys.isEmpty {
            let content = Array("\(id).\(timestamp).".utf8) + request.body
            for key in publicKeys {
                for candidate in entries.asymmetric where key.isValidSignature(candidate, for: content) {
                    return verified(id: id, body: request.body)
                }
            }
        }
        throw .mismatch(signatures: entries.symmetric + entries.asymmetric.count,
                        against: VerificationFailure.counted(secrets.count, "active secret") + " and "
                            + VerificationFailure.counted(publicKeys.count, "public key"))
    }

    private static func verified(id: String, body: [UInt8]) -> VerifiedRequest {
        VerifiedRequest(deliveryID: id, providerType: BodyFields(json: body)?.string("type"))
    }

    /// A configured Ed25519 public key: base64 of its 32 bytes, `whpk_` optional. nil when it
    /// is not one (`VerificationSettings.configurationProblem` says so when it is saved).
    static func publicKey(_ text: String) -> Curve25519.Signing.PublicKey? {
        let encoded = text.hasPrefix(publicKeyPrefix) ? Substring(text.dropFirst(publicKeyPrefix.count)) : Substring(text)
        guard let bytes = try? Base64.decode(encoded), bytes.count == 32 else { return nil }
        return try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)
    }

    /// The header's well-formed entries: how many `v1` (`WebhookVerifier` re-reads them) and
    /// the `v1a` signatures (64 bytes each). Malformed entries are skipped, as the spec's
    /// reference verifiers skip them.
    struct Entries {
        var symmetric = 0
        var asymmetric: [[UInt8]] = []

        init(_ header: String) {
            for entry in header.split(separator: " ") {
                if entry.hasPrefix("v1,") {
                    if let mac = try? Base64.decode(entry.dropFirst(3)), mac.count == 32 { symmetric += 1 }
                } else if entry.hasPrefix("v1a,") {
                    if let signature = try? Base64.decode(entry.dropFirst(4)), signature.count == 64 { asymmetric.append(signature) }
                }
            }
        }
    }
}
