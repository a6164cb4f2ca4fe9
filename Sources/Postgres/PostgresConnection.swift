#if canImport(Glibc)
import Glibc
#endif
import CLibpq

/// One connection to PostgreSQL through libpq, used by one thread at a time (libpq's rule:
/// a `PGconn` is not shared). Statements are sent with binary parameters and read back with
/// binary results; a connection that broke says so in its errors (`connectionLost`), and
/// the caller makes a new one.
public final class PostgresConnection: @unchecked Sendable {
    private var connection: OpaquePointer?

    /// Connects to `url` (a `postgresql://` URL or a libpq keyword string). `applicationName`
    /// shows in `pg_stat_activity`, which is how an operator tells the nodes apart.
    public init(url: String, applicationName: String = "gatewayd", connectTimeoutSeconds: Int = 5) throws(PostgresError) {
        // URL first, then the options a gateway always wants, as libpq keywords: later
        // keywords win, so the operator's URL cannot turn keepalives off by accident, but
        // its own connect_timeout does hold (expand_dbname only applies to the first).
        let keys = ["dbname", "application_name", "connect_timeout", "keepalives", "keepalives_idle",
                    "keepalives_interval", "keepalives_count"]
        let values = [url, applicationName, String(connectTimeoutSeconds), "1", "5", "2", "3"]
        let made = Self.withCStrings(keys) { keyPointers in
            Self.withCStrings(values) { valuePointers in
                PQconnectdbParams(keyPointers, valuePointers, 1)
            }
        }
        guard let made else {
            throw PostgresError(sqlState: nil, message: "out of memory connecting to PostgreSQL", connectionLost: true)
        }
        guard PQstatus(made) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(made))
            PQfinish(made)
            throw PostgresError(sqlState: nil, message: message, connectionLost: true)
        }
        connection = made
    }

    deinit { close() }

    public func close() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    /// False once the connection broke (or was closed).
    public var isHealthy: Bool {
        guard let connection else { return false }
        return PQstatus(connection) == CONNECTION_OK
    }

    /// The server's version number (150004 for 15.4).
    public var serverVersion: Int { connection.map { Int(PQserverVersion($0)) } ?? 0 }

    /// Runs one statement with parameters (`$1`, `$2`, …) and returns its rows.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> PostgresRows {
        guard let connection else { throw Self.closedError }
        let encoded = parameters.map(\.encoded)
        let types = parameters.map(\.oid)
        let lengths = encoded.map { Int32($0?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: parameters.count)
        let result: OpaquePointer? = withParameterPointers(encoded) { values in
            PQexecParams(connection, sql, Int32(parameters.count), types, values, lengths, formats, 1)
        }
        return try rows(of: result)
    }

    /// Runs statements given as text without parameters (`BEGIN`, `COMMIT`, a migration
    /// script); the rows of the last one, in text format.
    @discardableResult
    public func run(_ sql: String) throws(PostgresError) -> PostgresRows {
        guard let connection else { throw Self.closedError }
        return try rows(of: PQexec(connection, sql))
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// The COMMIT is where durability is decided (`synchronous_commit`): its failure is
    /// thrown, and then nothing of `body` happened — unless the connection was lost during
    /// the COMMIT itself, when the outcome is unknown (`connectionLost`).
    public func transaction<T>(_ body: () throws(PostgresError) -> T) throws(PostgresError) -> T {
        try run("BEGIN")
        let value: T
        do {
            value = try body()
        } catch {
            if !error.connectionLost { _ = try? run("ROLLBACK") }
            throw error
        }
        try run("COMMIT")
        return value
    }

    // MARK: - Notifications

    /// A `NOTIFY` received: its channel and payload.
    public struct Notification: Sendable, Equatable {
        public var channel: String
        public var payload: String
    }

    /// Waits up to `timeoutMilliseconds` for notifications and returns them (empty on
    /// timeout). Throws when the connection broke.
    public func waitForNotifications(timeoutMilliseconds: Int32) throws(PostgresError) -> [Notification] {
        guard let connection else { throw Self.closedError }
        var channels = try takeNotifications(connection)
        guard channels.isEmpty else { return channels }
        var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        if ready > 0 { channels = try takeNotifications(connection) }
        return channels
    }

    private func takeNotifications(_ connection: OpaquePointer) throws(PostgresError) -> [Notification] {
        guard PQconsumeInput(connection) == 1 else {
            throw PostgresError(sqlState: nil, message: Self.trimmed(PQerrorMessage(connection)), connectionLost: true)
        }
        var received: [Notification] = []
        while let notification = PQnotifies(connection) {
            received.append(Notification(channel: String(cString: notification.pointee.relname),
                                         payload: String(cString: notification.pointee.extra)))
            PQfreemem(notification)
        }
        return received
    }

    // MARK: - Results

    private func rows(of result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
        guard let connection else { throw Self.closedError }
        guard let result else {
            throw PostgresError(sqlState: nil, message: Self.trimmed(PQerrorMessage(connection)),
                                connectionLost: PQstatus(connection) != CONNECTION_OK)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(result)
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
                ?? Self.trimmed(PQerrorMessage(connection))
            // Class 08 is a connection exception; 57P01-03 are the server shutting down.
            let lost = PQstatus(connection) != CONNECTION_OK || state?.hasPrefix("08") == true || state?.hasPrefix("57P") == true
            throw PostgresError(sqlState: state, message: message, connectionLost: lost)
        }
    }

    private static let closedError = PostgresError(sqlState: nil, message: "the connection to PostgreSQL is closed", connectionLost: true)

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown libpq error" }
        var text = String(cString: message)
        while text.last?.isNewline == true { text.removeLast() }
        return text.isEmpty ? "unknown libpq error" : text
    }

    /// Each value's bytes copied to a buffer that stays in place for the duration of `body`.
    private func withParameterPointers<R>(_ values: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let buffers: [UnsafeMutablePointer<UInt8>?] = values.map { bytes in
            guard let bytes else { return nil }
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count))
            buffer.initialize(from: bytes, count: bytes.count)
            return buffer
        }
        defer { buffers.forEach { $0?.deallocate() } }
        return body(buffers.map { $0.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) } })
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
