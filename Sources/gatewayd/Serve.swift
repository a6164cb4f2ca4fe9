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
        abstract: "Run the gateway: listen for HTTP and serve the API until SIGTERM or SIGINT."
    )

    @Option(help: "Address to listen on: HOST:PORT or [IPV6]:PORT. Port 0 picks a free port.")
    var listen = "127.0.0.1:8080"

    @Option(help: "Directory for the gateway's embedded storage; created if missing.")
    var dataDir = "./data"

    @Option(help: "Event-loop threads (default: one per CPU core).")
    var eventLoops: Int?

    @Option(help: "Most open client connections; past it new clients get 503.")
    var maxConnections = 10_000

    @Option(help: "Largest request body in bytes; larger gets 413.")
    var maxBodyBytes = 1024 * 1024

    @Option(help: "Largest request line plus headers in bytes; larger gets 431.")
    var maxHeaderBytes = 32 * 1024

    @Option(help: "Seconds a client has to send a request head before 408.")
    var headerTimeout: Double = 10

    @Option(help: "Seconds a client has to send a request body before 408.")
    var bodyTimeout: Double = 30

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var keepAliveTimeout: Double = 60

    @Option(help: "Seconds a response may make no progress before the connection is dropped.")
    var writeTimeout: Double = 30

    @Option(help: "Seconds in-flight requests get to finish after SIGTERM/SIGINT.")
    var shutdownGrace: Double = 10

    @Option(help: ArgumentHelp(
        "The admin token (also GATEWAY_ADMIN_TOKEN). Without either, one is generated at first start, stored in DATA_DIR/admin-token (mode 0600) and printed once.",
        valueName: "token"))
    var adminToken: String?

    @Flag(help: "Refuse events whose type is not registered (422); by default any valid type is accepted.")
    var requireEventTypes = false

    @Option(help: "Seconds a repeated Idempotency-Key or producer id answers with the original event.")
    var idempotencyWindow: Double = 24 * 3600

    @Option(help: "Most events in one POST /v1/events/batch.")
    var maxBatchEvents = 500

    @Option(help: "Journal segment size in MiB; a segment is sealed and a new one started past it.")
    var segmentSizeMb = 64

    @Option(help: ArgumentHelp(
        "How long events are kept (90s, 36h, 7d, ...). Sealed segments whose events are all older are deleted; events still pending for a subscriber or dead-lettered are carried forward first.",
        valueName: "duration"))
    var retention = "7d"

    @Option(help: ArgumentHelp(
        "Also delete the oldest sealed segments while the journal is larger than this (e.g. 10GiB); owed events are carried forward. Default: no size limit.",
        valueName: "size"))
    var retentionBytes: String?

    @Option(help: ArgumentHelp("How long dead letters are kept before they are discarded (e.g. 14d).", valueName: "duration"))
    var deadLetterRetention = "14d"

    @Flag(help: "Allow subscriptions to point at loopback, private, link-local and other non-public addresses (SSRF protection off).")
    var allowPrivateTargets = false

    @Option(name: .customLong("allow-target"), help: ArgumentHelp(
        "A CIDR range subscriptions may point at even though it is not public (repeatable), e.g. 10.1.0.0/16.",
        valueName: "cidr"))
    var allowTargets: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        for (name, value) in [("header-timeout", headerTimeout), ("body-timeout", bodyTimeout),
                              ("keep-alive-timeout", keepAliveTimeout), ("write-timeout", writeTimeout)] where value <= 0 {
            throw ValidationError("--\(name) must be a positive number of seconds")
        }
        // A body becomes one journal record, whose limit is 16 MiB.
        guard maxBodyBytes <= 16 * 1024 * 1024 - 4096 else {
            throw ValidationError("--max-body-bytes may be at most \(16 * 1024 * 1024 - 4096) (the journal's record limit)")
        }
        guard maxConnections > 0, maxBodyBytes >= 0, maxHeaderBytes >= 1024 else {
            throw ValidationError("--max-connections must be positive and --max-header-bytes at least 1024")
        }
        if let eventLoops, eventLoops < 1 { throw ValidationError("--event-loops must be at least 1") }
        guard idempotencyWindow > 0, maxBatchEvents > 0, segmentSizeMb > 0 else {
            throw ValidationError("--idempotency-window, --max-batch-events and --segment-size-mb must be positive")
        }
        _ = try retentionPolicy()
    }

    /// `--retention`, `--retention-bytes` and `--dead-letter-retention`, read.
    func retentionPolicy() throws -> RetentionPolicy {
        var policy = RetentionPolicy()
        guard let retention = HumanUnits.duration(retention) else {
            throw ValidationError("--retention: '\(retention)' is not a duration such as 90s, 36h or 7d")
        }
        guard let deadLetters = HumanUnits.duration(deadLetterRetention) else {
            throw ValidationError("--dead-letter-retention: '\(deadLetterRetention)' is not a duration such as 90s, 36h or 14d")
        }
        policy.retention = retention
        policy.deadLetterRetention = deadLetters
        if let retentionBytes {
            guard let bytes = HumanUnits.size(retentionBytes) else {
                throw ValidationError("--retention-bytes: '\(retentionBytes)' is not a size such as 512MiB or 10GiB")
            }
            policy.retentionBytes = bytes
        }
        return policy
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

        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "gatewayd")
        let metrics = GatewayMetrics()
        metrics.bootstrapMetricsSystem()

        let address: SocketAddress
        do {
            address = try SocketAddress(parsing: listen)
        } catch {
            throw ValidationError("--listen: \(error)")
        }
        try DataDirectory.prepare(dataDir)

        var configuration = HTTPServerConfiguration(address: address)
        if let eventLoops { configuration.eventLoopCount = eventLoops }
        configuration.maxConnections = maxConnections
        configuration.limits.maxBodyBytes = maxBodyBytes
        configuration.limits.maxHeaderBytes = maxHeaderBytes
        configuration.headerReadTimeout = .seconds(headerTimeout)
        configuration.bodyReadTimeout = .seconds(bodyTimeout)
        configuration.keepAliveTimeout = .seconds(keepAliveTimeout)
        configuration.writeTimeout = .seconds(writeTimeout)

        var storeConfiguration = JournalStore.Configuration(directory: dataDir + "/journal")
        storeConfiguration.idempotencyWindow = .seconds(idempotencyWindow)
        storeConfiguration.segmentSize = segmentSizeMb * 1024 * 1024
        storeConfiguration.retention = try retentionPolicy()
        storeConfiguration.journalObserver = metrics.journal
        var coreConfiguration = GatewayCore.Configuration()
        coreConfiguration.requireEventTypes = requireEventTypes
        coreConfiguration.maxBatchEvents = maxBatchEvents
        coreConfiguration.ingestObserver = metrics.ingest
        let targets: TargetAddressPolicy
        do {
            targets = try TargetAddressPolicy(allowPrivate: allowPrivateTargets, allowing: allowTargets)
        } catch {
            throw ValidationError("--allow-target: \(error)")
        }
        coreConfiguration.targetPolicy = targets
        let started = ContinuousClock.now
        let store: JournalStore
        do {
            store = try JournalStore(configuration: storeConfiguration, logger: logger)
        } catch {
            logger.critical("cannot open the journal", metadata: ["error": "\(error)"])
            throw ExitCode(70)
        }
        let recovery = store.recovery
        logger.info("journal recovered", metadata: [
            "segments": "\(recovery.segments)", "records": "\(recovery.records)", "events": "\(store.eventCount)",
            "truncated-bytes": "\(recovery.truncatedBytes)", "took": "\(ContinuousClock.now - started)",
        ])
        let core = try GatewayCore(configuration: coreConfiguration, store: store)
        let token = try AdminToken.resolve(flag: adminToken, dataDirectory: dataDir)
        logger.info("delivery transport", metadata: ["libcurl": "\(Libcurl.version)"])

        var dispatcherConfiguration = WebhookDispatcher.Configuration()
        // Checked again when connecting: a name may resolve elsewhere by then (DNS rebinding).
        dispatcherConfiguration.engine.addressCheck = { peer in targets.check(peer.ip) == nil }
        dispatcherConfiguration.observer = metrics.delivery
        let dispatcher = WebhookDispatcher(
            store: store, status: core.deliveryStatus, configuration: dispatcherConfiguration, logger: logger)
        try dispatcher.start()

        var router = Router()
        GatewayAPI.register(on: &router, core: core, adminToken: token.value)
        MetricsAPI.register(on: &router, metrics: metrics)
        metrics.watch(core: core, journal: store)
        configuration.observer = metrics.http(for: router)

        let server = HTTPServer(configuration: configuration, responder: router, logger: logger)
        let bound = try server.start()
        // Written straight to fd 1 so it is seen at once even when stdout is a pipe.
        var banner = "gatewayd listening on http://\(bound) (data dir \(dataDir))\n"
        if token.generated {
            banner += "admin token (shown once, stored in \(dataDir)/admin-token): \(token.value)\n"
        }
        _ = banner.withCString { write(STDOUT_FILENO, $0, strlen($0)) }

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("shutting down", metadata: ["signal": "\(received == SIGTERM ? "SIGTERM" : "SIGINT")"])
        server.shutdown(gracePeriod: .seconds(shutdownGrace))
        server.wait()
        dispatcher.shutdown()
        core.close()
        let statistics = store.statistics
        logger.info("stopped", metadata: [
            "journal-records": "\(statistics.records)", "journal-syncs": "\(statistics.syncs)",
            "records-per-sync": "\(statistics.syncs == 0 ? 0 : Double(statistics.records) / Double(statistics.syncs))",
        ])
    }
}

enum DataDirectory {
    /// Creates the directory (and parents) if needed and checks it is writable, so a bad
    /// path fails at start with a clear message rather than at the first write.
    static func prepare(_ path: String) throws {
        var built = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            built += "/\(component)"
            if mkdir(built, 0o750) != 0 && errno != EEXIST {
                throw ValidationError("--data-dir: cannot create \(built): \(SystemError(call: "mkdir", errno: errno))")
            }
        }
        guard access(path, W_OK) == 0 else {
            throw ValidationError("--data-dir: \(path) is not writable")
        }
    }
}

/// The admin token: from the flag, else the environment, else the data dir's `admin-token`
/// file, else a new one written there (mode 0600) and reported once.
enum AdminToken {
    static func resolve(flag: String?, dataDirectory: String) throws -> (value: String, generated: Bool) {
        if let flag, !flag.isEmpty { return (flag, false) }
        if let environment = ProcessInfo.processInfo.environment["GATEWAY_ADMIN_TOKEN"], !environment.isEmpty {
            return (environment, false)
        }
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
