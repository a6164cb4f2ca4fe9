import TestSupport
import Gateway
@testable import HTTPServer
import Logging
import Testing

@Suite("Health endpoint")
struct HealthAPITests {
    @Test func healthzAnswersOKAndHEADHasNoBody() throws {
        var router = Router()
        HealthAPI.register(on: &router)
        var configuration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
        configuration.eventLoopCount = 1
        let server = HTTPServer(configuration: configuration, responder: router, logger: Logger(label: "test"))
        let port = try server.start().port
        defer {
            server.shutdown(gracePeriod: .seconds(1))
            server.wait()
        }
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
