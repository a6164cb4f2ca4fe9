/// GitHub webhooks, from GitHub's documentation:
/// - "Validating webhook deliveries" (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries):
///   `X-Hub-Signature-256` is `sha256=` and the hex HMAC-SHA256 of the raw payload, keyed with
///   the webhook's secret; compare in constant time. (The older `X-Hub-Signature`, SHA-1, is
///   not accepted: GitHub sends both, and the SHA-256 one is what it recommends.)
/// - "Webhook events and payloads" (https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers):
///   `X-GitHub-Event` names the event (`push`, `pull_request`, `ping`, ...), `X-GitHub-Delivery`
///   is a GUID identifying the event (kept by redeliveries, so it is the dedupe key), and many
///   events carry an `action` in the body (`opened`, `closed`, ...).
///
/// No timestamp is signed, so there is no replay window: a captured delivery verifies forever
/// and only the dedupe by `X-GitHub-Delivery` stops it from making a second event.
enum GitHubVerification {
    static let signatureHeader = "X-Hub-Signature-256"
    static let eventHeader = "X-GitHub-Event"
    static let deliveryHeader = "X-GitHub-Delivery"
    private static let prefix = "sha256="

    static func verify(_ request: InboundRequest, settings: VerificationSettings, now: Int64) throws(VerificationFailure) -> VerifiedRequest {
        let header = try request.required(signatureHeader)
        guard header.hasPrefix(prefix),
              let mac = MessageAuthentication.decodeHex(header.dropFirst(prefix.count)),
              mac.count == MessageAuthentication.length(.sha256) else {
            throw .malformed(signatureHeader, "is not 'sha256=' followed by 64 hex digits")
        }
        try MessageAuthentication.verify(presented: [mac], secrets: settings.activeSecrets(at: now), body: request.body)

        let event = try request.optional(eventHeader)
        let fields = BodyFields(json: request.body)
        return VerifiedRequest(deliveryID: try request.optional(deliveryHeader),
                               providerType: event.map { providerType(event: $0, fields: fields) },
                               bodyIsJSONObject: fields != nil)
    }

    /// `pull_request.opened` from `pull_request` and a body whose `action` is `opened`; the
    /// event alone (`push`, `ping`) when the body names no action.
    static func providerType(event: String, fields: BodyFields?) -> String {
        guard let action = fields?.string("action"), !action.isEmpty else { return event }
        return event + "." + action
    }
}
