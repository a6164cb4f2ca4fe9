#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import HTTPServer
import Logging
import Synchronization
import TestSupport

/// One event loop on `address`, and a header timeout long enough that a connection a test
/// opens early is not closed as silent while a busy test pool delays the test's next step
/// (tests of the header timeout set their own).
func testServerConfiguration(_ address: String = "127.0.0.1:0") throws -> HTTPServerConfiguration {
    var configuration = HTTPServerConfiguration(address: try SocketAddress(parsing: address))
    configuration.eventLoopCount = 1
    // Generous: under a full parallel test run the cooperative pool can be busy with blocking
    // tests for tens of seconds between a test's two sends. Tests of the timeouts set short
    // ones themselves.
    configuration.headerReadTimeout = .seconds(120)
    configuration.bodyReadTimeout = .seconds(120)
    configuration.writeTimeout = .seconds(120)
    return configuration
}

/// Starts a server on 127.0.0.1 port 0 with the routes tests use, runs `body`, then shuts down.
func withTestServer(
    _ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    routes: (inout Router) -> Void = { _ in },
    logger: Logger? = nil,
    _ body: (HTTPServer, UInt16) async throws -> Void
) async throws {
    var configuration = try testServerConfiguration()
    configure(&configuration)
    var router = Router()
    router.get("/hello") { _, _ in .response(.json(200, #"{"hello":"world"}"#)) }
    router.post("/echo") { request, _ in
        .response(HTTPResponse(status: 200, headers: ["Content-Type": "application/octet-stream"], body: request.body))
    }
    router.get("/path/{name}") { request, _ in
        .response(.json(200, "{\"name\":\"\(request.pathParameters["name"] ?? "")\"}"))
    }
    routes(&router)
    var defaultLogger = Logger(label: "test-server")
    defaultLogger.logLevel = .warning
    let server = HTTPServer(configuration: configuration, responder: router, logger: logger ?? defaultLogger)
    let address = try server.start()
    do {
        try await body(server, address.port)
    } catch {
        await stop(server)
        throw error
    }
    await stop(server)
}

/// Times a server's stop on a thread of its own, started at once, so the time is exact
/// however late the busy test pool gets round to asking.
final class StopWatch: Sendable {
    let started = Date()
    private let stoppedAt = Mutex<Date?>(nil)

    init(_ server: HTTPServer) {
        Thread.detachNewThread {
            server.wait()
            self.stoppedAt.withLock { $0 = Date() }
        }
    }

    /// When the server's `wait()` returned; nil if it has not within 10 s.
    func stoppedAt() async -> Date? {
        _ = await eventually(timeout: .seconds(10)) { stoppedAt.withLock { $0 != nil } }
        return stoppedAt.withLock { $0 }
    }
}

func stop(_ server: HTTPServer, gracePeriod: Duration = .seconds(2)) async {
    server.shutdown(gracePeriod: gracePeriod)
    _ = try? await offThePool { server.wait() }
}
