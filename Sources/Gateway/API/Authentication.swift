import Runtime
import Crypto
import HTTPServer

/// Who is calling. The admin may do everything; a source may only publish, as itself.
enum Principal: Equatable {
    case admin
    case source(String)
}

/// Bearer-token checks. Tokens are compared as SHA-256 digests in constant time, so neither
/// the comparison's duration nor a log line can leak them.
public struct Authenticator: Sendable {
    private let adminDigest: [UInt8]
    private let state: GatewayState

    public init(adminToken: String, state: GatewayState) {
        adminDigest = Self.digest(adminToken)
        self.state = state
    }

    static func digest(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// The caller, or the problem response to send instead.
    func authenticate(_ request: HTTPRequest) -> Result<Principal, HTTPError> {
        guard let header = request.headers["authorization"] else {
            return .failure(Self.unauthorized("This endpoint needs 'Authorization: Bearer <token>'."))
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            return .failure(Self.unauthorized("The Authorization header must be 'Bearer <token>'."))
        }
        let presented = Self.digest(String(parts[1]))
        if constantTimeEquals(presented, adminDigest) { return .success(.admin) }
        if let source = state.source(tokenDigest: presented) { return .success(.source(source)) }
        return .failure(Self.unauthorized("The token is not valid."))
    }

    /// Authenticates and requires the admin.
    func requireAdmin(_ request: HTTPRequest) -> HTTPError? {
        switch authenticate(request) {
        case .success(.admin): return nil
        case .success(.source(let name)):
            return HTTPError(403, "The token of source '\(name)' may only publish events; this needs the admin token.")
        case .failure(let error): return error
        }
    }

    private static func unauthorized(_ detail: String) -> HTTPError {
        HTTPError(401, detail, headers: ["WWW-Authenticate": #"Bearer realm="webhook-gateway""#])
    }
}
