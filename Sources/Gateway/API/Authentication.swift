import Runtime
import HTTPServer

/// Who is calling. The admin may do everything; a source may only publish, as itself; a
/// tenant may manage only its own subscriptions.
enum Principal: Equatable {
    case admin
    case source(String)
    case tenant(String)
}

/// Bearer-token checks. Tokens are compared as SHA-256 digests in constant time, so neither
/// the comparison's duration nor a log line can leak them.
public struct Authenticator: Sendable {
    private let adminDigest: [UInt8]
    private let store: any ConfigurationStore

    public init(adminToken: String, store: any ConfigurationStore) {
        adminDigest = Tokens.digest(adminToken)
        self.store = store
    }

    /// The caller, or the problem response to send instead.
    func authenticate(_ request: HTTPRequest) -> Result<Principal, HTTPError> {
        guard let header = request.headers["authorization"] else {
            return .failure(Self.unauthorized("This endpoint needs 'Authorization: Bearer <token>'."))
        }
        // RFC 6750 §2.1: "Bearer" 1*SP b64token. The header's own leading and trailing
        // whitespace is already gone (RFC 9110 §5.5).
        let scheme = header.utf8.prefix { $0 != UInt8(ascii: " ") }
        let token = header.utf8.dropFirst(scheme.count).drop { $0 == UInt8(ascii: " ") }
        // ASCII letters compare case-insensitively with their 0x20 bit set.
        guard scheme.count == 6, zip(scheme, "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }), !token.isEmpty,
              !token.contains(UInt8(ascii: " ")) else {
            return .failure(Self.unauthorized("The Authorization header must be 'Bearer <token>'."))
        }
        let presented = Tokens.digest(String(Substring(token)))
        if constantTimeEquals(presented, adminDigest) { return .success(.admin) }
        if let source = store.source(tokenDigest: presented) { return .success(.source(source)) }
        if let token = store.tenantToken(digest: presented) {
            guard !token.isExpired(at: wallClockMicroseconds()) else { return .failure(Self.unauthorized("The token has expired.")) }
            return .success(.tenant(token.tenantID))
        }
        return .failure(Self.unauthorized("The token is not valid."))
    }

    /// Authenticates a route the admin and tenants may call: whose subscriptions the caller
    /// may see. Throws for anyone else.
    func owner(_ request: HTTPRequest) throws(HTTPError) -> Ownership {
        switch authenticate(request) {
        case .success(.admin): return .admin
        case .success(.tenant(let id)): return .tenant(id)
        case .success(.source(let name)):
            throw HTTPError(403, "The token of source '\(name)' may only publish events; this needs the admin token or a tenant token.")
        case .failure(let error): throw error
        }
    }

    /// Throws unless the request carries the admin token (`requireAdmin`'s refusal).
    func admin(_ request: HTTPRequest) throws(HTTPError) {
        if let refusal = requireAdmin(request) { throw refusal }
    }

    /// Authenticates and requires the admin.
    func requireAdmin(_ request: HTTPRequest) -> HTTPError? {
        switch authenticate(request) {
        case .success(.admin): return nil
        case .success(.source(let name)):
            return HTTPError(403, "The token of source '\(name)' may only publish events; this needs the admin token.")
        case .success(.tenant):
            return HTTPError(403, "A tenant token may manage only its own subscriptions (and read what was delivered to them); this needs the admin token.")
        case .failure(let error): return error
        }
    }

    private static func unauthorized(_ detail: String) -> HTTPError {
        HTTPError(401, detail, headers: ["WWW-Authenticate": #"Bearer realm="webhook-gateway""#])
    }
}
