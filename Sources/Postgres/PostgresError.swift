/// A failure of PostgreSQL or of the connection to it. `message` is PostgreSQL's own (never
/// a parameter's value: statements are sent with parameters, not spliced text).
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// The SQLSTATE code when the server answered with an error (`23505`: a unique
    /// constraint), nil when the connection failed.
    public let sqlState: String?
    public let message: String
    /// True when the connection is gone (refused, reset, the server shut down): the
    /// statement's outcome is unknown unless it never left, and the connection must be
    /// made again.
    public let connectionLost: Bool

    public init(sqlState: String?, message: String, connectionLost: Bool) {
        self.sqlState = sqlState
        self.message = message
        self.connectionLost = connectionLost
    }

    public var description: String {
        sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message
    }

    /// A unique constraint refused the row.
    public var isUniqueViolation: Bool { sqlState == "23505" }
}
