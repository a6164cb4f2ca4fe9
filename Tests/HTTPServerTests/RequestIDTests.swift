@testable import HTTPServer
import Logging
import TestSupport
import Testing

/// `X-Request-Id` on every response, and the request's log line carrying the same id.
@Suite("Request ids and request logs")
struct RequestIDTests {
    /// The shared test server, plus the routes these tests use, logging into `records`.
    private func serving(_ records: LogRecords, level: Logger.Level, _ body: (UInt16) throws -> Void) async throws {
        // Only the request lines; the server's own (listening, …) are not under test.
        let logger = records.logger(level: level) { $0.metadata?["request-id"] != nil }
        try await withTestServer(routes: { router in
            router.get("/ok") { _, _ in .response(.json(200, "{}")) }
            router.get("/broken") { _, _ in .response(.problem(status: 500, detail: "Broken.")) }
            router.get("/id") { _, context in .response(.json(200, "\"\(context.requestID)\"")) }
        }, logger: logger) { _, port in try body(port) }
    }

    private static func get(_ port: UInt16, _ path: String, requestID: String? = nil) throws -> TestResponse {
        try HTTPTestClient.request(port: port, "GET", path, headers: requestID.map { [("X-Request-Id", $0)] } ?? [])
    }

    @Test func everyResponseCarriesAnIdTheHandlerAndTheLogShare() async throws {
        let records = LogRecords()
        try await serving(records, level: .debug) { port in
            let answers = try [Self.get(port, "/id"), Self.get(port, "/id")]
            #expect(answers.allSatisfy { $0.status == 200 })
            let ids = answers.compactMap { $0.header("X-Request-Id") }
            try #require(ids.count == 2)
            #expect(ids[0] != ids[1])
            #expect(answers[0].text == "\"\(ids[0])\"", "the handler sees the id the response carries")
            let logged = records.all
            try #require(logged.count == 2)
            #expect(logged.map { "\($0.metadata["request-id"] ?? "")" } == ids)
            #expect(logged.allSatisfy { $0.level == .debug && $0.message == "request" && $0.metadata["path"] == "/id" })
            #expect(logged[0].metadata["status"] == "200" && logged[0].metadata["method"] == "GET")
        }
    }

    @Test func aClientIdIsKeptWhenUsableAndReplacedWhenNot() async throws {
        try await serving(LogRecords(), level: .info) { port in
            let kept = try Self.get(port, "/ok", requestID: "trace-42/abc")
            #expect(kept.status == 200 && kept.header("X-Request-Id") == "trace-42/abc")
            for unusable in [String(repeating: "a", count: 129), "caf\u{e9}"] {
                let replaced = try Self.get(port, "/ok", requestID: unusable)
                #expect(replaced.status == 200)
                let id = try #require(replaced.header("X-Request-Id"))
                #expect(id != unusable && id.count < 30)
            }
            // Inner spaces are part of a header value, so "two words" arrives whole and is refused.
            let spaced = try HTTPTestClient.exchange(
                port: port, "GET /ok HTTP/1.1\r\nHost: t\r\nX-Request-Id: two words\r\nConnection: close\r\n\r\n")
            #expect(spaced.hasPrefix("HTTP/1.1 200 ") && !spaced.contains("X-Request-Id: two words"))
        }
    }

    @Test func failuresAreLoggedAtWarningAndMalformedRequestsGetAnIdToo() async throws {
        let records = LogRecords()
        try await serving(records, level: .info) { port in
            #expect(try Self.get(port, "/ok").status == 200)
            let broken = try Self.get(port, "/broken?token=secret")
            #expect(broken.status == 500)
            let malformed = try HTTPTestClient.exchange(port: port, "GET /ok HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n")
            #expect(malformed.hasPrefix("HTTP/1.1 400 ") && malformed.contains("\r\nX-Request-Id: "))
            let logged = records.all
            // At info only the 5xx is written, as a warning; the query is never logged.
            try #require(logged.count == 1)
            #expect(logged[0].level == .warning && logged[0].message == "request failed")
            #expect(logged[0].metadata["path"] == "/broken" && "\(logged[0].metadata["request-id"] ?? "")" == broken.header("X-Request-Id"))
        }
    }
}
