import Runtime

/// `basic`: HTTP Basic authentication (RFC 7617) for senders that can only put credentials
/// in the URL or a header. `Authorization: Basic base64(user-id ":" password)`; the scheme
/// name is case-insensitive (RFC 9110 §11.1) and the user-id ends at the first colon
/// (RFC 7617 §2). The user name must be the source's and the password one of its active
/// secrets; both are compared as digests in constant time. Nothing is signed and nothing
/// names a delivery, so there is no dedupe key.
enum BasicVerification {
    static let header = "Authorization"

    static func verify(_ request: InboundRequest, settings: VerificationSettings, now: Int64) throws(VerificationFailure) -> VerifiedRequest {
        guard let username = settings.username, !username.isEmpty else {
            throw VerificationFailure(.sourceMisconfigured, "The source's 'basic' verification names no user name.")
        }
        let value = try request.required(header)
        let (user, password) = try credentials(value)
        let userMatches = MessageAuthentication.sameSecret(user, username)
        let passwordMatches = settings.activeSecrets(at: now).contains { MessageAuthentication.sameSecret(password, $0) }
        guard userMatches && passwordMatches else {
            throw VerificationFailure(.credentials, "The user name or password in the 'Authorization' header is wrong.")
        }
        return VerifiedRequest()
    }

    /// The user-id and password of a `Basic` credential.
    static func credentials(_ value: String) throws(VerificationFailure) -> (user: String, password: String) {
        let scheme = value.prefix { $0 != " " }
        let token = value.dropFirst(scheme.count).drop { $0 == " " }
        guard scheme.lowercased() == "basic", !token.isEmpty,
              let decoded = try? Base64.decode(token),
              let text = String(validating: decoded, as: UTF8.self),
              let colon = text.firstIndex(of: ":") else {
            throw .malformed(header, "is not 'Basic' followed by the base64 of 'user:password'")
        }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
