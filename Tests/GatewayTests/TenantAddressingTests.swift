import Foundation
@testable import Gateway
import TestSupport
import Testing

/// Issue 11: who an event reaches (`TenantAddressing`) as the ledger owes it — addressed
/// events to their tenant only, broadcasts of visible types to everyone, others to the
/// admin's own subscriptions — and the same rule for replays, resends and visibility.
/// (Delivery to real receivers: DeliveryTests/TenantDeliveryTests.)
@Suite("Tenant addressing")
struct TenantAddressingTests {
    typealias F = TenantFixtures

    @Test func eachEventReachesExactlyWhomItsAddressAllows() throws {
        let gateway = try GatewayHarness()
        try F.putTypes(gateway, visible: ["order.created", "order.paid"], hidden: ["user.created"])
        for id in ["t1", "t2", "t3"] { try F.createTenant(gateway, id) }
        let source = try #require(try gateway.request("POST", "/v1/sources", body: #"{"name":"shop"}"#).json["token"] as? String)
        let t1 = try F.subscribe(gateway, ["order.*"], tenantId: "t1")
        let t2 = try F.subscribe(gateway, token: try F.issueToken(gateway, "t2").token, ["*"])
        let t3 = try F.subscribe(gateway, ["order.created"], tenantId: "t3")
        let t3Paid = try F.subscribe(gateway, ["order.paid"], tenantId: "t3")
        let admin = try F.subscribe(gateway, ["*"])
        let adminOrders = try F.subscribe(gateway, ["order.*"])

        let toT1 = try F.publish(gateway, "order.created", tenant: "t1").sequence
        let toT2 = try F.publish(gateway, "order.paid", tenant: "t2", token: source).sequence
        let batch = try gateway.request("POST", "/v1/events/batch", token: source, body: """
            {"events":[\(F.envelope("order.created", tenant: "t3")),\(F.envelope("order.created")),
                       \(F.envelope("user.created")),\(F.envelope("order.paid", tenant: "t1")),\(F.envelope("misc.thing"))]}
            """)
        #expect(batch.status == 202, "\(batch.text)")
        let sequences = (batch.json["events"] as? [[String: Any]] ?? []).compactMap { ($0["sequence"] as? Int).map(UInt64.init) }
        try #require(sequences.count == 5)
        let (toT3, broadcast, hidden, paidToT1, unregistered) = (sequences[0], sequences[1], sequences[2], sequences[3], sequences[4])
        // An addressed event of a type the tenant's subscriptions do not match reaches nobody.
        let moreToT3 = try F.publish(gateway, "order.created", tenant: "t3").sequence

        #expect(F.pending(gateway, t1) == [toT1, broadcast, paidToT1])
        #expect(F.pending(gateway, t2) == [toT2, broadcast])
        #expect(F.pending(gateway, t3) == [toT3, broadcast, moreToT3])
        #expect(F.pending(gateway, t3Paid) == [])
        #expect(F.pending(gateway, admin) == [broadcast, hidden, unregistered])
        #expect(F.pending(gateway, adminOrders) == [broadcast])
        // The event shows whom it was addressed to.
        let shown = try gateway.request("GET", "/v1/events/\((batch.json["events"] as? [[String: Any]])?.first?["id"] as? String ?? "")")
        #expect(shown.json["tenant"] as? String == "t3", "\(shown.text)")
        let events = try gateway.request("GET", "/v1/events?limit=1000")
        let untenanted = (events.json["events"] as? [[String: Any]] ?? []).filter { $0["tenant"] == nil }.count
        #expect(untenanted == 3)
    }

    @Test func addressingAnUnknownTenantOrAnInvisibleTypeIsRefusedAndStoresNothing() throws {
        let gateway = try GatewayHarness()
        try F.putTypes(gateway, visible: ["order.created", "old.type"], hidden: ["user.created"])
        try F.createTenant(gateway, "t1")
        #expect(try gateway.request("DELETE", "/v1/event-types/old.type").status == 204)
        let source = try #require(try gateway.request("POST", "/v1/sources", body: #"{"name":"shop"}"#).json["token"] as? String)
        for token in [GatewayHarness.adminToken, source] {
            for (envelope, says) in [
                (F.envelope("order.created", tenant: "nobody"), "No tenant with id 'nobody'"),
                (F.envelope("user.created", tenant: "t1"), "not visible to tenants"),
                (F.envelope("never.registered", tenant: "t1"), "not visible to tenants"),
                (F.envelope("old.type", tenant: "t1"), "not visible to tenants"),
                (F.envelope("order.created", tenant: "bad id!"), "not a valid tenant id"),
            ] {
                let single = try gateway.request("POST", "/v1/events", token: token, body: envelope)
                #expect(single.status == 422 && (single.json["detail"] as? String)?.contains(says) == true, "\(envelope): \(single.text)")
                let batch = try gateway.request("POST", "/v1/events/batch", token: token,
                                                body: "{\"events\":[\(F.envelope("order.created", tenant: "t1")),\(envelope)]}")
                #expect(batch.status == 422 && (batch.json["detail"] as? String)?.contains(says) == true, "batch \(envelope): \(batch.text)")
            }
        }
        #expect(gateway.store.state.eventCount == 0)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"order.created","tenant":7,"data":{}}"#).status == 422)
    }

    @Test func aTenantsSubscriptionNamesOnlyVisibleTypesAndItsWildcardsMatchOnlyThose() throws {
        let gateway = try GatewayHarness()
        try F.putTypes(gateway, visible: ["order.created"], hidden: ["order.internal", "user.created"])
        try F.createTenant(gateway, "t1")
        let token = try F.issueToken(gateway, "t1").token
        for (who, body) in [(token, F.subscriptionBody(["order.internal"])),
                            (token, F.subscriptionBody(["order.created", "never.registered"])),
                            (GatewayHarness.adminToken, F.subscriptionBody(["user.created"], tenantId: "t1"))] {
            let refused = try gateway.request("POST", "/v1/subscriptions", token: who, body: body)
            #expect(refused.status == 422 && (refused.json["detail"] as? String)?.contains("visible to tenants") == true, "\(body): \(refused.text)")
        }
        #expect(try gateway.request("POST", "/v1/subscriptions", body: F.subscriptionBody(["*"], tenantId: "nobody")).status == 422)
        let all = try F.subscribe(gateway, token: token, ["*"])
        let orders = try F.subscribe(gateway, token: token, ["order.*"])
        let exact = try F.subscribe(gateway, token: token, ["order.created"])
        #expect(try gateway.request("GET", "/v1/subscriptions/\(all)", token: token).json["tenantId"] as? String == "t1")
        // The admin's own subscriptions may still name any type.
        let adminInternal = try F.subscribe(gateway, ["order.internal"])
        #expect(try gateway.request("GET", "/v1/subscriptions/\(adminInternal)").json["tenantId"] is NSNull)

        let created = try F.publish(gateway, "order.created").sequence
        let hiddenOrder = try F.publish(gateway, "order.internal").sequence
        _ = try F.publish(gateway, "user.created")
        _ = try F.publish(gateway, "unknown.type")
        #expect(F.pending(gateway, all) == [created])
        #expect(F.pending(gateway, orders) == [created])
        #expect(F.pending(gateway, exact) == [created])
        #expect(F.pending(gateway, adminInternal) == [hiddenOrder])

        // Made visible: from then on it reaches the wildcards; archived: no longer.
        try F.putTypes(gateway, visible: ["order.internal"])
        let nowVisible = try F.publish(gateway, "order.internal").sequence
        #expect(F.pending(gateway, orders) == [created, nowVisible])
        #expect(try gateway.request("DELETE", "/v1/event-types/order.internal").status == 204)
        _ = try F.publish(gateway, "order.internal")
        #expect(F.pending(gateway, orders) == [created, nowVisible])
        #expect(F.pending(gateway, all) == [created, nowVisible])

        // A change keeps to the same rule, by the tenant or by the admin; the owner is fixed.
        for who in [token, GatewayHarness.adminToken] {
            let patched = try gateway.request("PATCH", "/v1/subscriptions/\(exact)", token: who, body: #"{"eventTypes":["user.created"]}"#)
            #expect(patched.status == 422 && (patched.json["detail"] as? String)?.contains("visible to tenants") == true, "\(patched.text)")
            let moved = try gateway.request("PATCH", "/v1/subscriptions/\(exact)", token: who, body: #"{"tenantId":"t2"}"#)
            #expect(moved.status == 422 && (moved.json["detail"] as? String)?.contains("'tenantId'") == true, "\(moved.text)")
        }
        let widened = try gateway.request("PATCH", "/v1/subscriptions/\(exact)", token: token, body: #"{"eventTypes":["user.*"]}"#)
        #expect(widened.status == 200, "\(widened.text)")
        // The admin may move its own subscription to any type, and it stays the admin's.
        #expect(try gateway.request("PATCH", "/v1/subscriptions/\(adminInternal)", body: #"{"eventTypes":["user.created"]}"#).status == 200)
        // Its own tenant id in the body is what it would be anyway; another's is one it cannot see.
        #expect(try gateway.request("POST", "/v1/subscriptions", token: token, body: F.subscriptionBody(["*"], tenantId: "t1")).status == 201)
        #expect(try gateway.request("POST", "/v1/subscriptions", token: token, body: F.subscriptionBody(["*"], tenantId: "t2")).status == 404)
    }

    @Test func replaysAndResendsFollowTheSameRule() async throws {
        let gateway = try GatewayHarness()
        try F.putTypes(gateway, visible: ["order.created"], hidden: ["user.created"])
        try F.createTenant(gateway, "t1")
        try F.createTenant(gateway, "t2")
        let t1Token = try F.issueToken(gateway, "t1").token
        let t1 = try F.subscribe(gateway, token: t1Token, ["*"])
        let t1Second = try F.subscribe(gateway, ["order.*"], tenantId: "t1")
        let t2 = try F.subscribe(gateway, ["*"], tenantId: "t2")
        let admin = try F.subscribe(gateway, ["*"])
        let toT1 = try F.publish(gateway, "order.created", tenant: "t1")
        let toT2 = try F.publish(gateway, "order.created", tenant: "t2")
        let broadcast = try F.publish(gateway, "order.created")
        let hidden = try F.publish(gateway, "user.created")
        for id in [t1, t1Second, t2, admin] { F.settleAll(gateway, id) }

        func replay(_ subscription: String, token: String = GatewayHarness.adminToken) async throws -> [UInt64] {
            let started = try gateway.request("POST", "/v1/subscriptions/\(subscription)/replays", token: token,
                                              body: #"{"since":"2000-01-01T00:00:00Z"}"#)
            #expect(started.status == 202, "\(started.text)")
            let id = try #require(started.json["id"] as? String)
            #expect(await eventually { gateway.store.replay(id)?.status == .delivering || gateway.store.replay(id)?.status == .completed })
            defer { F.settleAll(gateway, subscription) }
            return F.pending(gateway, subscription)
        }
        #expect(try await replay(t1, token: t1Token) == [toT1.sequence, broadcast.sequence])
        #expect(try await replay(t2) == [toT2.sequence, broadcast.sequence])
        #expect(try await replay(admin) == [broadcast.sequence, hidden.sequence])

        func resend(_ event: String, to subscription: String? = nil, token: String = GatewayHarness.adminToken) throws -> TestResponse {
            try gateway.request("POST", "/v1/events/\(event)/resend", token: token,
                                body: subscription.map { "{\"subscriptionId\":\"\($0)\"}" })
        }
        func resentTo(_ response: TestResponse) -> Set<String> { Set(response.json["subscriptions"] as? [String] ?? []) }
        #expect(resentTo(try resend(toT1.id)) == [t1, t1Second])
        #expect(resentTo(try resend(broadcast.id)) == [t1, t1Second, t2, admin])
        #expect(resentTo(try resend(hidden.id)) == [admin])
        // A tenant resends to its own subscriptions only, whoever else got the event.
        #expect(resentTo(try resend(broadcast.id, token: t1Token)) == [t1, t1Second])
        #expect(try resend(toT2.id, token: t1Token).status == 404)
        #expect(try resend(hidden.id, token: t1Token).status == 404)
        for id in [t1, t1Second, t2, admin] { F.settleAll(gateway, id) }

        // Named, the rule still holds: an addressed event goes to its tenant only, a hidden
        // type to no tenant.
        for (event, subscription) in [(toT1.id, t2), (toT1.id, admin), (hidden.id, t1), (toT2.id, t1Second)] {
            let refused = try resend(event, to: subscription)
            #expect(refused.status == 422, "\(event) to \(subscription): \(refused.text)")
        }
        #expect(F.pending(gateway, t2).isEmpty && F.pending(gateway, admin).isEmpty && F.pending(gateway, t1).isEmpty)
        #expect(F.pending(gateway, t1Second).isEmpty)
        #expect(resentTo(try resend(toT1.id, to: t1Second)) == [t1Second])
        #expect(resentTo(try resend(broadcast.id, to: t2)) == [t2])
        #expect(resentTo(try resend(toT1.id, to: t1, token: t1Token)) == [t1])
    }

    @Test func aTestPingGoesToItsSubscriptionWhateverTheRule() throws {
        let gateway = try GatewayHarness()
        try F.createTenant(gateway, "t1")
        try F.putTypes(gateway, visible: ["order.created"])
        let token = try F.issueToken(gateway, "t1").token
        let own = try F.subscribe(gateway, token: token, ["order.created"])
        let other = try F.subscribe(gateway, token: token, ["*"])
        let admin = try F.subscribe(gateway, ["*"])
        let ping = try gateway.request("POST", "/v1/subscriptions/\(own)/test", token: token)
        #expect(ping.status == 202, "\(ping.text)")
        let sequence = UInt64(try #require(ping.json["sequence"] as? Int))
        #expect(F.pending(gateway, own) == [sequence])
        #expect(F.pending(gateway, other).isEmpty && F.pending(gateway, admin).isEmpty)
        // It was delivered to the tenant, so the tenant may read it.
        let id = try #require(ping.json["id"] as? String)
        #expect(try gateway.request("GET", "/v1/events/\(id)", token: token).json["type"] as? String == "gateway.ping")
        // Sent again to where it went, but not on to a subscription the rule keeps it from.
        F.settleAll(gateway, own)
        let again = try gateway.request("POST", "/v1/events/\(id)/resend", token: token, body: "{\"subscriptionId\":\"\(own)\"}")
        #expect(again.status == 202 && F.pending(gateway, own) == [sequence], "\(again.text)")
        let elsewhere = try gateway.request("POST", "/v1/events/\(id)/resend", token: token, body: "{\"subscriptionId\":\"\(other)\"}")
        #expect(elsewhere.status == 422 && F.pending(gateway, other).isEmpty, "\(elsewhere.text)")
    }

    /// The tenant is part of what an idempotency key stands for.
    @Test func theSameKeyForAnotherTenantIsAConflict() throws {
        let gateway = try GatewayHarness()
        try F.putTypes(gateway, visible: ["order.created"])
        try F.createTenant(gateway, "t1")
        try F.createTenant(gateway, "t2")
        let key = [("Idempotency-Key", "order-1")]
        let first = try gateway.request("POST", "/v1/events", headers: key, body: F.envelope("order.created", tenant: "t1"))
        #expect(first.status == 202, "\(first.text)")
        let repeated = try gateway.request("POST", "/v1/events", headers: key, body: F.envelope("order.created", tenant: "t1"))
        #expect(repeated.status == 200 && repeated.json["id"] as? String == first.json["id"] as? String, "\(repeated.text)")
        let other = try gateway.request("POST", "/v1/events", headers: key, body: F.envelope("order.created", tenant: "t2"))
        #expect(other.status == 409, "\(other.text)")
        let unaddressed = try gateway.request("POST", "/v1/events", headers: key, body: F.envelope("order.created"))
        #expect(unaddressed.status == 409, "\(unaddressed.text)")
        // A producer's id in a batch: the same.
        let withID = { (tenant: String) in "{\"events\":[{\"id\":\"ord-9\",\"type\":\"order.created\",\"tenant\":\"\(tenant)\",\"data\":{}}]}" }
        #expect(try gateway.request("POST", "/v1/events/batch", body: withID("t1")).status == 202)
        #expect(try gateway.request("POST", "/v1/events/batch", body: withID("t1")).status == 200)
        #expect(try gateway.request("POST", "/v1/events/batch", body: withID("t2")).status == 409)
        #expect(gateway.store.state.eventCount == 2)
    }
}
