import JSONSchema

/// Why the gateway refused an operation (invalid input, a conflict, storage unavailable);
/// the API answers it as a problem document with this status and detail.
public struct GatewayError: Error, Sendable {
    public var status: Int
    public var detail: String
    /// Schema violations, listed in the problem document's `errors`.
    public var violations: [SchemaViolation] = []
    /// Seconds after which a retry may succeed (storage unavailable).
    public var retryAfter: Int? = nil

    public init(status: Int, detail: String, violations: [SchemaViolation] = [], retryAfter: Int? = nil) {
        self.status = status
        self.detail = detail
        self.violations = violations
        self.retryAfter = retryAfter
    }

    static func invalid(_ detail: String) -> GatewayError { GatewayError(status: 422, detail: detail) }
    static func notFound(_ detail: String) -> GatewayError { GatewayError(status: 404, detail: detail) }
    static func conflict(_ detail: String) -> GatewayError { GatewayError(status: 409, detail: detail) }

    /// A change could not be stored: nothing changed, try again later.
    static func notStored(_ failure: StoreError) -> GatewayError {
        GatewayError(status: 503, detail: "The change was not stored: \(failure).", retryAfter: 30)
    }
}
