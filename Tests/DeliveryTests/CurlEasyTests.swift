@testable import Delivery
import HTTPServer
import Logging
import Synchronization
import Testing

/// Real libcurl transfers against a real HTTPServer on 127.0.0.1, port 0.
@Suite("libcurl easy handle")
struct CurlEasyTests {
    @Test func postsBodyAndHeadersAndReadsTheAnswer() throws {
        let seen = Mutex<HTTPRequest?>(nil)
        var router = Router()
        router.post("/hook") { request, _ in
            seen.withLock { $0 = request }
            return .response(.json(202, #"{"ok":true}"#))
        }
        var configuration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
        configuration.eventLoopCount = 1
        let server = HTTPServer(configuration: configuration, responder: router, logger: Logger(label: "test"))
        let port = try server.start().port
        defer {
            server.shutdown(gracePeriod: .seconds(1))
            server.wait()
        }

        let easy = try CurlEasy()
        let body = Array(#"{"type":"order.created","data":{"n":1}}"#.utf8)
        try easy.preparePost(url: "http://127.0.0.1:\(port)/hook", body: body,
                             headers: ["Content-Type: application/json", "webhook-id: msg_1"])
        #expect(try easy.perform() == 202)
        #expect(String(decoding: easy.responseBody, as: UTF8.self) == #"{"ok":true}"#)
        let request = try #require(seen.withLock { $0 })
        #expect(request.body == body)
        #expect(request.headers["webhook-id"] == "msg_1")
        #expect(request.headers["expect"] == nil)

        // The handle is reusable: a second transfer on the same handle (and connection).
        try easy.preparePost(url: "http://127.0.0.1:\(port)/missing", body: [], headers: [])
        #expect(try easy.perform() == 404)
    }

    @Test func connectionRefusedIsAnError() throws {
        let easy = try CurlEasy()
        // Port 1 on loopback has no listener here.
        try easy.preparePost(url: "http://127.0.0.1:1/hook", body: [1], headers: [], timeoutMilliseconds: 2000)
        let error = #expect(throws: CurlError.self) { _ = try easy.perform() }
        #expect(error?.code == 7) // CURLE_COULDNT_CONNECT
        #expect(Libcurl.version.hasPrefix("libcurl/"))
    }
}
