import Foundation
@testable import Delivery
@testable import Gateway
import HTTPServer
import TestSupport
import Testing

/// Issue 11 end to end: events published through the API, delivered by the dispatcher to
/// real receivers on loopback, one per tenant and one of the admin's — who receives what,
/// and a tenant's shared delivery rate as receivers see it.
@Suite("Tenant delivery", .serialized)
struct TenantDeliveryTests {
    static func envelope(_ type: String, tenant: String? = nil, n: Int = 0) -> String {
        "{\"type\":\"\(type)\"" + (tenant.map { ",\"tenant\":\"\($0)\"" } ?? "") + ",\"data\":{\"n\":\(n)}}"
    }

    static func subscribe(_ gateway: LiveGateway, token: String = LiveGateway.adminToken, _ receiver: Receiver, _ types: [String],
                          tenantId: String? = nil) throws -> String {
        let list = types.map { "\"\($0)\"" }.joined(separator: ",")
        let body = "{\"url\":\"\(receiver.url("/hook"))\",\"eventTypes\":[\(list)]" + (tenantId.map { ",\"tenantId\":\"\($0)\"" } ?? "") + "}"
        let response = try gateway.request("POST", "/v1/subscriptions", token: token, body: body)
        #expect(response.status == 201, "\(response.text)")
        return try #require(response.json["id"] as? String)
    }

    static func publish(_ gateway: LiveGateway, token: String = LiveGateway.adminToken, _ body: String, batch: Bool = false) throws -> [String] {
        let response = try gateway.request("POST", batch ? "/v1/events/batch" : "/v1/events", token: token, body: body)
        #expect(response.status == 202, "\(response.text)")
        if batch { return (response.json["events"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } }
        return [try #require(response.json["id"] as? String)]
    }

    /// Waits until the journal has folded every record appended so far (attempt records too).
    static func settle(_ store: JournalStore) {
        let done = DispatchSemaphore(value: 0)
        store.journal.append([]) { _ in done.signal() }
        done.wait()
    }

    /// The event ids a receiver was sent (its `webhook-id`s).
    static func received(_ receiver: Receiver) -> [String] {
        receiver.requests.map { $0.headers["webhook-id"] ?? "" }
    }

    @Test func eachReceiverGetsWhatItsTenantWasAddressedAndTheBroadcastsOfVisibleTypes() async throws {
        let gateway = try LiveGateway()
        let receivers = try (0..<4).map { _ in try Receiver() }
        defer { receivers.forEach { $0.stop() } }
        for (name, visible) in [("order.created", true), ("order.paid", true), ("audit.logged", false)] {
            #expect(try gateway.request("PUT", "/v1/event-types/\(name)", body: "{\"tenantVisible\":\(visible)}").status == 201)
        }
        for id in ["t1", "t2", "t3"] {
            #expect(try gateway.request("POST", "/v1/tenants", body: "{\"id\":\"\(id)\",\"name\":\"\(id)\"}").status == 201)
        }
        let t1Token = try #require(try gateway.request("POST", "/v1/tenants/t1/tokens").json["token"] as? String)
        let source = try #require(try gateway.request("POST", "/v1/sources", body: #"{"name":"shop"}"#).json["token"] as? String)
        let subscriptions = [
            try Self.subscribe(gateway, token: t1Token, receivers[1], ["order.*"]),
            try Self.subscribe(gateway, receivers[2], ["*"], tenantId: "t2"),
            try Self.subscribe(gateway, receivers[3], ["order.created"], tenantId: "t3"),
            try Self.subscribe(gateway, receivers[0], ["*"]),
        ]

        let toT1 = try Self.publish(gateway, Self.envelope("order.paid", tenant: "t1"))[0]
        let toT2 = try Self.publish(gateway, token: source, Self.envelope("order.created", tenant: "t2"))[0]
        let batch = try Self.publish(gateway, token: source, """
            {"events":[\(Self.envelope("order.created", tenant: "t3")),\(Self.envelope("order.created")),
                       \(Self.envelope("audit.logged")),\(Self.envelope("order.paid", tenant: "t3")),\(Self.envelope("misc.thing"))]}
            """, batch: true)
        try #require(batch.count == 5)
        let (toT3, broadcast, hidden, paidToT3, unregistered) = (batch[0], batch[1], batch[2], batch[3], batch[4])
        // Refused, so received by nobody.
        for body in [Self.envelope("order.created", tenant: "t4"), Self.envelope("audit.logged", tenant: "t1")] {
            #expect(try gateway.request("POST", "/v1/events", body: body).status == 422)
        }
        _ = paidToT3  // t3's only subscription takes order.created: addressed to it, it reaches nobody.

        let expected: [Set<String>] = [[broadcast, hidden, unregistered], [toT1, broadcast], [toT2, broadcast], [toT3, broadcast]]
        let delivered = await eventually(timeout: .seconds(10)) {
            Self.settle(gateway.store)
            return subscriptions.allSatisfy { gateway.store.state.deliveryCounts(for: $0).pending == 0 }
                && zip(receivers, expected).allSatisfy { Set(Self.received($0.0)).isSuperset(of: $0.1) }
        }
        #expect(delivered)
        for (index, receiver) in receivers.enumerated() {
            #expect(Self.received(receiver).sorted() == expected[index].sorted(), "receiver \(index)")
        }
    }

    /// Two subscriptions of a tenant limited to 10 deliveries a second share them: 24
    /// deliveries take more than a second (10 banked, then 10 a second), both receivers get a
    /// share along the way, and the admin's subscription to the same events is not held back.
    @Test func aTenantsRateIsSharedByItsSubscriptionsAsReceiversSeeIt() async throws {
        let gateway = try LiveGateway()
        let receivers = try (0..<3).map { _ in try Receiver() }
        defer { receivers.forEach { $0.stop() } }
        #expect(try gateway.request("PUT", "/v1/event-types/order.created", body: #"{"tenantVisible":true}"#).status == 201)
        #expect(try gateway.request("POST", "/v1/tenants", body: #"{"id":"t1","name":"t1","quotas":{"deliveryRateLimit":10}}"#).status == 201)
        _ = try Self.subscribe(gateway, receivers[0], ["order.created"], tenantId: "t1")
        _ = try Self.subscribe(gateway, receivers[1], ["*"], tenantId: "t1")
        _ = try Self.subscribe(gateway, receivers[2], ["*"])
        let started = ContinuousClock.now
        let batch = (0..<12).map { Self.envelope("order.created", n: $0) }.joined(separator: ",")
        _ = try Self.publish(gateway, "{\"events\":[\(batch)]}", batch: true)

        #expect(await eventually { receivers[2].requestCount == 12 })
        let tenantsByThen = receivers[0].requestCount + receivers[1].requestCount
        #expect(tenantsByThen < 24, "the admin's subscription waited for the tenant's rate")
        #expect(await eventually { receivers[0].requestCount + receivers[1].requestCount >= 16 })
        #expect(receivers[0].requestCount >= 2 && receivers[1].requestCount >= 2,
                "\(receivers[0].requestCount) and \(receivers[1].requestCount)")
        #expect(await eventually { receivers[0].requestCount == 12 && receivers[1].requestCount == 12 })
        #expect(ContinuousClock.now - started >= .milliseconds(1300), "24 deliveries at 10 a second (10 banked)")
    }
}
