#if canImport(Glibc)
import Glibc
#endif
import Logging
import Postgres
import Runtime
import Synchronization

/// Folds what other nodes append, as soon as they commit: it listens on `gateway_log`, which
/// every append notifies once per transaction (so a burst of writes is one notification per
/// group, not per event), and looks anyway every `pollInterval` in case a notification was
/// lost with a connection. Config changes made through any node reach this one that way.
final class ClusterTailer: Sendable {
    private let folder: ClusterFolder
    private let connector: ClusterConnector
    private var nodeID: String { connector.nodeID }
    private let pollInterval: Duration
    private let logger: Logger
    private let stopping = Atomic(false)
    private let thread = Mutex<pthread_t?>(nil)
    private let failure = Mutex<String?>(nil)

    init(folder: ClusterFolder, connector: ClusterConnector, pollInterval: Duration, logger: Logger) throws(SystemError) {
        self.folder = folder
        self.connector = connector
        self.pollInterval = pollInterval
        self.logger = logger
        let handle = try spawnThread(name: "cluster-tailer") { [self] in run() }
        thread.withLock { $0 = handle }
    }

    /// Why this node cannot follow the cluster now, nil while it can.
    var unavailableReason: String? { failure.withLock { $0 } }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        if let handle = thread.withLock({ $0 }) { pthread_join(handle, nil) }
        thread.withLock { $0 = nil }
    }

    private func run() {
        var connection: PostgresConnection?
        var due = true
        var lastLook: Int64 = 0
        let wait = Int32(clamping: pollInterval.microseconds / 1000)
        while !stopping.load(ordering: .relaxed) {
            do throws(PostgresError) {
                let open: PostgresConnection
                if let connection { open = connection } else {
                    open = try connector.connect(role: "tailer")
                    try open.run("LISTEN gateway_log")
                    connection = open
                    if failure.withLock({ $0 }) != nil { logger.notice("reconnected to the cluster's database") }
                }
                if due || monotonicMicroseconds() - lastLook >= pollInterval.microseconds {
                    try folder.catchUp(using: open)
                    lastLook = monotonicMicroseconds()
                }
                failure.withLock { $0 = nil }
                // This node's own appends it folds as it commits them: their notifications
                // would only read them back. Others' wake it at once; silence, every poll.
                let notified = try open.waitForNotifications(timeoutMilliseconds: max(10, wait))
                due = notified.isEmpty || notified.contains { $0.payload != nodeID }
            } catch {
                if failure.withLock({ $0 }) == nil {
                    logger.warning("lost the cluster's database; reconnecting", metadata: ["error": "\(error)"])
                }
                failure.withLock { $0 = "PostgreSQL is unreachable: \(error.message)" }
                connection = nil
                due = true
                // Not faster than the poll: a database that is down is asked about once a period.
                usleep(UInt32(clamping: max(100_000, min(1_000_000, pollInterval.microseconds))))
            }
        }
    }
}
