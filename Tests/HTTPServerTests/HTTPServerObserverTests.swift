import Foundation
@testable import HTTPServer
import Synchronization
import TestSupport
import Testing

/// The server tells its observer about every response it writes: which route answered (by
/// index in `Router.routes`, nil for none), the status, and how long it took.
@Suite("HTTP server observer")
struct HTTPServerObserverTests {
    final class Recorder: HTTPServerObserver {
        struct Response: Equatable {
            var route: Int?
            var status: Int
            var nanoseconds: UInt64
        }

        private let responses = Mutex<[Response]>([])

        func responded(route: Int?, status: Int, nanoseconds: UInt64) {
            responses.withLock { $0.append(Response(route: route, status: status, nanoseconds: nanoseconds)) }
        }

        var all: [Response] { responses.withLock { $0 } }
    }

    @Test func everyResponseIsReportedWithItsRoute() async throws {
        let recorder = Recorder()
        var routes: [Router.Route] = []
        try await withTestServer({ $0.observer = recorder }, routes: { router in
            router.post("/later") { _, context in
                let pending = context.makePending()
                afterDelay(.milliseconds(30)) { pending.complete(HTTPResponse(status: 202)) }
                return .pending(pending)
            }
            routes = router.routes
        }) { _, port in
            let later = try #require(routes.firstIndex { $0.template == "/later" })
            let hello = try #require(routes.firstIndex { $0.method == .get && $0.template == "/hello" })
            let named = try #require(routes.firstIndex { $0.template == "/path/{name}" })
            try await offThePool {
                _ = try HTTPTestClient.request(port: port, "GET", "/hello")
                _ = try HTTPTestClient.request(port: port, "HEAD", "/hello")
                _ = try HTTPTestClient.request(port: port, "GET", "/path/x")
                _ = try HTTPTestClient.request(port: port, "POST", "/later", body: "{}")
                _ = try HTTPTestClient.request(port: port, "GET", "/nowhere")
                _ = try HTTPTestClient.request(port: port, "DELETE", "/hello")
                _ = try HTTPTestClient.exchange(port: port, "NOT A REQUEST\r\n\r\n")
            }
            let seen = recorder.all
            try #require(seen.count == 7)
            #expect(seen.map(\.route) == [hello, hello, named, later, nil, nil, nil])
            #expect(seen.map(\.status) == [200, 200, 200, 202, 404, 405, 400])
            // A pending response counts until it is written, not until its handler returned.
            #expect(seen[3].nanoseconds >= 30_000_000)
            #expect(seen[0].nanoseconds < 30_000_000)
        }
    }
}
