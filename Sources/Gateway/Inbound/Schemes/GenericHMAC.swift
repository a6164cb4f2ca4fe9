import Runtime

/// `hmac`: for senders that sign with an HMAC in a header of their own choosing and follow
/// no provider's documentation we could cite. The shape is the common denominator of the
/// ones above, every part configured: the header, the hash (SHA-256 by default, SHA-512, or
/// SHA-1 only when the source asks for it, since SHA-1 is kept for legacy senders), hex or
/// base64, a prefix before the value (`sha256=`), and optionally a timestamp header whose
/// value is signed too, as `{timestamp}.{raw body}` (Stripe's construction), and checked
/// against the tolerance.
///
/// The dedupe key is an `Idempotency-Key` header when the sender sends one
/// (draft-ietf-httpapi-idempotency-key-header); there is no other convention to rely on.
enum GenericHMACVerification {
    static let idempotencyHeader = "Idempotency-Key"

    static func verify(_ request: InboundRequest, settings: VerificationSettings, now: Int64) throws(VerificationFailure) -> VerifiedRequest {
        guard let headerName = settings.header, !headerName.isEmpty else {
            throw VerificationFailure(.sourceMisconfigured, "The source's 'hmac' verification names no signature header.")
        }
        let header = try request.required(headerName)
        let prefix = settings.prefix ?? ""
        guard header.hasPrefix(prefix) else {
            throw .malformed(headerName, "does not start with the configured prefix")
        }
        let encoded = header.dropFirst(prefix.count)
        let mac: [UInt8]? = switch settings.encoding {
        case .hex: MessageAuthentication.decodeHex(encoded)
        case .base64: try? Base64.decode(encoded)
        }
        guard let mac, mac.count == MessageAuthentication.length(settings.algorithm) else {
            throw .malformed(headerName, "is not the \(settings.encoding.rawValue) of an HMAC-\(settings.algorithm.rawValue.uppercased())")
        }

        var signedPrefix: [UInt8] = []
        if let timestampHeader = settings.timestampHeader, !timestampHeader.isEmpty {
            let text = try request.required(timestampHeader)
            let timestamp = try SignedTimestamp.verify(Substring(text), header: timestampHeader,
                                                       now: now, tolerance: settings.tolerance)
            signedPrefix = Array("\(timestamp).".utf8)
        }
        try MessageAuthentication.verify(presented: [mac], secrets: settings.activeSecrets(at: now),
                                         algorithm: settings.algorithm, prefix: signedPrefix, body: request.body)
        return VerifiedRequest(deliveryID: try request.optional(idempotencyHeader))
    }
}
