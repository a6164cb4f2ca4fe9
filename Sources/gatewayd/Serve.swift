import ArgumentParser
import Delivery
import Foundation
import Gateway
import GatewayMetrics
import HTTPServer
import Logging
import Runtime
import TargetPolicy
#if canImport(Glibc)
import Glibc
#endif

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway: listen for HTTP and serve the API until SIGTERM or SIGINT.",
        discussion: """
            Every setting comes from a flag, a GATEWAY_* environment variable or the JSON file \
            named by --config (GATEWAY_CONFIG), in that order of precedence, else its default. \
            Durations take a unit (250ms, 30s, 10m, 36h, 7d); sizes may (4096, 32KiB, 64MiB, 10GiB). \
            `gatewayd config print` shows the effective values and where each came from.
            """
    )

    @OptionGroup var options: ServeOptions

    /// The settings from the flags, the environment and the config file, checked; a bad one
    /// ends the process with one line naming it and its source (exit 78, EX_CONFIG).
    static func loadSettings(
        _ options: ServeOptions, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SettingError) -> ServeConfiguration {
        let raw = try SettingsResolver.resolve(flags: options.given, configFlag: options.config, environment: environment)
        return try ServeConfiguration(raw)
    }

    /// Writes `gatewayd: <problem>` on stderr and exits with EX_CONFIG: no usage dump, no
    /// stack trace, one line an operator can act on.
    static func refuse(_ error: SettingError) -> ExitCode {
        let line = "gatewayd: \(error)\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        return ExitCode(78)
    }

    func run() throws {
        // Block the shutdown signals first thing, before any thread exists (the journal
        // writer, the URL checkers, the dispatcher and libcurl threads all start below), so
        // every thread inherits the mask and only `sigwait` at the end ever sees them: a
        // SIGTERM delivered to another thread would otherwise kill the process ungracefully.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let settings: ServeConfiguration
        do {
            settings = try Self.loadSettings(options)
            try DataDirectory.prepare(settings.dataDir, source: settings.source(of: "data-dir"))
        } catch {
            throw Self.refuse(error)
        }
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, format: settings.logFormat, level: settings.logLevel)
        }
        let logger = Logger(label: "gatewayd")
        let dataDir = settings.dataDir
        let metrics = GatewayMetrics()
        metrics.bootstrapMetricsSystem()

        var configuration = HTTPServerConfiguration(address: settings.listen)
        if let eventLoops = settings.eventLoops { configuration.eventLoopCount = eventLoops }
        configuration.maxConnections = settings.maxConnections
        configuration.limits.maxBodyBytes = settings.maxBodySize
        configuration.limits.maxHeaderBytes = settings.maxHeaderSize
        configuration.headerReadTimeout = settings.headerTimeout
        configuration.bodyReadTimeout = settings.bodyTimeout
        configuration.keepAliveTimeout = settings.keepAliveTimeout
        configuration.writeTimeout = settings.writeTimeout

        var coreConfiguration = GatewayCore.Configuration()
        coreConfiguration.requireEventTypes = settings.requireEventTypes
        coreConfiguration.maxBatchEvents = settings.maxBatchEvents
        coreConfiguration.tenantDefaults = settings.tenantDefaults
        coreConfiguration.ingestObserver = metrics.ingest
        coreConfiguration.inboundObserver = metrics.inbound
        let targets = settings.targets
        coreConfiguration.targetPolicy = targets
        var dispatcherConfiguration = WebhookDispatcher.Configuration()
        let store = try Self.openStore(settings, metrics: metrics, transferTimeout: dispatcherConfiguration.engine.timeout, logger: logger)
        let core = try GatewayCore(configuration: coreConfiguration, store: store)
        let token = try AdminToken.resolve(configured: settings.adminToken, dataDirectory: dataDir)
        logger.info("delivery transport", metadata: ["libcurl": "\(Libcurl.version)"])

        // Checked again when connecting: a name may resolve elsewhere by then (DNS rebinding).
        dispatcherConfiguration.engine.addressCheck = { peer in targets.check(peer.ip) == nil }
        dispatcherConfiguration.observer = metrics.delivery
        dispatcherConfiguration.tenantDeliveryRateLimit = settings.tenantDefaults.deliveryRateLimit
        let dispatcher = WebhookDispatcher(
            store: store.deliveries, status: core.deliveryStatus, configuration: dispatcherConfiguration, logger: logger)
        try dispatcher.start()
        core.readiness.register("delivery") { dispatcher.notRunningReason }

        var router = Router()
        GatewayAPI.register(on: &router, core: core, adminToken: token.value)
        MetricsAPI.register(on: &router, metrics: metrics)
        metrics.watch(core: core, journal: store as? JournalStore)
        configuration.observer = metrics.http(for: router)

        let server = HTTPServer(configuration: configuration, responder: router, logger: logger)
        let bound: SocketAddress
        do {
            bound = try server.start()
        } catch {
            // Most often EADDRINUSE: name the setting, not just the system call.
            dispatcher.shutdown()
            core.close()
            throw Self.refuse(SettingError(
                setting: "listen", source: settings.source(of: "listen"),
                reason: "cannot listen on \(settings.listen): \(String(cString: strerror(error.errno)))"))
        }
        // Written straight to fd 1 so it is seen at once even when stdout is a pipe.
        let storage = (store as? PostgresStore).map { "cluster node \($0.nodeID) on PostgreSQL" } ?? "data dir \(dataDir)"
        var banner = "gatewayd listening on http://\(bound) (\(storage))\n"
        if token.generated {
            banner += "admin token (shown once, stored in \(dataDir)/admin-token): \(token.value)\n"
        }
        _ = banner.withCString { write(STDOUT_FILENO, $0, strlen($0)) }

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("shutting down", metadata: ["signal": "\(received == SIGTERM ? "SIGTERM" : "SIGINT")"])
        server.shutdown(gracePeriod: settings.shutdownGrace)
        server.wait()
        dispatcher.shutdown()
        core.close()
        if let journal = store as? JournalStore {
            let statistics = journal.statistics
            logger.info("stopped", metadata: [
                "journal-records": "\(statistics.records)", "journal-syncs": "\(statistics.syncs)",
                "records-per-sync": "\(statistics.syncs == 0 ? 0 : Double(statistics.records) / Double(statistics.syncs))",
            ])
        } else {
            logger.info("stopped")
        }
    }

    /// The embedded journal in the data dir, or a cluster node's store on PostgreSQL with
    /// `--database-url`. Exits 70 when it cannot be opened (78 for a setting at fault).
    static func openStore(
        _ settings: ServeConfiguration, metrics: GatewayMetrics, transferTimeout: Duration, logger: Logger
    ) throws -> any GatewayStore {
        let started = ContinuousClock.now
        if let url = settings.databaseURL {
            var configuration = PostgresStore.Configuration(url: url, nodeID: settings.nodeID ?? defaultNodeID(settings.listen))
            configuration.idempotencyWindow = settings.idempotencyWindow
            configuration.leaseDuration = settings.leaseDuration
            configuration.transferTimeout = transferTimeout
            configuration.retention = settings.retention
            do {
                let store = try PostgresStore(configuration: configuration, logger: logger)
                logger.info("joined the cluster", metadata: [
                    "node": "\(store.nodeID)", "events": "\(store.eventCount)", "took": "\(ContinuousClock.now - started)",
                ])
                return store
            } catch .configuration(let problem) {
                throw refuse(SettingError(setting: "lease-duration", source: settings.source(of: "lease-duration"), reason: problem))
            } catch {
                logger.critical("cannot open the cluster's database", metadata: ["error": "\(error)"])
                throw ExitCode(70)
            }
        }
        var configuration = JournalStore.Configuration(directory: settings.dataDir + "/journal")
        configuration.idempotencyWindow = settings.idempotencyWindow
        configuration.segmentSize = settings.segmentSize
        configuration.retention = settings.retention
        configuration.journalObserver = metrics.journal
        let store: JournalStore
        do {
            store = try JournalStore(configuration: configuration, logger: logger)
        } catch {
            logger.critical("cannot open the journal", metadata: ["error": "\(error)"])
            throw ExitCode(70)
        }
        let recovery = store.recovery
        logger.info("journal recovered", metadata: [
            "segments": "\(recovery.segments)", "records": "\(recovery.records)", "events": "\(store.eventCount)",
            "truncated-bytes": "\(recovery.truncatedBytes)", "took": "\(ContinuousClock.now - started)",
        ])
        return store
    }

    /// A node's name when none is set: the host name and the port it listens on, unique
    /// among nodes on one host.
    static func defaultNodeID(_ listen: SocketAddress) -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0
            ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "node"
        return "\(host):\(listen.port)"
    }
}

enum DataDirectory {
    /// Creates the directory (and parents) if needed and checks it is writable, so a bad
    /// path fails at start with a clear message rather than at the first write.
    static func prepare(_ path: String, source: SettingSource? = nil) throws(SettingError) {
        var built = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            built += "/\(component)"
            if mkdir(built, 0o750) != 0 && errno != EEXIST {
                throw SettingError(setting: "data-dir", source: source,
                                   reason: "cannot create \(built): \(String(cString: strerror(errno)))")
            }
        }
        guard access(path, W_OK) == 0 else {
            throw SettingError(setting: "data-dir", source: source, reason: "\(path) is not writable")
        }
    }
}

/// The admin token: the `admin-token` setting (flag, GATEWAY_ADMIN_TOKEN or config file),
/// else the data dir's `admin-token` file, else a new one written there (mode 0600) and
/// reported once.
enum AdminToken {
    static func resolve(configured: String?, dataDirectory: String) throws -> (value: String, generated: Bool) {
        if let configured, !configured.isEmpty { return (configured, false) }
        let path = dataDirectory + "/admin-token"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let token = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty { return (token, false) }
        }
        let token = Tokens.generate(prefix: "adm_")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(path): \(SystemError(call: "open", errno: errno))") }
        defer { close(fd) }
        let line = token + "\n"
        let written = line.withCString { write(fd, $0, strlen($0)) }
        guard written == line.utf8.count, fsync(fd) == 0 else {
            throw ValidationError("cannot write \(path): \(SystemError(call: "write", errno: errno))")
        }
        return (token, true)
    }
}
