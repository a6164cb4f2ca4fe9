import Foundation
@testable import Gateway
import TestSupport
import Testing

/// What the tenant tests set up through the API (issue 11): tenants, their tokens, visible
/// event types, subscriptions made by either token, addressed events, and delivery outcomes
/// recorded as the dispatcher would (the harness runs no dispatcher).
enum TenantFixtures {
    /// Creates a tenant with `id` (or a generated one when nil) and returns its id.
    @discardableResult
    static func createTenant(_ gateway: GatewayHarness, _ id: String? = nil, name: String = "Acme",
                             quotas: String? = nil) throws -> String {
        var members = ["\"name\":\"\(name)\""]
        if let id { members.append("\"id\":\"\(id)\"") }
        if let quotas { members.append("\"quotas\":\(quotas)") }
        let response = try gateway.request("POST", "/v1/tenants", body: "{\(members.joined(separator: ","))}")
        #expect(response.status == 201, "\(response.text)")
        return try #require(response.json["id"] as? String)
    }

    /// Issues a token of `tenant` and returns it (and its id), shown this once.
    static func issueToken(_ gateway: GatewayHarness, _ tenant: String, expiresAt: Int64? = nil) throws -> (token: String, id: String) {
        let body = expiresAt.map { "{\"expiresAt\":\"\(Timestamp.format(microseconds: $0))\"}" }
        let response = try gateway.request("POST", "/v1/tenants/\(tenant)/tokens", body: body)
        #expect(response.status == 201, "\(response.text)")
        return (try #require(response.json["token"] as? String), try #require(response.json["id"] as? String))
    }

    /// Registers event types; `visible` ones are visible to tenants.
    static func putTypes(_ gateway: GatewayHarness, visible: [String] = [], hidden: [String] = []) throws {
        for (name, flag) in visible.map({ ($0, true) }) + hidden.map({ ($0, false) }) {
            let response = try gateway.request("PUT", "/v1/event-types/\(name)", body: "{\"tenantVisible\":\(flag)}")
            #expect(response.status == 201 || response.status == 200, "\(response.text)")
        }
    }

    /// A subscription made with `token` (a tenant's, or the admin's with `tenantId` naming
    /// one); returns its id.
    static func subscribe(_ gateway: GatewayHarness, token: String = GatewayHarness.adminToken, _ types: [String],
                          tenantId: String? = nil, url: String = "https://a.example/hook") throws -> String {
        let response = try gateway.request("POST", "/v1/subscriptions", token: token,
                                           body: subscriptionBody(types, tenantId: tenantId, url: url))
        #expect(response.status == 201, "\(response.text)")
        return try #require(response.json["id"] as? String)
    }

    static func subscriptionBody(_ types: [String], tenantId: String? = nil, url: String = "https://a.example/hook") -> String {
        let list = types.map { "\"\($0)\"" }.joined(separator: ",")
        return "{\"url\":\"\(url)\",\"eventTypes\":[\(list)]" + (tenantId.map { ",\"tenantId\":\"\($0)\"" } ?? "") + "}"
    }

    /// Publishes one event, addressed to `tenant` when given; returns its id and sequence.
    @discardableResult
    static func publish(_ gateway: GatewayHarness, _ type: String, tenant: String? = nil, token: String = GatewayHarness.adminToken,
                        n: Int = 0) throws -> (id: String, sequence: UInt64) {
        let response = try gateway.request("POST", "/v1/events", token: token, body: envelope(type, tenant: tenant, n: n))
        #expect(response.status == 202, "\(response.text)")
        return (try #require(response.json["id"] as? String), UInt64(try #require(response.json["sequence"] as? Int)))
    }

    static func envelope(_ type: String, tenant: String? = nil, n: Int = 0) -> String {
        "{\"type\":\"\(type)\"" + (tenant.map { ",\"tenant\":\"\($0)\"" } ?? "") + ",\"data\":{\"n\":\(n)}}"
    }

    /// What a subscription is owed now, by sequence.
    static func pending(_ gateway: GatewayHarness, _ subscription: String) -> [UInt64] {
        gateway.store.state.pendingDeliveries(for: subscription).map(\.sequence)
    }

    /// Records one attempt for everything `subscription` is owed — delivered, or dead-lettered
    /// — as the dispatcher would, and waits until it is folded in.
    static func settleAll(_ gateway: GatewayHarness, _ subscription: String, result: DeliveryAttemptRecord.Result = .delivered) {
        let pending = gateway.store.state.pendingDeliveries(for: subscription)
        gateway.store.recordAttempts(pending.map {
            DeliveryAttemptRecord(subscriptionID: subscription, sequence: $0.sequence, attempt: 1,
                                  status: result == .delivered ? 200 : 500, error: result == .delivered ? "" : "HTTP 500",
                                  durationMicroseconds: 5, response: [], result: result)
        })
        DeliveryLedgerTests.settle(gateway)
    }
}
