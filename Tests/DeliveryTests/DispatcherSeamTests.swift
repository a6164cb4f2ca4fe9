@testable import Delivery
@testable import Gateway
import Logging
import Runtime
import Testing

/// The dispatcher through the storage seam alone: an in-memory `DeliveryStore`, a transport
/// the test answers by hand and a clock the test moves. No journal, socket, thread or sleep:
/// every step is a call, so every assertion is exact.
@Suite("Dispatcher over the storage seam")
struct DispatcherSeamTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    /// A dispatcher wired to fakes, prepared and loaded, not started (no thread).
    final class Rig {
        let store = InMemoryDeliveryStore()
        let clock = ManualClock()
        let status = DeliveryStatusBoard()
        private(set) var transport: HandTransport!
        let dispatcher: WebhookDispatcher

        init(policy: RetryPolicy = RetryPolicy(schedule: [.seconds(30), .seconds(60)], jitter: 0, maxAttempts: 3),
             subscriptions: [Subscription] = [Rig.subscription()], tenantDeliveryRateLimit: Int? = nil,
             setUp: (InMemoryDeliveryStore) -> Void = { _ in }) throws {
            subscriptions.forEach(store.put)
            setUp(store)
            var configuration = WebhookDispatcher.Configuration()
            configuration.retryPolicy = policy
            configuration.tenantDeliveryRateLimit = tenantDeliveryRateLimit
            var made: HandTransport?
            dispatcher = WebhookDispatcher(
                store: store, status: status, configuration: configuration,
                logger: Logger(label: "seam-test") { _ in SwiftLogNoOpLogHandler() }, clock: clock,
                transport: { onCompletions in
                    let transport = HandTransport(onCompletions: onCompletions)
                    made = transport
                    return transport
                })
            try dispatcher.prepare()
            transport = made
            dispatcher.load()
        }

        static func subscription(_ id: String = "sub_a", ordered: Bool = false, maxInFlight: Int = 10) -> Subscription {
            var subscription = Subscription(id: id, url: "http://receiver.test/\(id)", eventTypes: [EventTypePattern("*")!],
                                            secrets: [.init(value: DispatcherSeamTests.secret, expiresAt: nil)])
            subscription.ordered = ordered
            subscription.maxInFlight = maxInFlight
            return subscription
        }

        /// One turn, then what it sent.
        func sent() -> [DeliveryRequest] {
            dispatcher.step()
            return transport.take()
        }

        /// Takes the answers in, then lets the outcome batch interval pass so they are recorded.
        func flush() {
            dispatcher.step()
            clock.advance(.milliseconds(2))
            dispatcher.step()
        }
    }

    @Test func aFanOutIsSignedSentAndRecordedAsDelivered() throws {
        let rig = try Rig()
        rig.store.addEvent(1, id: "evt_one", data: #"{"n":1}"#)
        rig.store.fanOut(1, to: ["sub_a"])
        let requests = rig.sent()
        try #require(requests.count == 1)
        let request = requests[0]
        #expect(request.url == "http://receiver.test/sub_a")
        #expect(request.body == Array(#"{"id":"evt_one","type":"a.b","data":{"n":1}}"#.utf8))
        let header = { (name: String) in request.headers.first { $0.name == name }?.value }
        #expect(header("webhook-id") == "evt_one")
        let timestamp = try #require(header("webhook-timestamp").flatMap { Int($0) })
        #expect(timestamp == Int(rig.clock.wallMicroseconds() / 1_000_000))
        _ = try WebhookVerifier(secrets: [try WebhookSecret(parsing: Self.secret)])
            .verify(StandardWebhooksHeaders(field: header), body: request.body, now: timestamp)
        rig.transport.answer(request, status: 200)
        rig.flush()
        #expect(rig.store.recorded.map(\.result) == [.delivered])
        #expect(rig.store.recorded.first?.sequence == 1)
        #expect(rig.sent().isEmpty)
    }

    @Test func retriesRunOnTheMonotonicClockWhateverTheWallClockDoes() throws {
        let rig = try Rig()
        rig.store.addEvent(1)
        rig.store.fanOut(1, to: ["sub_a"])
        let first = try #require(rig.sent().first)
        let failedAt = rig.clock.wallMicroseconds()
        rig.transport.answer(first, status: 500)
        rig.flush()
        let record = try #require(rig.store.recorded.first)
        #expect(record.result == .retryScheduled)
        // The record carries the wall-clock time of the retry (30 s after the failure).
        #expect(record.nextAttemptAt == failedAt + 30_000_000)
        // The wall clock is set back an hour: the retry must not wait an hour longer.
        rig.clock.stepWall(.seconds(-3600))
        rig.clock.advance(.seconds(29))
        #expect(rig.sent().isEmpty, "not due yet")
        rig.clock.advance(.seconds(1))
        let retry = try #require(rig.sent().first)
        #expect(retry.headers.first { $0.name == "webhook-id" }?.value == "evt_1")
        // And a wall clock set forward does not send the next retry early.
        rig.transport.answer(retry, status: 503)
        rig.flush()
        rig.clock.stepWall(.seconds(7200))
        #expect(rig.sent().isEmpty)
        rig.clock.advance(.seconds(60))
        #expect(rig.sent().count == 1)
    }

    @Test func theLoadTurnsJournaledRetryTimesIntoMonotonicOnes() throws {
        let clockAtStart = ManualClock().wallMicroseconds()
        let rig = try Rig { store in
            let event = store.addEvent(7)
            store.owe("sub_a", [PendingDelivery(event: event, attempts: 2, firstAttemptAt: clockAtStart - 60_000_000,
                                                nextAttemptAt: clockAtStart + 10_000_000, lastError: "HTTP 500")])
        }
        #expect(rig.sent().isEmpty)
        rig.clock.advance(.seconds(9))
        #expect(rig.sent().isEmpty)
        rig.clock.advance(.seconds(1))
        let request = try #require(rig.sent().first)
        rig.transport.answer(request, status: 200)
        rig.flush()
        // The attempt count went on from the journal's.
        #expect(rig.store.recorded.map(\.attempt) == [3])
    }

    /// A wall clock far behind at start (a VM restored from a snapshot) makes every journaled
    /// retry look days away; none may wait longer than the policy could ever have asked.
    @Test func aRetryLoadedFromTheJournalNeverWaitsLongerThanThePolicyAllows() throws {
        let start = ManualClock().wallMicroseconds()
        let rig = try Rig { store in
            let event = store.addEvent(7)
            store.owe("sub_a", [PendingDelivery(event: event, attempts: 1, firstAttemptAt: start,
                                                nextAttemptAt: start + 7 * 86_400_000_000, lastError: "HTTP 500")])
        }
        let policy = RetryPolicy(schedule: [.seconds(30), .seconds(60)], jitter: 0, maxAttempts: 3)
        let longest = max(policy.maximumDelay, policy.retryAfterCap)
        rig.clock.advance(longest - .seconds(1))
        #expect(rig.sent().isEmpty)
        rig.clock.advance(.seconds(1))
        #expect(rig.sent().count == 1)
    }

    @Test func outOfAttemptsIsADeadLetter() throws {
        let rig = try Rig()
        rig.store.addEvent(1)
        rig.store.fanOut(1, to: ["sub_a"])
        for wait in [Duration.seconds(30), .seconds(60), .zero] {
            let request = try #require(rig.sent().first)
            rig.transport.answer(request, status: 500)
            rig.flush()
            rig.clock.advance(wait)
        }
        #expect(rig.store.recorded.map(\.result) == [.retryScheduled, .retryScheduled, .deadLettered])
        #expect(rig.store.recorded.map(\.attempt) == [1, 2, 3])
        rig.clock.advance(.seconds(3600))
        #expect(rig.sent().isEmpty)
    }

    @Test func a410HoldsTheLaneUntilTheDisableIsInEffect() throws {
        let rig = try Rig()
        rig.store.disablesTakeEffectAtOnce = false
        for sequence in UInt64(1)...3 { rig.store.addEvent(sequence) }
        rig.store.fanOut(1, to: ["sub_a"])
        let first = try #require(rig.sent().first)
        rig.transport.answer(first, status: 410)
        rig.store.fanOut(2, to: ["sub_a"])
        rig.store.fanOut(3, to: ["sub_a"])
        // The disable is on its way to the store: nothing may slip out meanwhile.
        rig.clock.advance(.seconds(1))
        #expect(rig.sent().isEmpty)
        rig.store.applyDisables()
        rig.clock.advance(.seconds(1))
        #expect(rig.sent().isEmpty, "disabled: held until resumed")
        rig.store.update("sub_a") { $0.disabledReason = nil }
        #expect(rig.sent().map { $0.headers.first { $0.name == "webhook-id" }?.value } == ["evt_1", "evt_2", "evt_3"])
    }

    @Test func pausedHoldsDeletedDropsAndLimitsAreRead() throws {
        let rig = try Rig(subscriptions: [Rig.subscription("sub_a", maxInFlight: 2), Rig.subscription("sub_b")])
        for sequence in UInt64(1)...4 { rig.store.addEvent(sequence) }
        rig.store.update("sub_b") { $0.paused = true }
        for sequence in UInt64(1)...4 { rig.store.fanOut(sequence, to: ["sub_a", "sub_b"]) }
        let sent = rig.sent()
        #expect(sent.map(\.url) == ["http://receiver.test/sub_a", "http://receiver.test/sub_a"], "two in flight, b paused")
        #expect(rig.status.status(of: "sub_a")?.inFlight == 2)
        rig.store.remove(subscription: "sub_b")
        for request in sent { rig.transport.answer(request, status: 200) }
        #expect(rig.sent().count == 2)
        #expect(rig.status.status(of: "sub_b") == nil, "a deleted subscription's lane is gone")
    }

    @Test func fanOutsTheLoadAlreadyCoveredAreNotTakenTwice() throws {
        let rig = try Rig { store in
            let event = store.addEvent(5)
            store.owe("sub_a", [PendingDelivery(event: event, attempts: 0, firstAttemptAt: nil, nextAttemptAt: nil, lastError: nil)])
        }
        let first = try #require(rig.sent().first)
        rig.transport.answer(first, status: 200)
        // The commit's own report of that fan-out arrives after the load.
        rig.store.fanOut(5, to: ["sub_a"], cause: 5)
        #expect(rig.sent().isEmpty)
        // A redelivery is a later cause: it is taken.
        rig.store.fanOut(5, to: ["sub_a"], cause: 9)
        #expect(rig.sent().count == 1)
    }

    @Test func anOrderedLaneSendsOneAtATimePerKey() throws {
        let rig = try Rig(subscriptions: [Rig.subscription(ordered: true)])
        rig.store.addEvent(1, key: "k")
        rig.store.addEvent(2, key: "k")
        rig.store.addEvent(3, key: "other")
        for sequence in UInt64(1)...3 { rig.store.fanOut(sequence, to: ["sub_a"]) }
        let ids = { (requests: [DeliveryRequest]) in requests.compactMap { $0.headers.first { $0.name == "webhook-id" }?.value } }
        let first = rig.sent()
        #expect(ids(first) == ["evt_1", "evt_3"])
        rig.transport.answer(first[0], status: 500)
        rig.dispatcher.step()
        rig.clock.advance(.seconds(29))
        #expect(rig.sent().isEmpty, "evt_2 waits behind evt_1's retry")
        rig.clock.advance(.seconds(1))
        let retry = rig.sent()
        #expect(ids(retry) == ["evt_1"])
        rig.transport.answer(retry[0], status: 200)
        #expect(ids(rig.sent()) == ["evt_2"])
    }
}
