/// Slack requests, from Slack's documentation:
/// - "Verifying requests from Slack" (https://api.slack.com/authentication/verifying-requests-from-slack):
///   the base string is `v0:{X-Slack-Request-Timestamp}:{raw body}`; `X-Slack-Signature` is
///   `v0=` and its hex HMAC-SHA256 under the app's signing secret. Refuse a timestamp more than
///   five minutes from now (replay); compare in constant time.
/// - "The Events API" (https://api.slack.com/apis/events-api): when a Request URL is set, Slack
///   POSTs `{"type":"url_verification","challenge":…}` and expects the challenge back; events
///   arrive as `{"type":"event_callback","event_id":"Ev…","event":{"type":"app_mention",…}}`,
///   and `event_id` is kept by retries, so it is the dedupe key.
///
/// Slash commands and interactive payloads are form-encoded; they verify the same way, and
/// name no type here (the source's mapping may supply one).
enum SlackVerification {
    static let signatureHeader = "X-Slack-Signature"
    static let timestampHeader = "X-Slack-Request-Timestamp"
    private static let version = "v0"

    static func verify(_ request: InboundRequest, settings: VerificationSettings, now: Int64) throws(VerificationFailure) -> VerifiedRequest {
        let timestampText = try request.required(timestampHeader)
        let header = try request.required(signatureHeader)
        let prefix = version + "="
        guard header.hasPrefix(prefix),
              let mac = MessageAuthentication.decodeHex(header.dropFirst(prefix.count)),
              mac.count == MessageAuthentication.length(.sha256) else {
            throw .malformed(signatureHeader, "is not 'v0=' followed by 64 hex digits")
        }
        let timestamp = try SignedTimestamp.verify(Substring(timestampText), header: timestampHeader,
                                                   now: now, tolerance: settings.tolerance)
        try MessageAuthentication.verify(presented: [mac], secrets: settings.activeSecrets(at: now),
                                         prefix: Array("\(version):\(timestamp):".utf8), body: request.body)
        return described(by: BodyFields(json: request.body))
    }

    /// What a verified body says: the challenge of a `url_verification`, or an event's type
    /// and id.
    static func described(by fields: BodyFields?) -> VerifiedRequest {
        guard let fields else { return VerifiedRequest() }
        let type = fields.string("type")
        if type == "url_verification" {
            return VerifiedRequest(providerType: type, challenge: fields.string("challenge"))
        }
        let eventType = type == "event_callback" ? fields.object("event")?.string("type") : nil
        return VerifiedRequest(deliveryID: fields.string("event_id"), providerType: eventType ?? type)
    }
}
