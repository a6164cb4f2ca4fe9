/// Issue 12: proves that a request POSTed to `/in/{source}` comes from the provider the
/// source names, with one verifier per scheme (`Schemes/`, each citing the documentation it
/// follows). Pure: the caller passes the request as received and `now`; nothing is logged,
/// and no failure's detail carries a secret or an expected value.
public enum ProviderVerifier {
    /// The request verified under `settings` at `now` (microseconds since the epoch), with
    /// what it says about itself (delivery id, provider type, Slack's challenge); or the
    /// check that failed first.
    ///
    /// Failures of authentication come before everything the body says: a request whose
    /// signature does not verify is refused for that, whatever else is wrong with it.
    public static func verify(
        _ request: InboundRequest, with settings: VerificationSettings, now: Int64
    ) -> Result<VerifiedRequest, VerificationFailure> {
        Result { () throws(VerificationFailure) in
            switch settings.scheme {
            case .github: try GitHubVerification.verify(request, settings: settings, now: now)
            case .stripe: try StripeVerification.verify(request, settings: settings, now: now)
            case .shopify: try ShopifyVerification.verify(request, settings: settings, now: now)
            case .slack: try SlackVerification.verify(request, settings: settings, now: now)
            case .gitlab: try GitLabVerification.verify(request, settings: settings, now: now)
            case .standardWebhooks: try StandardWebhooksVerification.verify(request, settings: settings, now: now)
            case .hmac: try GenericHMACVerification.verify(request, settings: settings, now: now)
            case .basic: try BasicVerification.verify(request, settings: settings, now: now)
            // Only when the operator chose it explicitly (the API never defaults to it).
            case .none: VerifiedRequest()
            }
        }
    }
}
