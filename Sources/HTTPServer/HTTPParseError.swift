/// Why a request could not be framed. Each maps to the status RFC 9112 asks for; the
/// connection answers with it as problem+json and then closes, since the framing of anything
/// that follows can no longer be trusted.
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: Int
    public let detail: String

    public init(status: Int, detail: String) {
        self.status = status
        self.detail = detail
    }

    public var description: String { "\(status): \(detail)" }

    static func bad(_ detail: String) -> HTTPParseError { HTTPParseError(status: 400, detail: detail) }
}

/// Size limits the parser enforces while reading, before buffering anything too large.
public struct HTTPParserLimits: Sendable, Equatable {
    /// Longest request-target accepted; longer gets `414 URI Too Long`.
    public var maxRequestTargetLength: Int = 8 * 1024
    /// Largest request line plus header section (and trailer section); larger gets `431`.
    public var maxHeaderBytes: Int = 32 * 1024
    /// Most header fields (and trailer fields) in one request; more gets `431`.
    public var maxHeaderFields: Int = 100
    /// Largest body after de-chunking; larger gets `413 Content Too Large`.
    public var maxBodyBytes: Int = 1024 * 1024

    public init(
        maxRequestTargetLength: Int = 8 * 1024, maxHeaderBytes: Int = 32 * 1024,
        maxHeaderFields: Int = 100, maxBodyBytes: Int = 1024 * 1024
    ) {
        self.maxRequestTargetLength = maxRequestTargetLength
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderFields = maxHeaderFields
        self.maxBodyBytes = maxBodyBytes
    }
}
