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

    /// A change could not be stored: nothing changed; try again later, unless the store
    /// refused it for what was stored meanwhile.
    static func notStored(_ failure: StoreError) -> GatewayError {
        switch failure.kind {
        case .conflict: GatewayError(status: 409, detail: failure.message)
        case .invalid: GatewayError(status: 422, detail: failure.message)
        case .notFound: GatewayError(status: 404, detail: failure.message)
        case .unavailable, .corrupt: GatewayError(status: 503, detail: "The change was not stored: \(failure).", retryAfter: 30)
        }
    }
}

/// A store read on a request's or an operation's behalf: a store that cannot read is 503
/// (500 for data it cannot read back as written), not a verdict on the request.
func readingStore<T>(_ body: () throws(StoreError) -> T) throws(GatewayError) -> T {
    do {
        return try body()
    } catch {
        switch error.kind {
        case .unavailable: throw GatewayError(status: 503, detail: "The store cannot be read: \(error).", retryAfter: 30)
        case .corrupt: throw GatewayError(status: 500, detail: "Stored data cannot be read back: \(error).")
        case .conflict, .invalid, .notFound: throw GatewayError.notStored(error)
        }
    }
}
