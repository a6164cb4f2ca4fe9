import ArgumentParser
import Gateway
import HTTPServer
import Logging
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
        guard maxConnections > 0, maxBodyBytes >= 0, maxHeaderBytes >= 1024 else {
            throw ValidationError("--max-connections must be positive and --max-header-bytes at least 1024")
        }
        if let eventLoops, eventLoops < 1 { throw ValidationError("--event-loops must be at least 1") }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "gatewayd")

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

        var router = Router()
        HealthAPI.register(on: &router)

        // Block the shutdown signals before any thread exists, so every thread inherits the
        // mask and only `sigwait` below ever sees them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let server = HTTPServer(configuration: configuration, responder: router, logger: logger)
        let bound = try server.start()
        // Written straight to fd 1 so it is seen at once even when stdout is a pipe.
        let banner = "gatewayd listening on http://\(bound) (data dir \(dataDir))\n"
        _ = banner.withCString { write(STDOUT_FILENO, $0, strlen($0)) }

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("shutting down", metadata: ["signal": "\(received == SIGTERM ? "SIGTERM" : "SIGINT")"])
        server.shutdown(gracePeriod: .seconds(shutdownGrace))
        server.wait()
        logger.info("stopped")
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
