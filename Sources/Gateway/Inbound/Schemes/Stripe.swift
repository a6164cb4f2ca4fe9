/// Stripe webhooks, from Stripe's documentation, "Check the webhook signatures" and "Verify
/// signatures manually" (https://docs.stripe.com/webhooks#verify-manually, formerly
/// https://stripe.com/docs/webhooks/signatures):
/// - `Stripe-Signature` is a comma-separated list of `prefix=value` elements: `t` is the Unix
///   timestamp of the signing, `v1` a signature (there may be several, e.g. while a secret is
///   rolled), and other schemes (`v0`, test-mode only) are to be discarded.
/// - The signed payload is `{t}.{raw body}`; each `v1` is its hex HMAC-SHA256 under the
///   endpoint's signing secret (`whsec_…`, used as given). Compare in constant time.
/// - Refuse timestamps outside a tolerance (Stripe's libraries default to 5 minutes) to stop
///   replays; the timestamp is signed, so it cannot be moved without breaking the signature.
/// - The body is an Event object: its `id` (`evt_…`) is the same on every retry, its `type`
///   names the event (`payment_intent.succeeded`).
enum StripeVerification {
    static let signatureHeader = "Stripe-Signature"

    static func verify(_ request: InboundRequest, settings: VerificationSettings, now: Int64) throws(VerificationFailure) -> VerifiedRequest {
        let header = try request.required(signatureHeader)
        let parsed = try parse(header)
        try SignedTimestamp.check(parsed.timestamp, now: now, tolerance: settings.tolerance, header: signatureHeader)
        try MessageAuthentication.verify(presented: parsed.signatures, secrets: settings.activeSecrets(at: now),
                                         prefix: Array("\(parsed.timestamp).".utf8), body: request.body)
        let fields = BodyFields(json: request.body)
        return VerifiedRequest(deliveryID: fields?.string("id"), providerType: fields?.string("type"), bodyIsJSONObject: fields != nil)
    }

    /// `t=` once, and the `v1=` signatures (hex, 32 bytes each). A `v1` that is not hex of
    /// that length is malformed: it cannot be a Stripe signature, and skipping it silently
    /// would hide a broken sender.
    static func parse(_ header: String) throws(VerificationFailure) -> (timestamp: Int, signatures: [[UInt8]]) {
        var timestamp: Int?
        var signatures: [[UInt8]] = []
        for element in header.split(separator: ",", omittingEmptySubsequences: false) {
            let element = element.trimmingSpaces
            guard let equals = element.firstIndex(of: "=") else {
                throw .malformed(signatureHeader, "has an element without '='")
            }
            let key = element[..<equals]
            let value = element[element.index(after: equals)...]
            switch key {
            case "t":
                guard timestamp == nil else { throw .malformed(signatureHeader, "has more than one 't=' element") }
                timestamp = try SignedTimestamp.parse(value, header: signatureHeader)
            case "v1":
                guard let mac = MessageAuthentication.decodeHex(value), mac.count == MessageAuthentication.length(.sha256) else {
                    throw .malformed(signatureHeader, "has a 'v1=' element that is not 64 hex digits")
                }
                signatures.append(mac)
            default:
                continue
            }
        }
        guard let timestamp else { throw .malformed(signatureHeader, "has no 't=' element") }
        guard !signatures.isEmpty else { throw .malformed(signatureHeader, "has no 'v1=' signature") }
        return (timestamp, signatures)
    }
}

extension Substring {
    /// Without the spaces around it (`t=1, v1=…` is how some proxies re-join lists).
    var trimmingSpaces: Substring {
        let start = firstIndex { $0 != " " } ?? endIndex
        let end = self[start...].lastIndex { $0 != " " }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
