import Foundation
@testable import Delivery
@testable import Gateway
import JSON
import Synchronization
import TargetPolicy
import TestSupport
import Testing

/// Issue 9: replayed and resent deliveries go through the dispatcher like live ones: signed,
/// with the event's own id as `webhook-id`, counted against the replay.
@Suite("Replay and resend delivery")
struct ReplayDeliveryTests {
    typealias Rig = WebhookDispatcherTests.Rig

    static func core(_ rig: Rig) throws -> GatewayCore {
        var configuration = GatewayCore.Configuration()
        configuration.targetPolicy = TargetAddressPolicy(allowPrivate: true)
        return try GatewayCore(configuration: configuration, store: rig.store)
    }

    static func wait<T: Sendable>(_ start: (@escaping OperationCompletion<T>) throws(GatewayError) -> Void) throws -> T {
        let result = Mutex<Result<T, GatewayError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        try start { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    @Test func aReplayDeliversItsWindowAgainWithTheSameWebhookIDsAndSignatures() async throws {
        let receiver = try WebhookDispatcherTests.ScriptedReceiver()
        defer { receiver.stop() }
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url)
        for index in 1...6 { try rig.publish("evt_\(index)", data: "{\"n\":\(index)}") }
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 6 })
        let core = try Self.core(rig)
        defer { core.replayer.stop() }
        let replay = try Self.wait { done throws(GatewayError) in
            try core.startReplay(subscription.id, .object([("since", .string("2000-01-01T00:00:00Z"))]), completion: done)
        }
        #expect(await eventually { receiver.received.count == 12 })
        let ids = receiver.received.map { $0.headers["webhook-id"] ?? "" }
        #expect(Array(ids.suffix(6)) == (1...6).map { "evt_\($0)" })
        let secrets = try subscription.secrets.map { try WebhookSecret(parsing: $0.value) }
        for request in receiver.received.suffix(6) {
            _ = try WebhookVerifier(secrets: secrets).verify(
                StandardWebhooksHeaders { request.headers[$0] }, body: request.body, now: Int(Date().timeIntervalSince1970))
        }
        #expect(await rig.eventually { _ in rig.store.replay(replay.id)?.status == .completed })
        let finished = try #require(rig.store.replay(replay.id))
        #expect(finished.total == 6 && finished.delivered == 6 && finished.deadLettered == 0)
    }

    @Test func aResendDeliversOneEventAgain() async throws {
        let receiver = try WebhookDispatcherTests.ScriptedReceiver()
        defer { receiver.stop() }
        let rig = try Rig()
        let subscription = try rig.subscribe(receiver.url)
        try rig.publish("evt_a", data: "{}")
        try rig.publish("evt_b", data: "{}")
        #expect(await eventually { receiver.received.count == 2 })
        let core = try Self.core(rig)
        defer { core.replayer.stop() }
        let sent = try Self.wait { done throws(GatewayError) in try core.resend("evt_a", to: nil, completion: done) }
        #expect(sent == [subscription.id])
        #expect(await eventually { receiver.received.count == 3 })
        #expect(receiver.received.last?.headers["webhook-id"] == "evt_a")
        #expect(await rig.eventually { $0.deliveryCounts(for: subscription.id).delivered == 3 })
    }

    /// Retention carries an owed event into a new segment and deletes the old one while the
    /// dispatcher may hold the old place: it follows the event to the new one.
    @Test func aDeliveryOwedAcrossRetentionIsStillSent() async throws {
        let receiver = try WebhookDispatcherTests.ScriptedReceiver()
        defer { receiver.stop() }
        let rig = try Rig(segmentSize: 1024)
        let subscription = try rig.subscribe(receiver.url, paused: true)
        try rig.publish("evt_old", data: "{\"kept\":true}")
        for index in 0..<40 { try rig.publish("evt_f\(index)", data: "{}") }
        rig.settle()
        let first = try #require(rig.store.state.pendingDeliveries(for: subscription.id).first).event.location.segment
        #expect(first != rig.store.journal.activeSegment)
        // What retention does before it deletes a segment, without waiting out a real one.
        for (_, location) in rig.store.state.owedEvents(in: first).sorted(by: { $0.key < $1.key }) {
            let original = try rig.store.journal.read(location)
            _ = try rig.append([JournalEntry(kind: .eventCarried, payload: CarriedEventRecord(original).encode())])
        }
        #expect(rig.store.state.owedEvents(in: first).isEmpty)
        rig.store.journal.forget(segment: first)
        var resumed = subscription
        resumed.paused = false
        resumed.createdAt = try #require(rig.store.state.subscription(subscription.id)).createdAt
        _ = try rig.append([JournalEntry(kind: .subscriptionUpserted, payload: JSONParser.serialize(resumed.storedJSON()))])
        #expect(await eventually { receiver.received.count == 41 })
        let old = try #require(receiver.received.first { $0.headers["webhook-id"] == "evt_old" })
        let body = String(decoding: old.body, as: UTF8.self)
        #expect(body.hasSuffix(#""data":{"kept":true}}"#))
    }
}
