@testable import HTTPServer
import Logging
import Synchronization
import TestSupport
import Testing

/// `X-Request-Id` on every response, and the request's log line carrying the same id.
@Suite("Request ids and request logs")
struct RequestIDTests {
    private func serving(_ records: LogRecords, level: Logger.Level, _ body: (UInt16) throws -> Void) throws {
        var router = Router()
        router.get("/ok") { _, _ in .response(.json(200, "{}")) }
        router.get("/broken") { _, _ in .response(.problem(status: 500, detail: "Broken.")) }
        router.get("/id") { _, context in .response(.json(200, "\"\(context.requestID)\"")) }
        var configuration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
        configuration.eventLoopCount = 1
        // Only the request lines; the server's own (listening, …) are not under test.
        let logger = records.logger(level: level) { $0.metadata?["request-id"] != nil }
        let server = HTTPServer(configuration: configuration, responder: router, logger: logger)
        let port = try server.start().port
        defer {
            server.shutdown(gracePeriod: .seconds(1))
            server.wait()
        }
        try body(port)
    }

    private static func requestID(in response: String) -> String? {
        response.split(separator: "\r\n").first { $0.hasPrefix("X-Request-Id: ") }.map { String($0.dropFirst(14)) }
    }

    @Test func everyResponseCarriesAnIdTheHandlerAndTheLogShare() throws {
        let records = LogRecords()
        try serving(records, level: .debug) { port in
            let first = try HTTPTestClient.exchange(port: port, "GET /id HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let second = try HTTPTestClient.exchange(port: port, "GET /id HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let ids = [first, second].compactMap(Self.requestID)
            #expect(ids.count == 2 && ids[0] != ids[1])
            #expect(first.hasSuffix("\"\(ids[0])\""), "the handler sees the id the response carries")
            let logged = records.all
            #expect(logged.count == 2)
            #expect(logged.map { "\($0.metadata["request-id"] ?? "")" } == ids)
            #expect(logged.allSatisfy { $0.level == .debug && $0.message == "request" && $0.metadata["path"] == "/id" })
            #expect(logged.first?.metadata["status"] == "200" && logged.first?.metadata["method"] == "GET")
        }
    }

    @Test func aClientIdIsKeptWhenUsableAndReplacedWhenNot() throws {
        try serving(LogRecords(), level: .info) { port in
            let kept = try HTTPTestClient.exchange(port: port, "GET /ok HTTP/1.1\r\nHost: t\r\nX-Request-Id: trace-42/abc\r\nConnection: close\r\n\r\n")
            #expect(Self.requestID(in: kept) == "trace-42/abc")
            for unusable in [String(repeating: "a", count: 129), "two words", "caf\u{e9}"] {
                let replaced = try HTTPTestClient.exchange(port: port, "GET /ok HTTP/1.1\r\nHost: t\r\nX-Request-Id: \(unusable)\r\nConnection: close\r\n\r\n")
                let id = try #require(Self.requestID(in: replaced))
                #expect(id != unusable && id.count < 30)
            }
        }
    }

    @Test func failuresAreLoggedAtWarningAndMalformedRequestsGetAnIdToo() throws {
        let records = LogRecords()
        try serving(records, level: .info) { port in
            _ = try HTTPTestClient.exchange(port: port, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let broken = try HTTPTestClient.exchange(port: port, "GET /broken?token=secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            let malformed = try HTTPTestClient.exchange(port: port, "GET /ok HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n")
            #expect(malformed.hasPrefix("HTTP/1.1 400 ") && Self.requestID(in: malformed) != nil)
            let logged = records.all
            // At info only the 5xx is written, as a warning; the query is never logged.
            #expect(logged.count == 1)
            #expect(logged.first?.level == .warning && logged.first?.message == "request failed")
            #expect(logged.first?.metadata["path"] == "/broken" && "\(logged.first?.metadata["request-id"] ?? "")" == Self.requestID(in: broken))
        }
    }
}
