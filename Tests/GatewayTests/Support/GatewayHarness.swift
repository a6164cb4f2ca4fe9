import Foundation
@testable import Gateway
import HTTPServer
import Logging
import TargetPolicy
import TestSupport

/// A real gateway — journal on disk, HTTP server on 127.0.0.1 port 0 — in a scratch
/// directory that outlives restarts of the gateway and is removed at the end.
///
/// With `GATEWAY_TEST_BACKEND=postgres` the same gateway runs as a cluster node instead, on a
/// database of its own in a throwaway PostgreSQL (`make test` runs the API suites that way
/// too, so every route is checked on both backends).
final class GatewayHarness {
    static let adminToken = "adm_test_token"

    enum Backend {
        case journal, postgres
    }

    static let backend: Backend = ProcessInfo.processInfo.environment["GATEWAY_TEST_BACKEND"] == "postgres" ? .postgres : .journal
    /// For tests of the journal's own workings (segments, snapshots, the maintainer).
    static let onJournal = backend == .journal

    /// The settings tests change, split between the core and the store when it starts.
    struct Settings {
        var requireEventTypes = false
        var maxBatchEvents = GatewayCore.Configuration().maxBatchEvents
        var idempotencyWindow = JournalStore.Configuration(directory: "").idempotencyWindow
        var segmentSize = JournalStore.Configuration(directory: "").segmentSize
        var retention = RetentionPolicy()
        /// Long by default, so tests that run a maintenance pass themselves are not raced.
        var maintenanceInterval: Duration = .seconds(3600)
        // Tests point subscriptions at loopback receivers and at names that cannot resolve
        // offline; the target policy has its own tests.
        var targetPolicy = TargetAddressPolicy(allowPrivate: true)
        var ingestObserver: (any IngestObserver)?
        var journalObserver: (any JournalObserver)?
        var tenantDefaults = TenantDefaults()
        /// Cluster mode: the log's partition period (a new database only).
        var partitionPeriod: Duration = .seconds(24 * 3600)
    }

    let directory: String
    private(set) var core: GatewayCore!
    private(set) var store: (any FoldBackedStore)!
    /// The embedded store, for tests of the journal itself (`.enabled(if: GatewayHarness.onJournal)`).
    var journal: JournalStore! { store as? JournalStore }
    /// The cluster backend's database (kept across restarts), nil on the journal.
    private(set) var databaseURL: String?
    let nodeID: String
    /// The cluster node's store, nil on the journal.
    var cluster: PostgresStore! { store as? PostgresStore }
    private(set) var server: HTTPServer!
    private(set) var port: UInt16 = 0
    var configure: (inout Settings, inout HTTPServerConfiguration) -> Void

    /// `database`: run as a cluster node on it whatever the backend (several harnesses on one
    /// database are several nodes of one cluster).
    init(directory: String? = nil, database: String? = nil, nodeID: String = "test-node",
         configure: @escaping (inout Settings, inout HTTPServerConfiguration) -> Void = { _, _ in }) throws {
        self.directory = directory ?? NSTemporaryDirectory() + "gateway-test-" + UUID().uuidString
        self.configure = configure
        self.nodeID = nodeID
        databaseURL = database
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        if databaseURL == nil && Self.backend == .postgres { databaseURL = try TestPostgres.shared().freshDatabase() }
        try start()
    }

    func start() throws {
        var settings = Settings()
        var serverConfiguration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
        serverConfiguration.eventLoopCount = 1
        configure(&settings, &serverConfiguration)
        let logger = Logger(label: "gateway-test") { _ in SwiftLogNoOpLogHandler() }
        if let databaseURL {
            var clusterConfiguration = PostgresStore.Configuration(url: databaseURL, nodeID: nodeID)
            clusterConfiguration.idempotencyWindow = settings.idempotencyWindow
            clusterConfiguration.retention = settings.retention
            clusterConfiguration.maintenanceInterval = settings.maintenanceInterval
            clusterConfiguration.partitionPeriod = settings.partitionPeriod
            store = try PostgresStore(configuration: clusterConfiguration, logger: logger)
        } else {
            var storeConfiguration = JournalStore.Configuration(directory: directory + "/journal")
            storeConfiguration.idempotencyWindow = settings.idempotencyWindow
            storeConfiguration.segmentSize = settings.segmentSize
            storeConfiguration.retention = settings.retention
            storeConfiguration.maintenanceInterval = settings.maintenanceInterval
            storeConfiguration.journalObserver = settings.journalObserver
            store = try JournalStore(configuration: storeConfiguration, logger: logger)
        }
        var coreConfiguration = GatewayCore.Configuration()
        coreConfiguration.requireEventTypes = settings.requireEventTypes
        coreConfiguration.maxBatchEvents = settings.maxBatchEvents
        coreConfiguration.targetPolicy = settings.targetPolicy
        coreConfiguration.ingestObserver = settings.ingestObserver
        coreConfiguration.tenantDefaults = settings.tenantDefaults
        core = try GatewayCore(configuration: coreConfiguration, store: store)
        var router = Router()
        GatewayAPI.register(on: &router, core: core, adminToken: Self.adminToken)
        server = HTTPServer(configuration: serverConfiguration, responder: router, logger: logger)
        port = try server.start().port
    }

    func stop() {
        server?.shutdown(gracePeriod: .seconds(2))
        server?.wait()
        core?.close()
        server = nil
        core = nil
        store = nil
    }

    func restart() throws {
        stop()
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// One request, its answer checked against openapi.yaml: a status the spec does not list
    /// for the operation, or a body not of the spec's media type and schema for that status,
    /// throws `ContractViolation` (so every API test checks the contract as it goes).
    func request(
        _ method: String, _ path: String, token: String? = GatewayHarness.adminToken,
        headers: [(String, String)] = [], body: String? = nil, contentType: String? = "application/json"
    ) throws -> TestResponse {
        let response = try HTTPTestClient.request(port: port, method, path, token: token, headers: headers, body: body, contentType: contentType)
        try OpenAPIContract.repository.verify(method, path, response)
        return response
    }
}
