import Foundation
import Runtime
@testable import Gateway
import TestSupport
import Testing

/// Issue 9: `POST /v1/subscriptions/{id}/replays` and `POST /v1/events/{id}/resend`, as the
/// API answers them and as the ledger owes their deliveries (delivery itself is tested in
/// DeliveryTests/ReplayDeliveryTests).
@Suite("Replays and resends API")
struct ReplaysAPITests {
    static func subscribe(_ gateway: GatewayHarness, _ types: String) throws -> String {
        let response = try gateway.request("POST", "/v1/subscriptions", body: "{\"url\":\"https://a.example/\",\"eventTypes\":\(types)}")
        #expect(response.status == 201, "\(response.text)")
        return try #require(response.json["id"] as? String)
    }

    static func publish(_ gateway: GatewayHarness, _ type: String, n: Int) throws -> (id: String, sequence: UInt64) {
        let response = try gateway.request("POST", "/v1/events", body: "{\"type\":\"\(type)\",\"data\":{\"n\":\(n)}}")
        #expect(response.status == 202, "\(response.text)")
        return (try #require(response.json["id"] as? String), UInt64(try #require(response.json["sequence"] as? Int)))
    }

    /// Marks every pending delivery of `subscription` delivered, as the dispatcher would.
    static func deliverAll(_ gateway: GatewayHarness, _ subscription: String) {
        let pending = gateway.store.state.pendingDeliveries(for: subscription)
        gateway.store.recordAttempts(pending.map {
            DeliveryAttemptRecord(subscriptionID: subscription, sequence: $0.sequence, attempt: 1, status: 200, error: "",
                                  durationMicroseconds: 5, response: [], result: .delivered)
        })
        DeliveryLedgerTests.settle(gateway)
    }

    static func replayState(_ gateway: GatewayHarness, _ subscription: String, _ id: String) throws -> [String: Any] {
        let response = try gateway.request("GET", "/v1/subscriptions/\(subscription)/replays/\(id)")
        #expect(response.status == 200, "\(response.text)")
        return response.json
    }

    @Test func aReplayOwesTheWindowsMatchingEventsAgainAndCountsThemDelivered() async throws {
        let gateway = try GatewayHarness()
        let subscription = try Self.subscribe(gateway, #"["order.*"]"#)
        var orders: [UInt64] = []
        for n in 0..<20 {
            orders.append(try Self.publish(gateway, n % 2 == 0 ? "order.created" : "order.paid", n: n).sequence)
            _ = try Self.publish(gateway, "user.created", n: n)
        }
        Self.deliverAll(gateway, subscription)
        #expect(gateway.store.state.pendingDeliveries(for: subscription).isEmpty)
        let started = try gateway.request("POST", "/v1/subscriptions/\(subscription)/replays",
                                          body: #"{"since":"2000-01-01T00:00:00Z","types":["order.created"]}"#)
        #expect(started.status == 202, "\(started.text)")
        let id = try #require(started.json["id"] as? String)
        #expect(id.hasPrefix("rpl_"))
        #expect(await eventually { (try? Self.replayState(gateway, subscription, id)["status"] as? String) == "delivering" })
        // Only the created orders, in journal order: the subscription's patterns and the
        // replay's types both apply; user events are not the subscription's.
        #expect(gateway.store.state.pendingDeliveries(for: subscription).map(\.sequence) == orders.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
        #expect(try Self.replayState(gateway, subscription, id)["total"] as? Int == 10)
        Self.deliverAll(gateway, subscription)
        let done = try Self.replayState(gateway, subscription, id)
        #expect(done["status"] as? String == "completed" && done["delivered"] as? Int == 10, "\(done)")
        let list = try gateway.request("GET", "/v1/subscriptions/\(subscription)/replays")
        #expect((list.json["replays"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
        try gateway.restart()
        #expect(try Self.replayState(gateway, subscription, id)["status"] as? String == "completed")
    }

    @Test func aWindowBoundsTheReplayAndCancellingDropsWhatItStillOwes() async throws {
        let gateway = try GatewayHarness()
        let subscription = try Self.subscribe(gateway, #"["*"]"#)
        _ = try Self.publish(gateway, "a.b", n: 0)
        try await Task.sleep(for: .milliseconds(20))
        let since = Timestamp.format(microseconds: wallClockMicroseconds())
        var inside: [UInt64] = []
        for n in 1...5 { inside.append(try Self.publish(gateway, "a.b", n: n).sequence) }
        try await Task.sleep(for: .milliseconds(20))
        let until = Timestamp.format(microseconds: wallClockMicroseconds())
        _ = try Self.publish(gateway, "a.b", n: 6)
        Self.deliverAll(gateway, subscription)
        let started = try gateway.request("POST", "/v1/subscriptions/\(subscription)/replays", body: "{\"since\":\"\(since)\",\"until\":\"\(until)\"}")
        let id = try #require(started.json["id"] as? String)
        #expect(await eventually { gateway.store.state.pendingDeliveries(for: subscription).count == 5 })
        #expect(gateway.store.state.pendingDeliveries(for: subscription).map(\.sequence) == inside)
        let cancelled = try gateway.request("DELETE", "/v1/subscriptions/\(subscription)/replays/\(id)")
        #expect(cancelled.status == 200 && cancelled.json["status"] as? String == "cancelled", "\(cancelled.text)")
        #expect(gateway.store.state.pendingDeliveries(for: subscription).isEmpty)
        #expect(try gateway.request("DELETE", "/v1/subscriptions/\(subscription)/replays/\(id)").status == 409)
    }

    @Test func badReplaysAreRefusedWithAReason() throws {
        let gateway = try GatewayHarness()
        let subscription = try Self.subscribe(gateway, #"["*"]"#)
        let path = "/v1/subscriptions/\(subscription)/replays"
        for (body, says) in [
            ("{}", "'since' is required"),
            (#"{"since":"yesterday"}"#, "RFC 3339"),
            (#"{"since":"2000-01-01T00:00:00Z","until":"1999-01-01T00:00:00Z"}"#, "before 'until'"),
            (#"{"since":"2000-01-01T00:00:00Z","types":["no good"]}"#, "patterns"),
            (#"{"since":"2000-01-01T00:00:00Z","speed":2}"#, "Unknown field 'speed'"),
        ] {
            let response = try gateway.request("POST", path, body: body)
            #expect(response.status == 422 && (response.json["detail"] as? String)?.contains(says) == true, "\(body): \(response.text)")
        }
        #expect(try gateway.request("POST", "/v1/subscriptions/sub_nope/replays", body: #"{"since":"2000-01-01T00:00:00Z"}"#).status == 404)
        #expect(try gateway.request("GET", "\(path)/rpl_nope").status == 404)
        #expect(try gateway.request("POST", path, token: nil, body: #"{"since":"2000-01-01T00:00:00Z"}"#).status == 401)
    }

    @Test func aResendOwesOneEventToItsSubscriptionsOrTheOneNamed() throws {
        let gateway = try GatewayHarness()
        let orders = try Self.subscribe(gateway, #"["order.*"]"#)
        let all = try Self.subscribe(gateway, #"["*"]"#)
        let users = try Self.subscribe(gateway, #"["user.*"]"#)
        let event = try Self.publish(gateway, "order.created", n: 1)
        Self.deliverAll(gateway, orders)
        Self.deliverAll(gateway, all)
        let everyone = try gateway.request("POST", "/v1/events/\(event.id)/resend")
        #expect(everyone.status == 202, "\(everyone.text)")
        #expect(Set(everyone.json["subscriptions"] as? [String] ?? []) == [orders, all])
        #expect(gateway.store.state.pendingDeliveries(for: orders).map(\.sequence) == [event.sequence])
        // Named: even one whose patterns do not match; a pending one keeps its single place.
        let named = try gateway.request("POST", "/v1/events/\(event.id)/resend", body: "{\"subscriptionId\":\"\(users)\"}")
        #expect(named.status == 202 && named.json["subscriptions"] as? [String] == [users], "\(named.text)")
        #expect(try gateway.request("POST", "/v1/events/\(event.id)/resend").status == 202)
        #expect(gateway.store.state.pendingDeliveries(for: orders).map(\.sequence) == [event.sequence])
        #expect(try gateway.request("POST", "/v1/events/evt_01AAAAAAAAAAAAAAAAAAAAAAAA/resend").status == 404)
        #expect(try gateway.request("POST", "/v1/events/\(event.id)/resend", body: #"{"subscriptionId":"sub_nope"}"#).status == 404)
        let user = try Self.publish(gateway, "ping.x", n: 2)
        #expect(try gateway.request("DELETE", "/v1/subscriptions/\(all)").status == 204)
        #expect(try gateway.request("POST", "/v1/events/\(user.id)/resend").status == 422)
    }
}
