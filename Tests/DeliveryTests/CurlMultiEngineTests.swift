import TargetPolicy
#if canImport(Glibc)
import Glibc
#endif
@testable import Delivery
import HTTPServer
import Synchronization
import TestSupport
import Testing

/// Real transfers through `CurlMultiEngine` to a receiver on our HTTPServer, 127.0.0.1.
@Suite("CurlMultiEngine")
struct CurlMultiEngineTests {
    private func withEngine(
        _ configure: (inout CurlMultiEngine.Configuration) -> Void = { _ in },
        _ body: (CurlMultiEngine, ResultCollector, Receiver) async throws -> Void
    ) async throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        var configuration = CurlMultiEngine.Configuration()
        configure(&configuration)
        let collector = ResultCollector()
        let engine = try CurlMultiEngine(configuration: configuration) { collector.add($0) }
        defer { engine.shutdown() }
        try await body(engine, collector, receiver)
    }

    @Test func postsTheExactBodyAndHeaders() async throws {
        try await withEngine { engine, collector, receiver in
            let body = Array(#"{"id":"msg_1","type":"order.created","data":{"n":1,"bytes":"\u0000\u00ff"}}"#.utf8)
            #expect(engine.submit(DeliveryRequest(
                tag: 7, url: receiver.url("/hook"),
                headers: [("Content-Type", "application/json; charset=utf-8"), ("webhook-id", "msg_1"),
                          ("webhook-signature", "v1,abc= v1,def="), ("x-empty", "")],
                body: body
            )))
            let result = try #require(await collector.wait(for: 1).first)
            #expect(result.tag == 7)
            #expect(result.status == 200)
            #expect(result.error == nil)
            #expect(result.isSuccess)
            #expect(result.responseBody == Array("ok".utf8))
            #expect(result.retryAfter == nil)
            #expect(result.duration > .zero && result.duration < .seconds(5))

            let request = try #require(receiver.requests.first)
            #expect(request.method == .post)
            #expect(request.target == "/hook")
            #expect(request.body == body)
            #expect(request.headers["content-type"] == "application/json; charset=utf-8")
            #expect(request.headers.values(of: "content-type").count == 1)
            #expect(request.headers["webhook-id"] == "msg_1")
            #expect(request.headers["webhook-signature"] == "v1,abc= v1,def=")
            #expect(request.headers["x-empty"] == "")
            #expect(request.headers["content-length"] == "\(body.count)")
            #expect(request.headers["user-agent"] == "webhook-gateway")
            #expect(request.headers["expect"] == nil)

            // Without a Content-Type, JSON rather than libcurl's form type; an empty body is
            // sent as an empty body.
            #expect(engine.submit(DeliveryRequest(tag: 8, url: receiver.url("/hook"), body: [])))
            #expect(await collector.wait(for: 2).last?.status == 200)
            let second = try #require(receiver.requests.last)
            #expect(second.headers["content-type"] == "application/json")
            #expect(second.headers["content-length"] == "0")
            #expect(second.body.isEmpty)
            #expect(engine.statistics == .init(inFlight: 0, completed: 2, failed: 0))
        }
    }

    @Test func reportsStatusCodesAndRetryAfter() async throws {
        try await withEngine { engine, collector, receiver in
            let statuses = [500, 410, 429, 503, 204]
            #expect(engine.submit(statuses.map {
                DeliveryRequest(tag: UInt64($0), url: receiver.url("/status/\($0)"), body: [1, 2, 3])
            }))
            let results = Dictionary(uniqueKeysWithValues: await collector.wait(for: statuses.count).map { ($0.tag, $0) })
            #expect(results.count == statuses.count)
            for status in statuses {
                let result = try #require(results[UInt64(status)])
                #expect(result.status == status)
                #expect(result.error == nil, "an HTTP answer is not a transport error")
                #expect(result.isSuccess == (status == 204))
                #expect(result.retryAfter == (status == 429 || status == 503 ? "120" : nil))
                #expect(result.responseBody == (status == 204 ? [] : Array("status \(status)".utf8)))
            }
        }
    }

    @Test func keepsOnlyTheFirstKibibyteOfTheResponse() async throws {
        try await withEngine { engine, collector, receiver in
            #expect(engine.submit([1, 2].map { DeliveryRequest(tag: $0, url: receiver.url("/big"), body: [0]) }))
            let results = await collector.wait(for: 2)
            #expect(results.count == 2)
            for result in results {
                #expect(result.status == 200)
                #expect(result.error == nil, "the rest of the body is read and dropped, not an error")
                #expect(result.responseBody == Array(Receiver.bigBody.prefix(1024)))
            }
        }
    }

    @Test func timesOutAndKeepsWorking() async throws {
        try await withEngine { engine, collector, receiver in
            #expect(engine.submit(DeliveryRequest(tag: 1, url: receiver.url("/slow"), body: [1], timeout: .milliseconds(200))))
            let timedOut = try #require(await collector.wait(for: 1).first)
            #expect(timedOut.status == nil)
            #expect(timedOut.error?.kind == .timeout)
            #expect(timedOut.error?.curlCode == 28)
            #expect(timedOut.error?.message.hasPrefix("Operation timed out after 2") == true, "\(timedOut.error?.message ?? "")")
            #expect(timedOut.duration >= .milliseconds(190) && timedOut.duration < .seconds(1))

            #expect(engine.submit(DeliveryRequest(tag: 2, url: receiver.url("/hook"), body: [2])))
            let next = await collector.wait(for: 2).last
            #expect(next?.tag == 2 && next?.status == 200)
            #expect(engine.statistics == .init(inFlight: 0, completed: 1, failed: 1))
        }
    }

    @Test func connectionRefusedIsAConnectError() async throws {
        let port = try unusedLoopbackPort()
        let collector = ResultCollector()
        let engine = try CurlMultiEngine { collector.add($0) }
        defer { engine.shutdown() }
        #expect(engine.submit(DeliveryRequest(tag: 3, url: "http://127.0.0.1:\(port)/hook", body: [1])))
        let result = try #require(await collector.wait(for: 1).first)
        #expect(result.status == nil)
        #expect(result.error?.kind == .connect)
        #expect(result.error?.curlCode == 7)
        // "Failed to connect to 127.0.0.1 port N after 0 ms: Couldn't connect to server
        // (Connection refused)": libcurl's message, and the errno it leaves out.
        let message = result.error?.message ?? ""
        #expect(message.contains("127.0.0.1 port \(port)") && message.hasSuffix("Connection refused)"), "\(message)")
    }

    /// With one transfer thread and with several, whose `onCompletions` calls overlap.
    @Test(arguments: [1, 3])
    func manyConcurrentTransfersAreMatchedToTheirTags(threads: Int) async throws {
        let total = 500
        let window = 64
        let receiver = try Receiver()
        defer { receiver.stop() }
        @Sendable func request(_ tag: Int) -> DeliveryRequest {
            DeliveryRequest(tag: UInt64(tag), url: receiver.url("/echo"),
                            headers: [("x-tag", "\(tag)")], body: Array("{\"n\":\(tag)}".utf8))
        }
        // The callback keeps `window` transfers in flight: each result submits the next
        // request, from the engine thread itself.
        let next = Atomic(window)
        let engineBox = Mutex<CurlMultiEngine?>(nil)
        let collector = ResultCollector()
        var configuration = CurlMultiEngine.Configuration()
        configuration.threads = threads
        let engine = try CurlMultiEngine(configuration: configuration) { results in
            collector.add(results)
            for _ in results {
                let tag = next.add(1, ordering: .relaxed).oldValue
                if tag < total { _ = engineBox.withLock { $0 }?.submit(request(tag)) }
            }
        }
        engineBox.withLock { $0 = engine }
        defer {
            engine.shutdown()
            engineBox.withLock { $0 = nil }
        }
        #expect(engine.submit((0..<window).map(request)))
        let results = await collector.wait(for: total, timeout: .seconds(8))
        #expect(results.count == total)
        #expect(Set(results.map(\.tag)) == Set((0..<total).map(UInt64.init)))
        for result in results {
            #expect(result.status == 200 && result.error == nil)
            #expect(result.responseBody == Array("{\"n\":\(result.tag)}".utf8))
        }
        #expect(receiver.requestCount == total)
        #expect(engine.statistics == .init(inFlight: 0, completed: total, failed: 0))
    }

    @Test func addressCheckRefusesBeforeConnecting() async throws {
        let seen = Mutex<[PeerAddress]>([])
        let allow = Atomic(false)
        try await withEngine({ configuration in
            configuration.addressCheck = { address in
                seen.withLock { $0.append(address) }
                return allow.load(ordering: .relaxed)
            }
        }) { engine, collector, receiver in
            #expect(engine.submit(DeliveryRequest(tag: 1, url: receiver.url("/hook"), body: [1])))
            let refused = try #require(await collector.wait(for: 1).first)
            #expect(refused.status == nil)
            #expect(refused.error?.kind == .blocked)
            #expect(refused.error?.message == "refused to connect to 127.0.0.1: address not allowed")
            #expect(seen.withLock { $0 } == [PeerAddress(ip: .v4(0x7F00_0001), port: receiver.port)])
            #expect(receiver.requestCount == 0)

            // The same engine connects once the check allows it.
            allow.store(true, ordering: .relaxed)
            #expect(engine.submit(DeliveryRequest(tag: 2, url: receiver.url("/hook"), body: [2])))
            #expect(await collector.wait(for: 2).last?.status == 200)
            #expect(receiver.requestCount == 1)
        }
    }

    @Test func rejectsRequestsThatCannotBeSentSafely() async throws {
        try await withEngine { engine, collector, receiver in
            #expect(engine.submit([
                DeliveryRequest(tag: 1, url: receiver.url("/hook"), headers: [("x-evil", "a\r\nx-injected: 1")], body: [1]),
                DeliveryRequest(tag: 2, url: receiver.url("/hook"), headers: [("x bad", "1")], body: [1]),
                DeliveryRequest(tag: 3, url: "file:///etc/passwd", body: [1]),
                DeliveryRequest(tag: 4, url: "gopher://127.0.0.1:\(receiver.port)/", body: [1]),
                DeliveryRequest(tag: 5, url: "http://", body: [1]),
            ]))
            let results = await collector.wait(for: 5).sorted { $0.tag < $1.tag }
            #expect(results.map(\.tag) == [1, 2, 3, 4, 5])
            for result in results {
                #expect(result.error?.kind == .invalidRequest, "\(result.tag): \(result.error?.message ?? "no error")")
                #expect(result.status == nil)
            }
            #expect(receiver.requestCount == 0)
        }
    }

    @Test func shutdownStopsRunningAndQueuedTransfers() async throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        let collector = ResultCollector()
        var configuration = CurlMultiEngine.Configuration()
        configuration.threads = 1  // the limit below is per thread
        configuration.maxConcurrentTransfers = 3
        let engine = try CurlMultiEngine(configuration: configuration) { collector.add($0) }
        #expect(engine.submit((1...5).map { DeliveryRequest(tag: $0, url: receiver.url("/hold"), body: [1]) }))
        #expect(await eventually { receiver.requestCount == 3 })
        #expect(engine.statistics.inFlight == 5)

        engine.shutdown()
        // Every result arrived before shutdown returned.
        let results = collector.all.sorted { $0.tag < $1.tag }
        #expect(results.map(\.tag) == [1, 2, 3, 4, 5])
        for result in results {
            #expect(result.status == nil)
            #expect(result.error?.kind == .stopped)
        }
        #expect(results.filter { $0.error?.message == "engine stopped before the delivery finished" }.count == 3)
        #expect(results.filter { $0.error?.message == "engine stopped before the delivery started" }.count == 2)
        #expect(engine.statistics == .init(inFlight: 0, completed: 0, failed: 5))
        #expect(!engine.submit(DeliveryRequest(tag: 6, url: receiver.url("/hook"), body: [1])))
        engine.shutdown() // A second call is harmless.
        #expect(receiver.requestCount == 3)
    }

    @Test func shutdownGracePeriodLetsRunningTransfersFinish() async throws {
        try await withEngine { engine, collector, receiver in
            #expect(engine.submit(DeliveryRequest(tag: 1, url: receiver.url("/hold"), body: [1])))
            #expect(await eventually { receiver.requestCount == 1 })
            afterDelay(.milliseconds(100)) { receiver.answerHeld() }
            engine.shutdown(gracePeriod: .seconds(5))
            let result = collector.all.first
            #expect(result?.tag == 1 && result?.status == 200 && result?.error == nil)
        }
    }

    // MARK: - Pure parts

    @Test func peerAddressReadsSocketAddresses() throws {
        var v4 = sockaddr_in()
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_port = UInt16(443).bigEndian
        v4.sin_addr.s_addr = UInt32(0x0A01_0203).bigEndian
        let parsed4 = withUnsafePointer(to: &v4) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { PeerAddress($0, length: MemoryLayout<sockaddr_in>.size) }
        }
        #expect(parsed4 == PeerAddress(ip: .v4(0x0A01_0203), port: 443))
        #expect(parsed4?.description == "10.1.2.3:443")
        #expect(parsed4?.ip.bytes == [10, 1, 2, 3])

        var v6 = sockaddr_in6()
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = UInt16(8080).bigEndian
        #expect(inet_pton(AF_INET6, "fe80::1:2", &v6.sin6_addr) == 1)
        let parsed6 = withUnsafePointer(to: &v6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { PeerAddress($0, length: MemoryLayout<sockaddr_in6>.size) }
        }
        #expect(parsed6 == PeerAddress(ip: .v6(0xFE80_0000_0000_0000_0000_0000_0001_0002), port: 8080))
        #expect(parsed6?.description == "[fe80::1:2]:8080")
        #expect(parsed6?.ip.bytes == [0xFE, 0x80] + [UInt8](repeating: 0, count: 10) + [0, 1, 0, 2])
        #expect(IPAddress.v6(1).description == "::1")
        #expect(IPAddress.v6(0xFFFF_7F00_0001).description == "::ffff:127.0.0.1")

        // Too short for its family, or another family: not an address the check can judge.
        let short = withUnsafePointer(to: &v6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { PeerAddress($0, length: MemoryLayout<sockaddr_in>.size) }
        }
        #expect(short == nil)
        var unix = sockaddr()
        unix.sa_family = sa_family_t(AF_UNIX)
        #expect(PeerAddress(&unix, length: MemoryLayout<sockaddr>.size) == nil)
    }

    @Test func timeoutsBecomeWholeMillisecondsRoundedUp() {
        #expect(CurlMultiLoop.milliseconds(.milliseconds(200)) == 200)
        #expect(CurlMultiLoop.milliseconds(.seconds(5)) == 5000)
        #expect(CurlMultiLoop.milliseconds(.microseconds(1500)) == 2)
        #expect(CurlMultiLoop.milliseconds(.nanoseconds(1)) == 1)
        #expect(CurlMultiLoop.milliseconds(.zero) == 1, "0 would mean no timeout at all")
        #expect(CurlMultiLoop.milliseconds(.seconds(-3)) == 1)
        #expect(CurlMultiLoop.milliseconds(.seconds(Int64.max)) == 30 * 86_400 * 1000)
    }
}
