import TestSupport
import Gateway
@testable import HTTPServer
import Logging
import Synchronization
import Testing

@Suite("Health endpoint")
struct HealthAPITests {
    @Test func healthzAnswersOKAndHEADHasNoBody() throws {
        var router = Router()
        HealthAPI.register(on: &router)
        try Self.serving(router) { port in
            let response = try HTTPTestClient.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(response.contains("Content-Type: application/json\r\n"))
            #expect(response.hasSuffix("\r\n\r\n{\"status\":\"ok\"}"))

            let head = try HTTPTestClient.exchange(port: port, "HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(head.hasSuffix("\r\n\r\n"))

            let wrongMethod = try HTTPTestClient.exchange(port: port, "DELETE /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(wrongMethod.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
            #expect(wrongMethod.contains("Allow: GET, HEAD\r\n"))
        }
    }

    @Test func readyzNamesEveryCheckAndWhyOneFails() throws {
        let readiness = Readiness()
        let delivery = Mutex<String?>(nil)
        readiness.register("journal") { nil }
        readiness.register("delivery") { delivery.withLock { $0 } }
        var router = Router()
        HealthAPI.register(on: &router, readiness: readiness)
        try Self.serving(router) { port in
            let ready = try HTTPTestClient.exchange(port: port, "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(ready.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(ready.hasSuffix(#"{"status":"ready","checks":{"journal":"ok","delivery":"ok"}}"#))
            delivery.withLock { $0 = "the delivery engine is not running" }
            let notReady = try HTTPTestClient.exchange(port: port, "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(notReady.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
            #expect(notReady.contains("Retry-After: 30\r\n") && notReady.contains("Content-Type: application/json\r\n"))
            #expect(notReady.hasSuffix(
                #"{"status":"not ready","reason":"delivery: the delivery engine is not running","checks":{"journal":"ok","delivery":"the delivery engine is not running"}}"#))
        }
    }

    /// Runs `body` with `router` served on a free loopback port, then stops the server.
    static func serving(_ router: Router, _ body: (UInt16) throws -> Void) throws {
        var configuration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
        configuration.eventLoopCount = 1
        let server = HTTPServer(configuration: configuration, responder: router, logger: Logger(label: "test"))
        let port = try server.start().port
        defer {
            server.shutdown(gracePeriod: .seconds(1))
            server.wait()
        }
        try body(port)
    }
}
