import TargetPolicy
import Runtime
import JSON
import Foundation
@testable import Delivery
@testable import Gateway
import HTTPServer
import Logging
import Synchronization
import TestSupport
import Testing

/// The dispatcher end to end: a real journal, real libcurl transfers, a real receiver on
/// 127.0.0.1 that answers from a script, short retry schedules.
@Suite("Webhook dispatcher", .serialized)
struct WebhookDispatcherTests {
    /// A receiver whose answers follow a script: the next status for each request, 200 when
    /// the script runs out. Requests are recorded in arrival order.
    final class ScriptedReceiver: Sendable {
        final class Shared: Sendable {
            let requests = Mutex<[HTTPRequest]>([])
            let script = Mutex<[Int]>([])
            let held = Mutex<[PendingResponse]>([])
            let hold = Atomic<Bool>(false)
        }

        let shared = Shared()
        private let server: HTTPServer
        let port: UInt16

        /// Port 0 takes a free one; a given port brings a receiver back where one was.
        init(port: UInt16 = 0) throws {
            var router = Router()
            let shared = self.shared
            router.post("/hook") { request, context in
                shared.requests.withLock { $0.append(request) }
                if shared.hold.load(ordering: .relaxed) {
                    let pending = context.makePending()
                    shared.held.withLock { $0.append(pending) }
                    return .pending(pending)
                }
                let status = shared.script.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
                let headers: HTTPHeaders = status == 429 ? ["Retry-After": "1"] : [:]
                return .response(HTTPResponse(status: status, headers: headers, body: Array("answer \(status)".utf8)))
            }
            var configuration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: port))
            configuration.eventLoopCount = 1
            server = HTTPServer(configuration: configuration, responder: router, logger: Logger(label: "receiver") { _ in SwiftLogNoOpLogHandler() })
            self.port = try server.start().port
        }

        var url: String { "http://127.0.0.1:\(port)/hook" }

        var received: [HTTPRequest] { shared.requests.withLock { $0 } }

        func setScript(_ statuses: [Int]) { shared.script.withLock { $0 = statuses } }
        func holdAnswers() { shared.hold.store(true, ordering: .relaxed) }

        func releaseHeld() {
            shared.hold.store(false, ordering: .relaxed)
            for pending in shared.held.withLock({ $0 }) { pending.complete(HTTPResponse(status: 200)) }
        }

        func stop() {
            releaseHeld()
            server.shutdown(gracePeriod: .milliseconds(200))
            server.wait()
        }
    }

    /// The embedded store and a dispatcher on a scratch directory.
    final class Rig {
        let directory = NSTemporaryDirectory() + "dispatcher-test-" + UUID().uuidString
        var store: JournalStore!
        let status = DeliveryStatusBoard()
        var dispatcher: WebhookDispatcher!
        let policy: RetryPolicy

        let engine: CurlMultiEngine.Configuration
        let laneWindow: Int
        let attemptBatchInterval: Duration
        let segmentSize: Int
        let observer: (any DeliveryObserver)?

        init(segmentSize: Int = JournalStore.Configuration(directory: "").segmentSize,
             policy: RetryPolicy = RetryPolicy(schedule: [.milliseconds(50), .milliseconds(50), .milliseconds(50)], jitter: 0,
                                               minimumDelay: .milliseconds(10)),
             engine: CurlMultiEngine.Configuration = { var engine = CurlMultiEngine.Configuration(); engine.timeout = .seconds(2); return engine }(),
             laneWindow: Int = DeliveryLane.defaultWindowSize,
             attemptBatchInterval: Duration = WebhookDispatcher.Configuration().attemptBatchInterval,
             observer: (any DeliveryObserver)? = nil) throws {
            self.policy = policy
            self.observer = observer
            self.engine = engine
            self.laneWindow = laneWindow
            self.attemptBatchInterval = attemptBatchInterval
            self.segmentSize = segmentSize
            try start()
        }

        /// What the dispatcher logged at info and above.
        let logged = LogRecords()

        func start() throws {
            let logger = logged.logger(label: "dispatcher-test", level: .info)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var storeConfiguration = JournalStore.Configuration(directory: directory)
            storeConfiguration.segmentSize = segmentSize
            store = try JournalStore(configuration: storeConfiguration, logger: logger)
            var configuration = WebhookDispatcher.Configuration()
            configuration.retryPolicy = policy
            configuration.engine = engine
            configuration.laneWindow = laneWindow
            configuration.attemptBatchInterval = attemptBatchInterval
            configuration.observer = observer
            dispatcher = WebhookDispatcher(store: store, status: status, configuration: configuration, logger: logger)
            try dispatcher.start()
        }

        func stop() {
            dispatcher?.shutdown()
            store?.close()
        }

        deinit {
            stop()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func append(_ entries: [JournalEntry]) throws -> [JournalRecord] {
            let done = DispatchSemaphore(value: 0)
            let outcome = Mutex<Result<[JournalRecord], JournalError>?>(nil)
            store.journal.append(entries) { result in
                outcome.withLock { $0 = result }
                done.signal()
            }
            done.wait()
            return try outcome.withLock { $0! }.get()
        }

        @discardableResult
        func subscribe(_ url: String, secret: String = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ordered: Bool = false,
                       maxInFlight: Int = 10, disabled: String? = nil, id: String = "sub_test",
                       paused: Bool = false, rateLimit: Int? = nil, extraSecrets: [Subscription.Secret] = [],
                       retry: Subscription.RetryOverrides = .init()) throws -> Subscription {
            var subscription = Subscription(id: id, url: url, eventTypes: [EventTypePattern("*")!],
                                            secrets: [.init(value: secret, expiresAt: nil)] + extraSecrets)
            subscription.ordered = ordered
            subscription.maxInFlight = maxInFlight
            subscription.disabledReason = disabled
            subscription.paused = paused
            subscription.rateLimit = rateLimit
            subscription.retry = retry
            if let existing = store.state.subscription(id) { subscription.createdAt = existing.createdAt }
            _ = try append([JournalEntry(kind: .subscriptionUpserted, payload: JSONParser.serialize(subscription.storedJSON()))])
            return subscription
        }

        @discardableResult
        func publish(_ id: String, data: String, partitionKey: String? = nil) throws -> UInt64 {
            let event = EventRecord(id: id, type: "order.created", source: "test", partitionKey: partitionKey, occurredAt: nil,
                                    idempotencyKey: nil, bodyDigest: [], data: Array(data.utf8))
            return try append([JournalEntry(kind: .event, payload: event.encode())])[0].sequence
        }

        /// Waits for every record appended so far (attempt records included) to be folded.
        func settle() {
            _ = try? append([])
        }

        /// Polls `condition` on the gateway's state, each time after `settle`, until it holds
        /// or `timeout` passes.
        func eventually(timeout: Duration = .seconds(5), _ condition: (GatewayState) -> Bool) async -> Bool {
            await TestSupport.eventually(timeout: timeout) {
                settle()
                return condition(store.state)
            }
        }
    }

    @Test func deliversTheSignedEnvelope() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url)
        let sequence = try rig.publish("evt_1", data: #"{"order": "o-1",  "amount": 12.50}"#)
        #expect(await eventually { receiver.received.count == 1 })
        let request = try #require(receiver.received.first)
        #expect(request.headers["webhook-id"] == "evt_1")
        #expect(request.headers["content-type"] == "application/json")
        let body = String(decoding: request.body, as: UTF8.self)
        #expect(body.hasPrefix(#"{"id":"evt_1","type":"order.created","timestamp":""#))
        #expect(body.hasSuffix(#""source":"test","data":{"order": "o-1",  "amount": 12.50}}"#))
        let secrets = try subscription.secrets.map { try WebhookSecret(parsing: $0.value) }
        _ = try WebhookVerifier(secrets: secrets).verify(
            StandardWebhooksHeaders { request.headers[$0] }, body: request.body, now: Int(Date().timeIntervalSince1970))
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 1 })
        #expect(rig.store.state.pendingDeliveries(for: subscription.id).isEmpty)
        _ = sequence
    }

    @Test func aTestPingGoesToItsSubscriptionOnly() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        let rig = try Rig()
        var subscription = try rig.subscribe(receiver.url)
        // Patterns that match nothing: the ping goes regardless; another subscription gets nothing.
        subscription.eventTypes = [EventTypePattern("nothing.matches")!]
        subscription.createdAt = rig.store.state.subscription(subscription.id)!.createdAt
        _ = try rig.append([JournalEntry(kind: .subscriptionUpserted, payload: JSONParser.serialize(subscription.storedJSON()))])
        try rig.subscribe(receiver.url.replacingOccurrences(of: "/hook", with: "/other"), id: "sub_other")
        let ping = EventRecord(id: "evt_ping", type: "gateway.ping", source: "gateway", partitionKey: nil, occurredAt: nil,
                               idempotencyKey: nil, bodyDigest: [], data: Array(#"{"message":"hi"}"#.utf8), targetSubscription: subscription.id)
        _ = try rig.append([JournalEntry(kind: .event, payload: ping.encode())])
        #expect(await eventually { receiver.received.count == 1 })
        #expect(receiver.received.first?.headers["webhook-id"] == "evt_ping")
        #expect(rig.store.state.pendingDeliveries(for: "sub_other").isEmpty)
        #expect(rig.store.state.deliveryCounts(for: "sub_other").delivered == 0)
    }

    @Test func retryAfterIsHonouredOn429() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        receiver.setScript([429])
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url)
        try rig.publish("evt_throttled", data: "1")
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 1 })
        let arrivals = receiver.received
        #expect(arrivals.count == 2)
        // The schedule says 50 ms; Retry-After said 1 s.
        let first = try #require(Int(arrivals.first?.headers["webhook-timestamp"] ?? ""))
        let second = try #require(Int(arrivals.last?.headers["webhook-timestamp"] ?? ""))
        #expect(second - first >= 1)
    }

    @Test func aReceiverThatTimesOutIsRetried() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        receiver.holdAnswers()
        var engine = CurlMultiEngine.Configuration()
        engine.timeout = .milliseconds(200)
        let rig = try Rig(engine: engine)
        let subscription = try rig.subscribe(receiver.url)
        try rig.publish("evt_slow", data: "1")
        #expect(await rig.eventually { ($0.pendingDeliveries(for: subscription.id).first?.attempts ?? 0) >= 1 })
        #expect(rig.store.state.deliveryCounts(for: subscription.id).lastError?.contains("timed out") == true)
        receiver.releaseHeld()
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 1 })
    }

    @Test func pausedSubscriptionsHoldDeliveriesUntilResumed() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url, paused: true)
        try rig.publish("evt_held", data: "1")
        try await Task.sleep(for: .milliseconds(400))
        #expect(receiver.received.isEmpty)
        try rig.subscribe(receiver.url, paused: false)
        #expect(await eventually { receiver.received.count == 1 })
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 1 })
    }

    @Test func goneDisablesTheSubscriptionUntilItIsResumed() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        receiver.setScript([410])
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url)
        try rig.publish("evt_gone", data: "1")
        #expect(await eventually { rig.store.state.subscription(subscription.id)?.disabledReason != nil })
        #expect(rig.store.state.subscription(subscription.id)?.disabledReason?.contains("410") == true)
        #expect(rig.logged.all.contains { $0.level == .warning && $0.message.hasPrefix("subscription disabled") })
        // Held, not retried and not dropped, while disabled.
        try await Task.sleep(for: .milliseconds(400))
        #expect(receiver.received.count == 1)
        rig.settle()
        #expect(rig.store.state.pendingDeliveries(for: subscription.id).count == 1)
        try rig.subscribe(receiver.url, disabled: nil)
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 1 })
        #expect(receiver.received.compactMap { $0.headers["webhook-id"] } == ["evt_gone", "evt_gone"])
    }

    @Test func aReceiverThatIsDownForAWhileGetsEverythingWhenItReturns() async throws {
        // A port where nothing listens yet: connections are refused, attempts are retried
        // (a long schedule, so nothing is dead-lettered on a slow machine before it returns).
        let port = try unusedLoopbackPort()
        let rig = try Rig(policy: RetryPolicy(schedule: Array(repeating: .milliseconds(100), count: 40), jitter: 0,
                                              minimumDelay: .milliseconds(10)))
        let subscription = try rig.subscribe("http://127.0.0.1:\(port)/hook")
        for n in 0..<3 { try rig.publish("evt_\(n)", data: "\(n)") }
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).failedAttempts >= 3 })
        #expect(rig.store.state.deliveryCounts(for: subscription.id).lastError?.contains("refused") == true)
        let receiver = try ScriptedReceiver(port: port)
        defer { receiver.stop() }
        #expect(await rig.eventually(timeout: .seconds(10)) { $0.deliveryCounts(for: subscription.id).delivered == 3 })
        #expect(rig.store.state.deliveryCounts(for: subscription.id).deadLettered == 0)
        #expect(receiver.received.compactMap { $0.headers["webhook-id"] }.sorted() == ["evt_0", "evt_1", "evt_2"])
    }

    @Test func aBacklogBeyondTheLaneWindowIsDeliveredOnceEachInOrderAfterARestart() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        // A window of 8 for 60 pending deliveries: most of them wait in the backlog, both
        // before and after the restart, and the ordered lane must find their keys itself.
        let rig = try Rig(laneWindow: 8)
        let subscription = try rig.subscribe(receiver.url, ordered: true, paused: true)
        let keys = ["a", "b", "c"]
        for n in 0..<30 { try rig.publish("evt_\(n)", data: "\(n)", partitionKey: keys[n % 3]) }
        rig.stop()
        try rig.start()
        for n in 30..<60 { try rig.publish("evt_\(n)", data: "\(n)", partitionKey: keys[n % 3]) }
        try rig.subscribe(receiver.url, ordered: true, paused: false)
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 60 })
        let arrivals = receiver.received.compactMap { $0.headers["webhook-id"] }.map { Int($0.dropFirst(4))! }
        #expect(arrivals.count == 60)
        for key in 0..<3 {
            let ofKey = arrivals.filter { $0 % 3 == key }
            #expect(ofKey == ofKey.sorted())
            #expect(ofKey.count == 20)
        }
    }

    @Test func duringARotationBothSecretsSign() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        let rig = try Rig()
        let newSecret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        try rig.subscribe(receiver.url, secret: newSecret,
                          extraSecrets: [.init(value: oldSecret, expiresAt: wallClockMicroseconds() + 3_600_000_000)])
        try rig.publish("evt_rotating", data: "1")
        #expect(await eventually { receiver.received.count == 1 })
        let request = try #require(receiver.received.first)
        let header = request.headers["webhook-signature"] ?? ""
        #expect(header.split(separator: " ").count == 2)
        let timestamp = try #require(Int(request.headers["webhook-timestamp"] ?? ""))
        for secret in [newSecret, oldSecret] {
            _ = try WebhookVerifier(secrets: [try WebhookSecret(parsing: secret)]).verify(
                StandardWebhooksHeaders(id: "evt_rotating", timestamp: String(timestamp), signature: header),
                body: request.body, now: Int(Date().timeIntervalSince1970))
        }
    }

    @Test func theAddressCheckRefusesAtConnectTime() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        var engine = CurlMultiEngine.Configuration()
        engine.timeout = .seconds(2)
        let policy = TargetAddressPolicy()
        engine.addressCheck = { peer in policy.check(peer.ip) == nil }
        let rig = try Rig(engine: engine)
        // Registered as if the name had resolved publicly; at connect time it is loopback.
        let subscription = try rig.subscribe(receiver.url)
        try rig.publish("evt_rebound", data: "1")
        #expect(await rig.eventually { ($0.pendingDeliveries(for: subscription.id).first?.attempts ?? 0) >= 1 })
        #expect(receiver.received.isEmpty)
        #expect(rig.store.state.deliveryCounts(for: subscription.id).lastError?.contains("127.0.0.1") == true)
    }

    @Test func theCircuitBreakerHoldsAFailingSubscriptionAndShowsIt() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        // Every attempt fails for a while. Until 5 failures are in, each one frees a slot
        // for the next event (at most 5 + 10 - 1 requests); then only a probe goes, one per
        // 300 ms, until the script runs out. Without the breaker, the 10 in flight would be
        // retried every 300 ms: about 10 more requests in each such interval.
        receiver.setScript(Array(repeating: 500, count: 18))
        let rig = try Rig(policy: RetryPolicy(schedule: Array(repeating: .milliseconds(300), count: 40), jitter: 0,
                                              minimumDelay: .milliseconds(10)))
        let subscription = try rig.subscribe(receiver.url)
        for n in 0..<20 { try rig.publish("evt_\(n)", data: "\(n)") }
        #expect(await eventually { rig.status.status(of: subscription.id)?.circuitOpenedAt != nil })
        // Between probes it is open and says when the next one goes.
        #expect(await eventually {
            let lane = rig.status.status(of: subscription.id)
            return lane?.circuit == .open && lane?.nextProbeAt != nil
        })
        let openedAt = Date()
        try await Task.sleep(for: .milliseconds(200))
        let settled = receiver.received.count
        #expect(settled <= 14 + 1)
        try await Task.sleep(for: .milliseconds(600))
        // One probe per 300 ms, whatever the sleeps overshot by.
        let probesAllowed = Int(Date().timeIntervalSince(openedAt) / 0.3) + 1
        #expect(receiver.received.count - settled <= probesAllowed)
        #expect(rig.status.status(of: subscription.id)?.circuitOpenedAt != nil)
        // Once the script runs out the probe succeeds, the circuit closes and the rest go.
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 20 })
        #expect(await eventually { rig.status.status(of: subscription.id)?.circuitOpenedAt == nil })
        #expect(await eventually { rig.status.status(of: subscription.id)?.inFlight == 0 })
        // Opening and closing are each logged once, with the subscription; the probes are not.
        let circuitLines = rig.logged.all.filter { $0.message.hasPrefix("circuit") }
        #expect(circuitLines.map(\.level) == [.warning, .info], "\(circuitLines.map(\.message))")
        #expect(circuitLines.allSatisfy { $0.metadata["subscription"] == "\(subscription.id)" })
    }

    final class AttemptRecorder: DeliveryObserver {
        private let seen = Mutex<[(outcome: AttemptResult, latency: Int64?)]>([])

        func attemptFinished(_ outcome: AttemptResult, latencyMicroseconds: Int64?) {
            seen.withLock { $0.append((outcome, latencyMicroseconds)) }
        }

        var all: [(outcome: AttemptResult, latency: Int64?)] { seen.withLock { $0 } }
    }

    @Test func theObserverHearsEveryOutcomeAndTheCommitToDeliveryLatencyOfLiveDeliveries() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        receiver.setScript([500])
        let recorder = AttemptRecorder()
        let rig = try Rig(observer: recorder)
        let subscription = try rig.subscribe(receiver.url)
        let started = wallClockMicroseconds()
        try rig.publish("evt_1", data: "1")
        try rig.publish("evt_2", data: "2")
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 2 })
        let live = recorder.all
        #expect(live.map(\.outcome).sorted { $0.rawValue < $1.rawValue } == [.delivered, .delivered, .retryScheduled])
        #expect(live.filter { $0.outcome == .retryScheduled }.allSatisfy { $0.latency == nil })
        let latencies = live.compactMap(\.latency)
        #expect(latencies.count == 2)
        // The one that failed first waited for its 50 ms retry; neither took longer than the test.
        #expect((latencies.max() ?? 0) >= 50_000)
        #expect(latencies.allSatisfy { $0 >= 0 && $0 <= wallClockMicroseconds() - started })

        // A resend is owed long after the commit: delivered, without a latency.
        let reference = try #require(try rig.store.event(id: "evt_1")).reference
        _ = try rig.append([JournalEntry(.eventsResent(subscriptionID: subscription.id, events: [reference]))])
        #expect(await eventually { recorder.all.count == 4 })
        #expect(recorder.all.last?.outcome == .delivered)
        #expect(recorder.all.last.map { $0.latency == nil } == true)
    }

    @Test func theRateLimitIsKept() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url, rateLimit: 5)
        let started = Date()
        for n in 0..<10 { try rig.publish("evt_rate_\(n)", data: "\(n)") }
        #expect(await rig.eventually(timeout: .seconds(10)) { $0.deliveryCounts(for: subscription.id).delivered == 10 })
        // 5 at once (one second's worth of tokens), then 5 per second.
        #expect(Date().timeIntervalSince(started) >= 0.9)
    }

    @Test func failuresAreRetriedThenDeadLettered() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        receiver.setScript([500, 503, 200, 500, 500, 500, 500])
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url)
        try rig.publish("evt_retry", data: "1")
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 1 })
        #expect(receiver.received.count == 3)
        // The next event fails on every attempt: 4 attempts (1 + the 3-step schedule), then parked.
        try rig.publish("evt_doomed", data: "2")
        #expect(await rig.eventually { $0.deadLetters(for: subscription.id).count == 1 })
        #expect(receiver.received.count == 7)
        #expect(rig.store.state.deadLetters(for: subscription.id).first?.reason == "HTTP 500")
        #expect(rig.store.state.deliveryCounts(for: subscription.id).attempts == 7)
        let deadLettered = rig.logged.all.filter { $0.message == "delivery dead-lettered" }
        #expect(deadLettered.count == 1 && deadLettered.first?.level == .info)
        #expect(deadLettered.first?.metadata["attempts"] == "4" && deadLettered.first?.metadata["subscription"] == "\(subscription.id)")

        // Redelivered while running: the receiver is healthy now, so it goes through.
        let parked = try #require(rig.store.state.deadLetters(for: subscription.id).first)
        let change = DeadLettersChangedRecord(subscriptionID: subscription.id, action: .redeliver, sequences: [parked.sequence])
        _ = try rig.append([JournalEntry(kind: .deadLettersChanged, payload: change.encode())])
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 2 })
        #expect(receiver.received.count == 8)
        #expect(rig.store.state.deadLetters(for: subscription.id).isEmpty)
    }

    @Test func aSubscriptionsOwnMaxAttemptsOverridesTheDispatchers() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        receiver.setScript(Array(repeating: 500, count: 10))
        let rig = try Rig()  // 4 attempts of its own: 1 + the 3-step schedule
        let subscription = try rig.subscribe(receiver.url, retry: .init(maxAttempts: 2, maxAgeSeconds: nil))
        try rig.publish("evt_short", data: "1")
        #expect(await rig.eventually { $0.deadLetters(for: subscription.id).count == 1 })
        #expect(receiver.received.count == 2)
        // Changed while running: the next pass reads the new limit.
        try rig.subscribe(receiver.url, retry: .init(maxAttempts: 3, maxAgeSeconds: nil))
        rig.dispatcher.nudge()
        try await Task.sleep(for: .milliseconds(50))
        try rig.publish("evt_longer", data: "2")
        #expect(await rig.eventually { $0.deadLetters(for: subscription.id).count == 2 })
        #expect(receiver.received.count == 5)
    }

    @Test func maxInFlightIsRespected() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        receiver.holdAnswers()
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url, maxInFlight: 2)
        for n in 0..<6 { try rig.publish("evt_\(n)", data: "\(n)") }
        #expect(await eventually { receiver.received.count == 2 })
        try await Task.sleep(for: .milliseconds(300))
        #expect(receiver.received.count == 2)
        receiver.releaseHeld()
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 6 })
    }

    @Test func orderedSubscriptionsKeepEachPartitionInOrderUnderFailures() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        // The first attempt (a-1) fails: a-2 must wait for it; b-1 need not.
        receiver.setScript([500])
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url, ordered: true)
        try rig.publish("a-1", data: "1", partitionKey: "a")
        // The others once a-1's first attempt is in (with two transfer threads, b-1 sent in
        // the same batch could otherwise reach the receiver first and take the 500).
        #expect(await eventually { receiver.received.count == 1 })
        try rig.publish("a-2", data: "2", partitionKey: "a")
        try rig.publish("b-1", data: "3", partitionKey: "b")
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 3 })
        let arrivals = receiver.received.compactMap { $0.headers["webhook-id"] }
        let successes = arrivals.enumerated().filter { $0.offset != 0 }.map(\.element)
        #expect(arrivals.first == "a-1")
        #expect(successes.firstIndex(of: "a-1")! < successes.firstIndex(of: "a-2")!)
        #expect(arrivals.filter { $0 == "a-2" }.count == 1)
    }

    @Test func outcomesWaitingForTheirBatchAreJournaledAtShutdown() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        // Outcomes would wait a minute for their append: only the shutdown can write them.
        let rig = try Rig(attemptBatchInterval: .seconds(60))
        let subscription = try rig.subscribe(receiver.url, maxInFlight: 20)
        for index in 0..<20 { try rig.publish("evt_\(index)", data: "\(index)") }
        // Every outcome has reached the dispatcher (nothing in flight), none is journaled yet.
        #expect(await eventually {
            receiver.received.count == 20 && rig.status.status(of: subscription.id)?.inFlight == 0
        })
        rig.settle()
        #expect(rig.store.state.deliveryCounts(for: subscription.id).delivered == 0)
        rig.stop()
        try rig.start()
        #expect(rig.store.state.deliveryCounts(for: subscription.id).delivered == 20)
        #expect(rig.store.state.pendingDeliveries(for: subscription.id).isEmpty)
        try await Task.sleep(for: .milliseconds(200))
        #expect(receiver.received.count == 20, "nothing is sent twice after the restart")
    }

    @Test func pendingDeliveriesResumeAfterARestart() async throws {
        let receiver = try ScriptedReceiver()
        defer { receiver.stop() }
        // Retries a second apart, so the restart happens between two attempts.
        let rig = try Rig(policy: RetryPolicy(schedule: [.seconds(1), .seconds(1), .seconds(1)], jitter: 0,
                                              minimumDelay: .milliseconds(10)))
        // Nothing listens here: every attempt fails to connect and is rescheduled.
        let deadPort = try unusedLoopbackPort()
        let subscription = try rig.subscribe("http://127.0.0.1:\(deadPort)/hook")
        try rig.publish("evt_waiting", data: "1")
        #expect(await rig.eventually { $0.pendingDeliveries(for: subscription.id).first?.attempts ?? 0 >= 1 })
        rig.stop()
        try rig.start()
        #expect(rig.store.state.pendingDeliveries(for: subscription.id).count == 1)
        try rig.subscribe(receiver.url, id: subscription.id)
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 1 })
        #expect(receiver.received.compactMap { $0.headers["webhook-id"] } == ["evt_waiting"])
    }
}
