import CCurl

/// One webhook POST for `CurlMultiEngine` to make.
public struct DeliveryRequest: Sendable {
    /// The caller's id for this attempt, handed back unchanged in its `DeliveryResult`.
    public var tag: UInt64
    /// An `http` or `https` URL; any other scheme fails as `.invalidRequest`.
    public var url: String
    /// Sent in order as `name: value`. Without a `Content-Type` the engine sends
    /// `Content-Type: application/json` (libcurl would send a form type for a POST). A CR, LF
    /// or NUL anywhere, or a `:` or space in a name, fails the request as `.invalidRequest`
    /// before anything is sent: such a header would let a value inject header lines.
    public var headers: [(name: String, value: String)]
    /// The payload, shared rather than copied: libcurl reads it in place (`CURLOPT_POSTFIELDS`)
    /// and the engine holds this array until the transfer ends.
    public var body: [UInt8]
    /// Overrides the engine's `connectTimeout` for this request.
    public var connectTimeout: Duration?
    /// Overrides the engine's `timeout` (whole exchange) for this request.
    public var timeout: Duration?

    public init(
        tag: UInt64, url: String, headers: [(name: String, value: String)] = [], body: [UInt8],
        connectTimeout: Duration? = nil, timeout: Duration? = nil
    ) {
        self.tag = tag
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.timeout = timeout
    }
}

/// How one delivery attempt ended. The attempt succeeded when `error` is nil and `status` is
/// 2xx; anything else is the scheduler's to judge (DESIGN.md "Delivering a webhook").
public struct DeliveryResult: Sendable {
    /// The request's `tag`.
    public let tag: UInt64
    /// The HTTP status, nil when no response arrived. It can be set together with `error`
    /// when the failure came after the status line (a timeout while reading the body).
    public let status: Int?
    /// Why the exchange failed; nil when a complete response was read.
    public let error: DeliveryError?
    /// From the start of the transfer (not from `submit`) until it ended; zero for a request
    /// that never started (rejected as given, or stopped while queued).
    public let duration: Duration
    /// The first `responseBodyLimit` bytes of the response body; the rest is read and dropped.
    public let responseBody: [UInt8]
    /// The `Retry-After` header of the final response, as sent (seconds or an HTTP date).
    public let retryAfter: String?

    /// A complete 2xx response.
    public var isSuccess: Bool {
        guard error == nil, let status else { return false }
        return (200..<300).contains(status)
    }
}

/// Why a delivery attempt failed, with libcurl's own message when libcurl reported it.
public struct DeliveryError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No connection: the name did not resolve, or the peer refused or was unreachable.
        case connect
        /// The connect timeout or the whole-exchange timeout ran out.
        case timeout
        /// The TLS handshake failed, including a certificate that did not verify.
        case tls
        /// `addressCheck` refused every address the host resolved to; nothing was sent.
        case blocked
        /// The request cannot be sent as given (malformed URL, unsupported scheme, a header
        /// with a line break); retrying will not help.
        case invalidRequest
        /// The engine was shut down before the transfer finished (or started).
        case stopped
        /// Anything else: the peer closed the connection, sent garbage, a send or receive
        /// failed mid-way.
        case other
    }

    public let kind: Kind
    /// libcurl's message (`Failed to connect to 127.0.0.1 port 9 after 0 ms: Connection
    /// refused`, `Operation timed out after 200 milliseconds with 0 bytes received`) or the
    /// engine's own (`refused to connect to 127.0.0.1: address not allowed`, `engine stopped`).
    public let message: String
    /// libcurl's `CURLcode` when the failure came from libcurl, else nil.
    public let curlCode: Int?

    public init(kind: Kind, message: String, curlCode: Int? = nil) {
        self.kind = kind
        self.message = message
        self.curlCode = curlCode
    }

    public var description: String { message }

    static func kind(of code: CURLcode) -> Kind {
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .connect
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND,
             CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED,
             CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            return .tls
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return .invalidRequest
        default:
            return .other
        }
    }
}
