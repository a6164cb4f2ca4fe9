import Runtime

extension VerificationSettings {
    /// Why these settings could never verify a request, for the API to refuse when a source
    /// is created or changed (so `.sourceMisconfigured` is never met at `/in/{source}`); nil
    /// when they are usable. Never quotes a secret.
    public var configurationProblem: String? {
        if tolerance < 0 { return "The tolerance must not be negative." }
        switch scheme {
        case .none:
            return nil
        case .standardWebhooks:
            if secrets.isEmpty && publicKeys.isEmpty {
                return "A 'standard-webhooks' source needs a 'whsec_' secret or a 'whpk_' public key."
            }
            for (index, secret) in secrets.enumerated() {
                do { _ = try WebhookSecret(parsing: secret.value) } catch {
                    return "Secret \(index + 1) is not a Standard Webhooks secret: \(error.description)"
                }
            }
            for (index, key) in publicKeys.enumerated() where StandardWebhooksVerification.publicKey(key) == nil {
                return "Public key \(index + 1) is not 'whpk_' followed by the base64 of a 32-byte Ed25519 public key."
            }
            return nil
        case .hmac:
            if header?.isEmpty ?? true { return "An 'hmac' source needs the name of its signature header." }
            if let timestampHeader, timestampHeader.isEmpty { return "The timestamp header name must not be empty." }
            return secretsProblem
        case .basic:
            if username?.isEmpty ?? true { return "A 'basic' source needs a user name." }
            if username?.contains(":") == true { return "A 'basic' user name cannot contain ':' (RFC 7617)." }
            return secretsProblem
        case .github, .stripe, .shopify, .slack, .gitlab:
            return secretsProblem
        }
    }

    private var secretsProblem: String? {
        if secrets.isEmpty { return "A '\(scheme.rawValue)' source needs a secret." }
        if secrets.contains(where: { $0.value.isEmpty }) { return "A secret must not be empty." }
        return nil
    }
}
