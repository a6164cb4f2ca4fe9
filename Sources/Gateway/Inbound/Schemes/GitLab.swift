/// GitLab webhooks, from GitLab's documentation, "Webhooks"
/// (https://docs.gitlab.com/user/project/integrations/webhooks/):
/// - "Validate payloads by using a secret token": the token configured on the webhook is
///   sent as-is in `X-Gitlab-Token`. Nothing is signed: the token is a shared password, so it
///   is compared (as a digest) in constant time against each active secret.
/// - "Delivery headers": `X-Gitlab-Event` names the hook (`Push Hook`, `Merge Request Hook`);
///   `Idempotency-Key` (GitLab 17.4 and later) is "consistent across webhook retries", so it is
///   the dedupe key; `X-Gitlab-Event-UUID`, sent by older versions too, identifies the event
///   and is the fallback.
enum GitLabVerification {
    static let tokenHeader = "X-Gitlab-Token"
    static let eventHeader = "X-Gitlab-Event"
    static let idempotencyHeader = "Idempotency-Key"
    static let eventUUIDHeader = "X-Gitlab-Event-UUID"

    static func verify(_ request: InboundRequest, settings: VerificationSettings, now: Int64) throws(VerificationFailure) -> VerifiedRequest {
        let token = try request.required(tokenHeader)
        let secrets = settings.activeSecrets(at: now)
        guard secrets.contains(where: { MessageAuthentication.sameSecret(token, $0) }) else {
            throw VerificationFailure(.signatureMismatch,
                "The '\(tokenHeader)' token matches none of \(VerificationFailure.counted(secrets.count, "active secret")).")
        }
        let idempotencyKey = try request.optional(idempotencyHeader)
        let eventUUID = try request.optional(eventUUIDHeader)
        return VerifiedRequest(deliveryID: idempotencyKey ?? eventUUID, providerType: try request.optional(eventHeader))
    }
}
