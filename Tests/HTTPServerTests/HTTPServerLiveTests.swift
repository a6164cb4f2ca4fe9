import Foundation
@testable import HTTPServer
import Synchronization
import TestSupport
import Testing

/// The server over real sockets on 127.0.0.1, port 0.
@Suite("HTTPServer over real sockets")
struct HTTPServerLiveTests {
    @Test func keepAliveServesManyRequestsOnOneConnection() async throws {
        try await withTestServer { _, port in
            let client = try RawClient(port: port)
            for _ in 0..<5 {
                try await client.send("GET /hello HTTP/1.1\r\nHost: test\r\n\r\n")
                let response = try #require(await client.readResponse())
                #expect(response.status == 200)
                #expect(response.text == #"{"hello":"world"}"#)
                #expect(response.header("connection") == nil)
                #expect(response.header("date")?.hasSuffix("GMT") == true)
            }
        }
    }

    @Test func http10ClosesUnlessKeepAliveAsked() async throws {
        try await withTestServer { _, port in
            let keepAlive = try RawClient(port: port)
            try await keepAlive.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(await keepAlive.readResponse()?.header("connection") == "keep-alive")
            try await keepAlive.send("GET /hello HTTP/1.0\r\n\r\n")
            let last = try #require(await keepAlive.readResponse())
            #expect(last.header("connection") == "close")
            #expect(await keepAlive.waitForClose())
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withTestServer { _, port in
            let client = try RawClient(port: port)
            let requests = (1...4).map { "GET /path/n\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined()
            try await client.send(requests + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            for index in 1...4 {
                #expect(await client.readResponse()?.text == "{\"name\":\"n\(index)\"}")
            }
            #expect(await client.readResponse()?.text == "hello")
        }
    }

    @Test func pipelinedRequestsBehindAPendingResponseStayInOrder() async throws {
        try await withTestServer(routes: { router in
            router.get("/later") { _, context in
                let pending = context.makePending()
                afterDelay(.milliseconds(100)) { pending.complete(.json(200, #"{"later":true}"#)) }
                return .pending(pending)
            }
        }) { _, port in
            let client = try RawClient(port: port)
            try await client.send("GET /later HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(await client.readResponse()?.text == #"{"later":true}"#)
            #expect(await client.readResponse()?.text == #"{"hello":"world"}"#)
        }
    }

    @Test func chunkedUploadIsDecoded() async throws {
        try await withTestServer { _, port in
            let client = try RawClient(port: port)
            try await client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            try await client.send("5\r\nhello\r\n")
            try await Task.sleep(for: .milliseconds(50))
            try await client.send("7;ext=1\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n")
            let response = try #require(await client.readResponse())
            #expect(response.status == 200)
            #expect(response.text == "hello, world")
        }
    }

    @Test func expectContinueGetsInterimResponseBeforeBody() async throws {
        try await withTestServer { _, port in
            let client = try RawClient(port: port)
            try await client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            let interim = try #require(await client.readResponse())
            #expect(interim.status == 100)
            try await client.send("ping")
            let final = try #require(await client.readResponse())
            #expect(final.status == 200)
            #expect(final.text == "ping")
        }
    }

    @Test func expectContinueWithOversizedBodyIsRefusedUpFront() async throws {
        try await withTestServer({ $0.limits.maxBodyBytes = 100 }) { _, port in
            let client = try RawClient(port: port)
            try await client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
            let response = try #require(await client.readResponse())
            #expect(response.status == 413)
            #expect(response.header("connection") == "close")
            #expect(response.header("content-type") == "application/problem+json")
        }
    }

    @Test func headRequestGetsHeadersWithoutBody() async throws {
        try await withTestServer { _, port in
            let client = try RawClient(port: port)
            try await client.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try #require(await client.readResponse(forHead: true))
            #expect(head.status == 200)
            #expect(head.header("content-length") == "17")
            #expect(head.body.isEmpty)
            // The next response starts right after the head: no stray body bytes in between.
            #expect(await client.readResponse()?.text == #"{"hello":"world"}"#)
        }
    }

    @Test func slowLorisHeaderTimeoutAnswers408AndCloses() async throws {
        try await withTestServer({ $0.headerReadTimeout = .milliseconds(300) }) { server, port in
            // The timed part runs on one thread of its own: the test pool, busy with other
            // suites, could otherwise stretch the trickle and the measurement.
            let (response, closedAfter) = try await offThePool { () -> (TestResponse?, Double?) in
                let client = try RawClient(port: port)
                try client.sendBlocking(Array("GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ".utf8))
                let started = Date()
                for _ in 0..<3 {
                    Thread.sleep(forTimeInterval: 0.05)
                    try? client.sendBlocking([UInt8(ascii: "a")])
                }
                let response = client.readResponseBlocking()
                guard client.waitForCloseBlocking(), let closedAt = client.closedAt else { return (response, nil) }
                return (response, closedAt.timeIntervalSince(started))
            }
            #expect(response?.status == 408)
            #expect(response?.header("connection") == "close")
            let closed = try #require(closedAfter, "the server never closed the connection")
            #expect(closed < 3, "closed \(closed) s after the trickle began")
            #expect(await eventually { server.openConnectionCount == 0 })
        }
    }

    @Test func silentClientIsClosedAfterHeaderTimeout() async throws {
        try await withTestServer({ $0.headerReadTimeout = .milliseconds(300) }) { server, port in
            // Connected and timed on one thread of its own (see the slow-loris test).
            let waited = try await offThePool { () -> Double? in
                let client = try RawClient(port: port)
                guard client.waitForCloseBlocking(), let closedAt = client.closedAt else { return nil }
                return closedAt.timeIntervalSince(client.connectedAt)
            }
            let closed = try #require(waited, "the server never closed the connection")
            #expect(closed >= 0.25 && closed < 3, "closed after \(closed) s")
            #expect(await eventually { server.openConnectionCount == 0 })
        }
    }

    @Test func slowBodyTimesOutWith408() async throws {
        try await withTestServer({ $0.bodyReadTimeout = .milliseconds(300) }) { _, port in
            let client = try RawClient(port: port)
            try await client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            let response = try #require(await client.readResponse())
            #expect(response.status == 408)
            #expect(response.text.contains("body"))
        }
    }

    @Test func idleKeepAliveConnectionIsClosed() async throws {
        try await withTestServer({ $0.keepAliveTimeout = .milliseconds(200) }) { server, port in
            let client = try RawClient(port: port)
            try await client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(await client.readResponse()?.status == 200)
            #expect(await client.waitForClose())
            #expect(await eventually { server.openConnectionCount == 0 })
        }
    }

    @Test func maxConnectionsRefusesTheExtraClientWith503() async throws {
        try await withTestServer({ $0.maxConnections = 2 }) { server, port in
            let first = try RawClient(port: port)
            let second = try RawClient(port: port)
            #expect(await eventually { server.openConnectionCount == 2 })
            let third = try RawClient(port: port)
            let refused = try #require(await third.readResponse())
            #expect(refused.status == 503)
            #expect(refused.header("retry-after") == "1")
            // The admitted clients are still served.
            for client in [first, second] {
                try await client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(await client.readResponse()?.status == 200)
            }
        }
    }

    @Test func manyConcurrentClientsAreAllServed() async throws {
        try await withTestServer({ $0.eventLoopCount = 2 }) { _, port in
            let failures = Atomic<Int>(0)
            let served = Atomic<Int>(0)
            try await offThePool {
                DispatchQueue.concurrentPerform(iterations: 32) { index in
                    do {
                        let client = try RawClient(port: port)
                        for request in 0..<20 {
                            try client.sendBlocking(Array("GET /path/c\(index)r\(request) HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
                            guard client.readResponseBlocking()?.text == "{\"name\":\"c\(index)r\(request)\"}" else {
                                failures.add(1, ordering: .relaxed)
                                return
                            }
                            served.add(1, ordering: .relaxed)
                        }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
            #expect(failures.load(ordering: .relaxed) == 0)
            #expect(served.load(ordering: .relaxed) == 32 * 20)
        }
    }

    @Test func pendingResponsesCompletedFromOtherThreadsReachTheRightClients() async throws {
        try await withTestServer(routes: { router in
            router.post("/deferred") { request, context in
                let pending = context.makePending()
                let body = request.body
                afterDelay(.microseconds(Int.random(in: 0...20_000))) { pending.complete(HTTPResponse(status: 202, body: body)) }
                return .pending(pending)
            }
        }) { _, port in
            let mismatches = Atomic<Int>(0)
            try await offThePool {
                DispatchQueue.concurrentPerform(iterations: 16) { index in
                    guard let client = try? RawClient(port: port) else {
                        mismatches.add(1, ordering: .relaxed)
                        return
                    }
                    for request in 0..<10 {
                        let payload = "client \(index) request \(request)"
                        try? client.sendBlocking(Array("POST /deferred HTTP/1.1\r\nHost: t\r\nContent-Length: \(payload.utf8.count)\r\n\r\n\(payload)".utf8))
                        let response = client.readResponseBlocking()
                        if response?.status != 202 || response?.text != payload { mismatches.add(1, ordering: .relaxed) }
                    }
                }
            }
            #expect(mismatches.load(ordering: .relaxed) == 0)
        }
    }

    /// Handlers see the client's address (what a per-source IP allowlist checks).
    @Test func handlersSeeTheClientsAddress() async throws {
        try await withTestServer(routes: { router in
            router.get("/peer") { _, context in
                .response(.json(200, "{\"peer\":\"\(context.peer?.host ?? "none")\",\"port\":\(context.peer?.port ?? 0)}"))
            }
        }) { _, port in
            let client = try RawClient(port: port)
            try await client.send("GET /peer HTTP/1.1\r\nHost: t\r\n\r\nGET /peer HTTP/1.1\r\nHost: t\r\n\r\n")
            let first = try #require(await client.readResponse())
            #expect(first.text.hasPrefix(#"{"peer":"127.0.0.1","port":"#), "\(first.text)")
            #expect(!first.text.hasSuffix(#""port":0}"#))
            // The same connection, the same address.
            #expect(await client.readResponse()?.text == first.text)
        }
    }

    @Test func asyncRoutesAnswer() async throws {
        try await withTestServer(routes: { router in
            router.addAsync(.get, "/async") { request in
                try await Task.sleep(for: .milliseconds(10))
                return .json(200, "{\"path\":\"\(request.path)\"}")
            }
            router.addAsync(.get, "/async-error") { _ in
                throw HTTPError(409, "Already exists.")
            }
        }) { _, port in
            let client = try RawClient(port: port)
            try await client.send("GET /async HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(await client.readResponse()?.text == #"{"path":"/async"}"#)
            try await client.send("GET /async-error HTTP/1.1\r\nHost: t\r\n\r\n")
            let problem = try #require(await client.readResponse())
            #expect(problem.status == 409)
            #expect(problem.text.contains("Already exists."))
        }
    }

    @Test func halfClosedClientStillGetsItsResponse() async throws {
        try await withTestServer { _, port in
            let client = try RawClient(port: port)
            try await client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            client.shutdownWrite()
            let response = try #require(await client.readResponse())
            #expect(response.status == 200)
            #expect(await client.waitForClose())
        }
    }

    @Test func clientThatStopsReadingIsDroppedAfterWriteTimeout() async throws {
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 32 * 1024 * 1024)
        try await withTestServer({ $0.writeTimeout = .milliseconds(300) }, routes: { router in
            router.get("/big") { _, _ in .response(HTTPResponse(status: 200, body: big)) }
        }) { server, port in
            let client = try RawClient(port: port)
            try await client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(await eventually(timeout: .seconds(10)) { server.openConnectionCount == 0 })
        }
    }

    @Test func gracefulShutdownFinishesTheRequestInFlight() async throws {
        let configuration = try testServerConfiguration()
        var router = Router()
        // The handler parks its response; the test completes it once the shutdown has begun,
        // however late a busy test pool lets it get there.
        let parked = Mutex<PendingResponse?>(nil)
        router.get("/slow") { _, context in
            let pending = context.makePending()
            parked.withLock { $0 = pending }
            return .pending(pending)
        }
        router.get("/hello") { _, _ in .response(.json(200, "{}")) }
        let server = HTTPServer(configuration: configuration, responder: router, logger: .init(label: "test"))
        let port = try server.start().port
        let busy = try RawClient(port: port)
        let idle = try RawClient(port: port)
        try await idle.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(await idle.readResponse()?.status == 200)
        try await busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(await eventually { parked.withLock { $0 != nil } })

        let stopWatch = StopWatch(server)
        // A grace period no busy test pool outlasts: this test is about finishing, not cutting off.
        server.shutdown(gracePeriod: .seconds(60))
        #expect(await idle.waitForClose())
        parked.withLock { $0?.complete(.json(200, #"{"slow":true}"#)) }
        let response = try #require(await busy.readResponse())
        #expect(response.status == 200)
        #expect(response.text == #"{"slow":true}"#)
        #expect(response.header("connection") == "close")
        // Once the client has its answer and hangs up, the server stops at once: it does not
        // sit out the grace period (nor the linger time, which waits for this hang-up).
        let hungUpAt = Date()
        busy.shutdownWrite()
        let stoppedAt = try #require(await stopWatch.stoppedAt())
        #expect(stoppedAt.timeIntervalSince(hungUpAt) < 1, "stopped \(stoppedAt.timeIntervalSince(hungUpAt)) s after the client hung up")
        #expect(throws: (any Error).self) { _ = try RawClient(port: port, timeout: 1) }
    }

    @Test func shutdownGracePeriodBoundsAHandlerThatNeverAnswers() async throws {
        let configuration = try testServerConfiguration()
        var router = Router()
        let parked = Mutex<[PendingResponse]>([])
        router.get("/never") { _, context in
            let pending = context.makePending()
            parked.withLock { $0.append(pending) }
            return .pending(pending)
        }
        let server = HTTPServer(configuration: configuration, responder: router, logger: .init(label: "test"))
        let port = try server.start().port
        let client = try RawClient(port: port)
        try await client.send("GET /never HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(await eventually { parked.withLock { $0.count } == 1 })
        let stopWatch = StopWatch(server)
        server.shutdown(gracePeriod: .milliseconds(300))
        let stoppedAfter = try #require(await stopWatch.stoppedAt()).timeIntervalSince(stopWatch.started)
        #expect(stoppedAfter < 2, "stopped \(stoppedAfter) s after the shutdown began")
        #expect(await client.waitForClose())
        // Completing after the loop is gone must be harmless.
        parked.withLock { $0.first?.complete(.json(200, "{}")) }
    }

    @Test func listensOnIPv6Loopback() async throws {
        let configuration = try testServerConfiguration("[::1]:0")
        var router = Router()
        router.get("/hello") { _, _ in .response(.json(200, "{}")) }
        let server = HTTPServer(configuration: configuration, responder: router, logger: .init(label: "test"))
        let address: SocketAddress
        do {
            address = try server.start()
        } catch {
            // A machine without IPv6 cannot run this; that is not a server failure.
            #expect(error.errno == EADDRNOTAVAIL || error.errno == EAFNOSUPPORT)
            return
        }
        #expect(address.isIPv6)
        #expect(address.port != 0)
        let client = try RawClient(port: address.port, host: "::1")
        try await client.send("GET /hello HTTP/1.1\r\nHost: [::1]\r\n\r\n")
        #expect(await client.readResponse()?.status == 200)
        await stop(server)
    }
}
