import Runtime

/// Shopify webhooks, from Shopify's documentation, "Deliver webhooks through HTTPS" and
/// "Verify webhooks" (https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook):
/// - `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body, keyed with the app's
///   client secret. Compare in constant time.
/// - `X-Shopify-Topic` names the event (`orders/create`); `X-Shopify-Webhook-Id` identifies
///   the delivery and is the same on retries, so it is the dedupe key
///   ("Ignore duplicates", https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates).
///
/// No timestamp is signed (`X-Shopify-Triggered-At` is not part of the MAC), so there is no
/// replay window; dedupe by the webhook id is the protection.
enum ShopifyVerification {
    static let signatureHeader = "X-Shopify-Hmac-Sha256"
    static let topicHeader = "X-Shopify-Topic"
    static let deliveryHeader = "X-Shopify-Webhook-Id"

    static func verify(_ request: InboundRequest, settings: VerificationSettings, now: Int64) throws(VerificationFailure) -> VerifiedRequest {
        let header = try request.required(signatureHeader)
        guard let mac = try? Base64.decode(header), mac.count == MessageAuthentication.length(.sha256) else {
            throw .malformed(signatureHeader, "is not the base64 of a 32-byte HMAC-SHA256")
        }
        try MessageAuthentication.verify(presented: [mac], secrets: settings.activeSecrets(at: now), body: request.body)
        return VerifiedRequest(deliveryID: try request.optional(deliveryHeader),
                               providerType: try request.optional(topicHeader))
    }
}
