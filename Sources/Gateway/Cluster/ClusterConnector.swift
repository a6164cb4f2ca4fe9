import Synchronization
import Postgres

/// Makes this node's connections to the cluster's database, each named in
/// `pg_stat_activity` by node and role, with `synchronous_commit = on` whatever the server's
/// default: a COMMIT that returned is on the disk (and on the synchronous standby, where one
/// is configured) — what a 202 promises.
struct ClusterConnector: Sendable {
    let url: String
    let nodeID: String

    func connect(role: String) throws(PostgresError) -> PostgresConnection {
        let connection = try PostgresConnection(url: url, applicationName: "gatewayd \(nodeID) \(role)")
        try connection.run("SET synchronous_commit = on")
        return connection
    }
}

/// Connections for reads on threads that come and go (the API's event loops): one is taken
/// for a read and given back after, so a few serve every loop.
final class ClusterReadPool: Sendable {
    private let connector: ClusterConnector
    private let idle = Mutex<[PostgresConnection]>([])

    init(connector: ClusterConnector) {
        self.connector = connector
    }

    func read<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(StoreError) -> T {
        do throws(PostgresError) {
            let connection: PostgresConnection
            if let kept = idle.withLock({ $0.popLast() }) { connection = kept } else { connection = try connector.connect(role: "reader") }
            let value = try body(connection)
            if connection.isHealthy { idle.withLock { if $0.count < 8 { $0.append(connection) } } }
            return value
        } catch {
            throw StoreError(.unavailable, "the cluster's database cannot be read now (\(error.message))")
        }
    }

    func close() { idle.withLock { $0.removeAll() } }
}
