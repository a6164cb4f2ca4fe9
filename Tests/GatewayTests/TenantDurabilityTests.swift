import Foundation
@testable import Gateway
import Runtime
import TestSupport
import Testing

/// Issue 11: tenants, their tokens and quotas, visible types, tenants' subscriptions and
/// addressed events survive a restart — folded from the journal alone, and from a snapshot
/// with the journal after it.
@Suite("Tenant durability")
struct TenantDurabilityTests {
    typealias F = TenantFixtures

    /// Everything a restart must keep, as the API shows it.
    static func state(_ gateway: GatewayHarness, subscriptions: [String], events: [String]) throws -> [String] {
        var parts: [String] = []
        for path in ["/v1/tenants", "/v1/tenants/acme/tokens", "/v1/tenants/globex/tokens", "/v1/event-types?archived=true",
                     "/v1/subscriptions", "/v1/subscriptions?tenant=acme"]
            + subscriptions.map({ "/v1/subscriptions/\($0)" }) + events.map({ "/v1/events/\($0)" }) {
            let response = try gateway.request("GET", path)
            parts.append("\(path) \(response.status) \(response.text)")
        }
        for id in subscriptions { parts.append("\(id) owes \(F.pending(gateway, id))") }
        return parts
    }

    /// From a snapshot only on the journal (cluster mode has no snapshots to force).
    @Test(arguments: GatewayHarness.onJournal ? [false, true] : [false])
    func tenantsTokensQuotasAndAddressedEventsSurviveARestart(fromSnapshot: Bool) throws {
        let gateway = try GatewayHarness()
        try F.putTypes(gateway, visible: ["order.created"], hidden: ["user.created"])
        #expect(try gateway.request("POST", "/v1/tenants", body: #"""
            {"id":"acme","name":"Acme","description":"d","metadata":{"plan":"gold"},"quotas":{"maxSubscriptions":2,"deliveryRateLimit":9}}
            """#).status == 201)
        try F.createTenant(gateway, "globex")
        try F.createTenant(gateway, "gone")
        let token = try F.issueToken(gateway, "acme").token
        let expiring = try F.issueToken(gateway, "acme", expiresAt: wallClockMicroseconds() + 3_600_000_000).token
        let revoked = try F.issueToken(gateway, "acme")
        let globexToken = try F.issueToken(gateway, "globex").token
        let goneToken = try F.issueToken(gateway, "gone").token
        let acmeOrders = try F.subscribe(gateway, token: token, ["order.*"])
        let globexAll = try F.subscribe(gateway, token: globexToken, ["*"])
        let admin = try F.subscribe(gateway, ["*"])
        var events = [try F.publish(gateway, "order.created", tenant: "acme").id, try F.publish(gateway, "order.created").id]

        if fromSnapshot {
            try gateway.journal.maintainer.writeIndexesAndSnapshot(force: true)
        }
        // Changes after the snapshot come from the journal's tail.
        #expect(try gateway.request("DELETE", "/v1/tenants/acme/tokens/\(revoked.id)").status == 204)
        #expect(try gateway.request("PATCH", "/v1/tenants/globex", body: #"{"quotas":{"maxSubscriptions":1}}"#).status == 200)
        let acmeSecond = try F.subscribe(gateway, ["order.created"], tenantId: "acme")
        #expect(try gateway.request("DELETE", "/v1/tenants/gone").status == 204)
        events.append(try F.publish(gateway, "order.created", tenant: "globex").id)
        events.append(try F.publish(gateway, "user.created").id)

        let subscriptions = [acmeOrders, acmeSecond, globexAll, admin]
        let before = try Self.state(gateway, subscriptions: subscriptions, events: events)
        try gateway.restart()
        if fromSnapshot { #expect(gateway.journal.recoveredFromSnapshot > 0) }
        let after = try Self.state(gateway, subscriptions: subscriptions, events: events)
        for (old, new) in zip(before, after) where old != new {
            Issue.record("changed by the restart:\n  before: \(old)\n  after:  \(new)")
        }
        #expect(before.count == after.count)

        // Tokens authenticate as before; revoked ones and a deleted tenant's do not.
        #expect(try gateway.request("GET", "/v1/subscriptions/\(acmeOrders)", token: token).status == 200)
        #expect(try gateway.request("GET", "/v1/subscriptions/\(acmeOrders)", token: expiring).status == 200)
        #expect(try gateway.request("GET", "/v1/subscriptions/\(acmeOrders)", token: globexToken).status == 404)
        #expect(try gateway.request("GET", "/v1/subscriptions", token: revoked.token).status == 401)
        #expect(try gateway.request("GET", "/v1/subscriptions", token: goneToken).status == 401)
        // The quotas still hold.
        #expect(try gateway.request("POST", "/v1/subscriptions", token: token, body: F.subscriptionBody(["order.created"])).status == 422)
        #expect(try gateway.request("POST", "/v1/subscriptions", token: globexToken, body: F.subscriptionBody(["*"])).status == 422)
        let acme = try gateway.request("GET", "/v1/tenants/acme")
        #expect(acme.json["quotas"] as? [String: Int] == ["maxSubscriptions": 2, "deliveryRateLimit": 9], "\(acme.text)")
        #expect(acme.json["metadata"] as? [String: String] == ["plan": "gold"])
        // Fan-out goes on by the same rule: addressed, broadcast, hidden.
        let next = try F.publish(gateway, "order.created", tenant: "acme").sequence
        let broadcast = try F.publish(gateway, "order.created").sequence
        let hidden = try F.publish(gateway, "user.created").sequence
        #expect(Array(F.pending(gateway, acmeOrders).suffix(2)) == [next, broadcast])
        #expect(Array(F.pending(gateway, globexAll).suffix(1)) == [broadcast])
        #expect(Array(F.pending(gateway, admin).suffix(2)) == [broadcast, hidden])
        #expect(try gateway.request("POST", "/v1/events", body: F.envelope("order.created", tenant: "gone")).status == 422)
        #expect(try gateway.request("POST", "/v1/events", body: F.envelope("user.created", tenant: "acme")).status == 422)
    }
}
