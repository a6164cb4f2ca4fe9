import Foundation
@testable import Gateway
import Runtime
import TestSupport
import Testing

/// Issue 11: `/v1/tenants` and their tokens as the admin manages them, and the quotas a
/// tenant's subscriptions count against.
@Suite("Tenants API")
struct TenantsAPITests {
    typealias F = TenantFixtures

    @Test func createWithOwnOrGeneratedIDReadAndRefuseATakenID() throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("POST", "/v1/tenants", body: #"""
            {"id":"cust-42.eu:1","name":"Acme","description":"our best customer","metadata":{"plan":"gold","account":"A-1"}}
            """#)
        #expect(created.status == 201, "\(created.text)")
        #expect(created.json["id"] as? String == "cust-42.eu:1")
        #expect(created.json["name"] as? String == "Acme")
        #expect(created.json["description"] as? String == "our best customer")
        #expect(created.json["metadata"] as? [String: String] == ["plan": "gold", "account": "A-1"])
        #expect(created.json["subscriptionCount"] as? Int == 0)
        let quotas = try #require(created.json["quotas"] as? [String: Any])
        #expect(quotas["maxSubscriptions"] is NSNull && quotas["deliveryRateLimit"] is NSNull, "\(quotas)")
        let inEffect = try #require(created.json["quotasInEffect"] as? [String: Any])
        #expect(inEffect["maxSubscriptions"] as? Int == 50 && inEffect["deliveryRateLimit"] is NSNull, "\(inEffect)")
        #expect((created.json["createdAt"] as? String).flatMap(Timestamp.parse) != nil)

        let generated = try gateway.request("POST", "/v1/tenants", body: #"{"name":"Globex"}"#)
        #expect(generated.status == 201, "\(generated.text)")
        let generatedID = try #require(generated.json["id"] as? String)
        #expect(generatedID.hasPrefix("ten_"))
        #expect(generated.json["description"] as? String == "")
        #expect(generated.json["metadata"] as? [String: String] == [:])

        let taken = try gateway.request("POST", "/v1/tenants", body: #"{"id":"cust-42.eu:1","name":"Other"}"#)
        #expect(taken.status == 409 && (taken.json["detail"] as? String)?.contains("already exists") == true, "\(taken.text)")

        let read = try gateway.request("GET", "/v1/tenants/cust-42.eu:1")
        #expect(read.status == 200 && read.json["name"] as? String == "Acme", "\(read.text)")
        #expect(try gateway.request("GET", "/v1/tenants/\(generatedID)").json["name"] as? String == "Globex")
        #expect(try gateway.request("GET", "/v1/tenants/nobody").status == 404)
    }

    @Test func concurrentCreatesOfOneIDMakeOneTenant() async throws {
        let gateway = try GatewayHarness()
        let port = gateway.port
        let statuses = try await concurrently(12) { index in
            try HTTPTestClient.request(port: port, "POST", "/v1/tenants", token: GatewayHarness.adminToken,
                                       body: "{\"id\":\"racer\",\"name\":\"n\(index)\"}").status
        }
        #expect(statuses.filter { $0 == 201 }.count == 1, "\(statuses)")
        #expect(statuses.filter { $0 == 409 }.count == 11, "\(statuses)")
        #expect(gateway.store.state.tenants().count == 1)
    }

    @Test(arguments: [
        (#"{}"#, "'name' is required"),
        (#"{"name":""}"#, "'name'"),
        (#"{"name":5}"#, "'name'"),
        (#"{"name":"x","id":""}"#, "'id'"),
        (#"{"name":"x","id":"has space"}"#, "'id'"),
        (#"{"name":"x","id":"ümlaut"}"#, "'id'"),
        ("{\"name\":\"x\",\"id\":\"\(String(repeating: "a", count: 65))\"}", "'id'"),
        (#"{"name":"x","id":7}"#, "'id'"),
        (#"{"name":"x","colour":"red"}"#, "Unknown field 'colour'"),
        (#"{"name":"x","description":3}"#, "'description'"),
        (#"{"name":"x","metadata":{"a":1}}"#, "'metadata.a'"),
        (#"{"name":"x","metadata":[]}"#, "'metadata'"),
        (#"{"name":"x","quotas":{"maxSubscriptions":-1}}"#, "quotas.maxSubscriptions"),
        (#"{"name":"x","quotas":{"maxSubscriptions":100001}}"#, "quotas.maxSubscriptions"),
        (#"{"name":"x","quotas":{"maxSubscriptions":1.5}}"#, "quotas.maxSubscriptions"),
        (#"{"name":"x","quotas":{"deliveryRateLimit":0}}"#, "quotas.deliveryRateLimit"),
        (#"{"name":"x","quotas":{"deliveryRateLimit":"9"}}"#, "quotas.deliveryRateLimit"),
        (#"{"name":"x","quotas":{"burst":3}}"#, "Unknown field 'quotas.burst'"),
        (#"{"name":"x","quotas":3}"#, "'quotas'"),
        (#"["x"]"#, "JSON object"),
    ])
    func badTenantsAreRefusedWithAReason(_ body: String, _ says: String) throws {
        let gateway = try GatewayHarness()
        let response = try gateway.request("POST", "/v1/tenants", body: body)
        #expect(response.status == 422 && (response.json["detail"] as? String)?.contains(says) == true, "\(body): \(response.text)")
        #expect(gateway.store.state.tenants().isEmpty)
    }

    @Test func theListIsSortedByIDAndPages() throws {
        let gateway = try GatewayHarness()
        let ids = ["e", "a", "c", "b", "d"]
        for id in ids { try F.createTenant(gateway, id) }
        var seen: [String] = []
        var after: String?
        var pages = 0
        repeat {
            let response = try gateway.request("GET", "/v1/tenants?limit=2" + (after.map { "&after=\($0)" } ?? ""))
            #expect(response.status == 200, "\(response.text)")
            let page = (response.json["tenants"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(page.count <= 2)
            seen += page
            after = response.json["next"] as? String
            if after == nil { #expect(response.json["next"] is NSNull) }
            pages += 1
        } while after != nil && pages < 10
        #expect(seen == ids.sorted())
        #expect(pages == 3)
        let all = try gateway.request("GET", "/v1/tenants")
        #expect((all.json["tenants"] as? [[String: Any]])?.count == 5 && all.json["next"] is NSNull)
        for limit in ["0", "1001", "x", "+5"] {
            #expect(try gateway.request("GET", "/v1/tenants?limit=\(limit)").status == 400, "limit=\(limit)")
        }
    }

    @Test func patchSetsOnlyItsFieldsAndNullQuotasTakeTheDefaults() throws {
        let gateway = try GatewayHarness { settings, _ in
            settings.tenantDefaults = TenantDefaults(maxSubscriptions: 7, deliveryRateLimit: 30)
        }
        try F.createTenant(gateway, "acme")
        let set = try gateway.request("PATCH", "/v1/tenants/acme", body: #"{"quotas":{"maxSubscriptions":3,"deliveryRateLimit":12}}"#)
        #expect(set.status == 200, "\(set.text)")
        #expect(set.json["name"] as? String == "Acme")
        #expect(set.json["quotas"] as? [String: Int] == ["maxSubscriptions": 3, "deliveryRateLimit": 12])
        #expect(set.json["quotasInEffect"] as? [String: Int] == ["maxSubscriptions": 3, "deliveryRateLimit": 12])

        // One quota back to the default; the other as it was.
        let reset = try gateway.request("PATCH", "/v1/tenants/acme", body: #"{"name":"Acme Ltd","quotas":{"maxSubscriptions":null}}"#)
        #expect(reset.status == 200, "\(reset.text)")
        #expect(reset.json["name"] as? String == "Acme Ltd")
        let quotas = try #require(reset.json["quotas"] as? [String: Any])
        #expect(quotas["maxSubscriptions"] is NSNull && quotas["deliveryRateLimit"] as? Int == 12, "\(quotas)")
        #expect(reset.json["quotasInEffect"] as? [String: Int] == ["maxSubscriptions": 7, "deliveryRateLimit": 12])
        #expect(reset.json["updatedAt"] as? String != nil)

        let metadata = try gateway.request("PATCH", "/v1/tenants/acme", body: #"{"metadata":{"plan":"free"},"description":"d"}"#)
        #expect(metadata.json["metadata"] as? [String: String] == ["plan": "free"] && metadata.json["description"] as? String == "d")
        #expect(metadata.json["name"] as? String == "Acme Ltd")

        let renamed = try gateway.request("PATCH", "/v1/tenants/acme", body: #"{"id":"other"}"#)
        #expect(renamed.status == 422 && (renamed.json["detail"] as? String)?.contains("'id'") == true, "\(renamed.text)")
        #expect(try gateway.request("PATCH", "/v1/tenants/acme", body: #"{"quotas":{"deliveryRateLimit":0}}"#).status == 422)
        #expect(try gateway.request("PATCH", "/v1/tenants/acme", body: #"{"nickname":"a"}"#).status == 422)
        // An unknown tenant is 404 before its body is looked at.
        #expect(try gateway.request("PATCH", "/v1/tenants/nobody", body: #"{"id":"x"}"#).status == 404)
        #expect(try gateway.request("GET", "/v1/tenants/acme").json["name"] as? String == "Acme Ltd")
    }

    @Test func deletingATenantTakesItsSubscriptionsWhatTheyWereOwedAndItsTokens() throws {
        let gateway = try GatewayHarness()
        try F.putTypes(gateway, visible: ["order.created"])
        try F.createTenant(gateway, "acme")
        try F.createTenant(gateway, "globex")
        let token = try F.issueToken(gateway, "acme").token
        let own = try F.subscribe(gateway, token: token, ["order.created"])
        let byAdmin = try F.subscribe(gateway, ["*"], tenantId: "acme")
        let neighbour = try F.subscribe(gateway, ["*"], tenantId: "globex")
        let admins = try F.subscribe(gateway, ["*"])
        let first = try F.publish(gateway, "order.created", tenant: "acme")
        let broadcast = try F.publish(gateway, "order.created")
        F.settleAll(gateway, byAdmin, result: .deadLettered)
        #expect(F.pending(gateway, own) == [first.sequence, broadcast.sequence])
        #expect(gateway.store.state.deadLetters(for: byAdmin).count == 2)

        #expect(try gateway.request("DELETE", "/v1/tenants/acme").status == 204)
        #expect(try gateway.request("GET", "/v1/tenants/acme").status == 404)
        for id in [own, byAdmin] {
            #expect(try gateway.request("GET", "/v1/subscriptions/\(id)").status == 404)
            #expect(gateway.store.state.pendingDeliveries(for: id).isEmpty)
            #expect(gateway.store.state.deadLetters(for: id).isEmpty)
        }
        #expect(try gateway.request("GET", "/v1/subscriptions", token: token).status == 401)
        #expect(F.pending(gateway, neighbour) == [broadcast.sequence])
        #expect(F.pending(gateway, admins) == [broadcast.sequence])
        #expect(try gateway.request("DELETE", "/v1/tenants/acme").status == 404)
        // Addressing it now is refused, and a tenant made again with its id starts empty,
        // without the old tokens.
        #expect(try gateway.request("POST", "/v1/events", body: F.envelope("order.created", tenant: "acme")).status == 422)
        try F.createTenant(gateway, "acme")
        #expect(try gateway.request("GET", "/v1/tenants/acme").json["subscriptionCount"] as? Int == 0)
        #expect(try gateway.request("GET", "/v1/subscriptions", token: token).status == 401)
        #expect((try gateway.request("GET", "/v1/tenants/acme/tokens").json["tokens"] as? [Any])?.isEmpty == true)
        try gateway.restart()
        #expect(try gateway.request("GET", "/v1/subscriptions/\(own)").status == 404)
        #expect(try gateway.request("GET", "/v1/subscriptions", token: token).status == 401)
        #expect(F.pending(gateway, neighbour) == [broadcast.sequence])
    }

    // MARK: - Tokens

    @Test func aTokenIsShownOnceListedWithoutItsSecretAndEndsWhenRevoked() throws {
        let gateway = try GatewayHarness()
        try F.createTenant(gateway, "acme")
        let issued = try gateway.request("POST", "/v1/tenants/acme/tokens", body: #"{"description":"CI"}"#)
        #expect(issued.status == 201, "\(issued.text)")
        let token = try #require(issued.json["token"] as? String)
        let tokenID = try #require(issued.json["id"] as? String)
        #expect(token.hasPrefix("tnt_") && token.count == 68 && token.dropFirst(4).allSatisfy(\.isHexDigit), "\(token)")
        #expect(tokenID.hasPrefix("tok_"))
        #expect(issued.json["tenantId"] as? String == "acme" && issued.json["description"] as? String == "CI")
        #expect(issued.json["expiresAt"] is NSNull)
        let bare = try gateway.request("POST", "/v1/tenants/acme/tokens")
        #expect(bare.status == 201 && bare.json["description"] as? String == "", "\(bare.text)")
        let other = try #require(bare.json["token"] as? String)

        let listed = try gateway.request("GET", "/v1/tenants/acme/tokens")
        #expect(listed.status == 200, "\(listed.text)")
        let tokens = try #require(listed.json["tokens"] as? [[String: Any]])
        #expect(Set(tokens.compactMap { $0["id"] as? String }) == [tokenID, try #require(bare.json["id"] as? String)])
        #expect(tokens.allSatisfy { $0["token"] == nil })
        #expect(!listed.text.contains(token) && !listed.text.contains(other))
        #expect(!listed.text.contains(String(token.dropFirst(4))))

        #expect(try gateway.request("GET", "/v1/subscriptions", token: token).status == 200)
        #expect(try gateway.request("GET", "/v1/tenants/acme", token: token).status == 200)
        #expect(try gateway.request("DELETE", "/v1/tenants/acme/tokens/\(tokenID)").status == 204)
        let revoked = try gateway.request("GET", "/v1/subscriptions", token: token)
        #expect(revoked.status == 401 && revoked.json["detail"] as? String == "The token is not valid.", "\(revoked.text)")
        #expect(try gateway.request("GET", "/v1/subscriptions", token: other).status == 200)
        #expect(try gateway.request("DELETE", "/v1/tenants/acme/tokens/\(tokenID)").status == 404)
        #expect(try gateway.request("DELETE", "/v1/tenants/acme/tokens/tok_nope").status == 404)
        #expect(try gateway.request("DELETE", "/v1/tenants/nobody/tokens/\(tokenID)").status == 404)
        #expect(try gateway.request("POST", "/v1/tenants/nobody/tokens").status == 404)
        #expect(try gateway.request("GET", "/v1/tenants/nobody/tokens").status == 404)
        try gateway.restart()
        #expect(try gateway.request("GET", "/v1/subscriptions", token: token).status == 401)
        #expect(try gateway.request("GET", "/v1/subscriptions", token: other).status == 200)
    }

    @Test func aTokenOfOneTenantCannotBeRevokedThroughAnother() throws {
        let gateway = try GatewayHarness()
        try F.createTenant(gateway, "acme")
        try F.createTenant(gateway, "globex")
        let acme = try F.issueToken(gateway, "acme")
        #expect(try gateway.request("DELETE", "/v1/tenants/globex/tokens/\(acme.id)").status == 404)
        #expect(try gateway.request("GET", "/v1/subscriptions", token: acme.token).status == 200)
    }

    @Test(arguments: [
        (#"{"expiresAt":"2001-01-01T00:00:00Z"}"#, "future"),
        (#"{"expiresAt":"tomorrow"}"#, "RFC 3339"),
        (#"{"expiresAt":5}"#, "RFC 3339"),
        (#"{"description":7}"#, "'description'"),
        (#"{"scope":"all"}"#, "Unknown field 'scope'"),
        (#"[]"#, "object"),
    ])
    func badTokenRequestsAreRefused(_ body: String, _ says: String) throws {
        let gateway = try GatewayHarness()
        try F.createTenant(gateway, "acme")
        let response = try gateway.request("POST", "/v1/tenants/acme/tokens", body: body)
        #expect(response.status == 422 && (response.json["detail"] as? String)?.contains(says) == true, "\(body): \(response.text)")
        #expect(gateway.store.state.tenantTokens(of: "acme").isEmpty)
    }

    @Test func aTokenStopsWorkingWhenItExpires() async throws {
        let gateway = try GatewayHarness()
        try F.createTenant(gateway, "acme")
        let expiry = wallClockMicroseconds() + 2_000_000
        let issued = try gateway.request("POST", "/v1/tenants/acme/tokens",
                                         body: "{\"expiresAt\":\"\(Timestamp.format(microseconds: expiry))\"}")
        #expect(issued.status == 201, "\(issued.text)")
        #expect((issued.json["expiresAt"] as? String).flatMap(Timestamp.parse) == expiry)
        let token = try #require(issued.json["token"] as? String)
        #expect(try gateway.request("GET", "/v1/subscriptions", token: token).status == 200)
        try await Task.sleep(for: .microseconds(max(0, expiry - wallClockMicroseconds()) + 50_000))
        let expired = try gateway.request("GET", "/v1/subscriptions", token: token)
        #expect(expired.status == 401 && expired.json["detail"] as? String == "The token has expired.", "\(expired.text)")
        #expect(expired.header("www-authenticate")?.hasPrefix("Bearer") == true)
        // Still listed (the admin sees when it expired) until revoked.
        let listed = try gateway.request("GET", "/v1/tenants/acme/tokens")
        #expect((listed.json["tokens"] as? [[String: Any]])?.first?["expiresAt"] as? String == Timestamp.format(microseconds: expiry))
    }

    // MARK: - Quotas

    @Test func maxSubscriptionsIsKeptAndLoweringItKeepsWhatExists() throws {
        let gateway = try GatewayHarness()
        try F.putTypes(gateway, visible: ["a.b"])
        try F.createTenant(gateway, "acme", quotas: #"{"maxSubscriptions":3}"#)
        let token = try F.issueToken(gateway, "acme").token
        var made: [String] = []
        for _ in 0..<2 { made.append(try F.subscribe(gateway, token: token, ["a.b"])) }
        made.append(try F.subscribe(gateway, ["*"], tenantId: "acme"))
        for (who, body) in [(token, F.subscriptionBody(["a.b"])), (GatewayHarness.adminToken, F.subscriptionBody(["a.b"], tenantId: "acme"))] {
            let refused = try gateway.request("POST", "/v1/subscriptions", token: who, body: body)
            let detail = refused.json["detail"] as? String ?? ""
            #expect(refused.status == 422 && detail.contains("quota of 3") && detail.contains("maxSubscriptions"), "\(refused.text)")
        }
        // The admin's own subscriptions do not count against any tenant's quota.
        _ = try F.subscribe(gateway, ["*"])
        #expect(try gateway.request("GET", "/v1/tenants/acme").json["subscriptionCount"] as? Int == 3)
        let ofAcme = try gateway.request("GET", "/v1/subscriptions?tenant=acme")
        #expect(Set((ofAcme.json["subscriptions"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }) == Set(made))
        #expect((try gateway.request("GET", "/v1/subscriptions").json["subscriptions"] as? [Any])?.count == 4)
        #expect(try gateway.request("GET", "/v1/subscriptions?tenant=nobody").status == 404)

        let lowered = try gateway.request("PATCH", "/v1/tenants/acme", body: #"{"quotas":{"maxSubscriptions":1}}"#)
        #expect(lowered.status == 200 && lowered.json["subscriptionCount"] as? Int == 3, "\(lowered.text)")
        let listed = try gateway.request("GET", "/v1/subscriptions", token: token)
        #expect(Set((listed.json["subscriptions"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }) == Set(made))
        #expect(try gateway.request("POST", "/v1/subscriptions", token: token, body: F.subscriptionBody(["a.b"])).status == 422)
        // Below the quota again only once enough are gone.
        #expect(try gateway.request("DELETE", "/v1/subscriptions/\(made[0])", token: token).status == 204)
        #expect(try gateway.request("DELETE", "/v1/subscriptions/\(made[1])", token: token).status == 204)
        #expect(try gateway.request("POST", "/v1/subscriptions", token: token, body: F.subscriptionBody(["a.b"])).status == 422)
        #expect(try gateway.request("DELETE", "/v1/subscriptions/\(made[2])").status == 204)
        _ = try F.subscribe(gateway, token: token, ["a.b"])
        // Zero: no subscriptions at all.
        try F.createTenant(gateway, "frozen", quotas: #"{"maxSubscriptions":0}"#)
        #expect(try gateway.request("POST", "/v1/subscriptions", body: F.subscriptionBody(["a.b"], tenantId: "frozen")).status == 422)
    }

    @Test func theGatewaysDefaultQuotaAppliesToTenantsWithoutTheirOwn() throws {
        let gateway = try GatewayHarness { settings, _ in settings.tenantDefaults = TenantDefaults(maxSubscriptions: 2) }
        try F.putTypes(gateway, visible: ["a.b"])
        try F.createTenant(gateway, "acme")
        for _ in 0..<2 { _ = try F.subscribe(gateway, ["a.b"], tenantId: "acme") }
        let refused = try gateway.request("POST", "/v1/subscriptions", body: F.subscriptionBody(["a.b"], tenantId: "acme"))
        #expect(refused.status == 422 && (refused.json["detail"] as? String)?.contains("quota of 2") == true, "\(refused.text)")
        #expect(try gateway.request("PATCH", "/v1/tenants/acme", body: #"{"quotas":{"maxSubscriptions":3}}"#).status == 200)
        _ = try F.subscribe(gateway, ["a.b"], tenantId: "acme")
    }

    /// The quota is reserved atomically with the create: 20 creates at once against a quota
    /// of 5, half with the tenant's token and half by the admin naming it, make exactly 5.
    @Test func concurrentCreatesCannotPassTheQuota() async throws {
        let gateway = try GatewayHarness()
        try F.putTypes(gateway, visible: ["a.b"])
        try F.createTenant(gateway, "acme", quotas: #"{"maxSubscriptions":5}"#)
        let token = try F.issueToken(gateway, "acme").token
        let port = gateway.port
        let statuses = try await concurrently(20) { index in
            let byTenant = index % 2 == 0
            return try HTTPTestClient.request(
                port: port, "POST", "/v1/subscriptions", token: byTenant ? token : GatewayHarness.adminToken,
                body: F.subscriptionBody(["a.b"], tenantId: byTenant ? nil : "acme")).status
        }
        #expect(statuses.filter { $0 == 201 }.count == 5, "\(statuses)")
        #expect(statuses.filter { $0 == 422 }.count == 15, "\(statuses)")
        #expect(gateway.store.state.subscriptions(ofTenant: "acme").count == 5)
        try gateway.restart()
        #expect(try gateway.request("GET", "/v1/tenants/acme").json["subscriptionCount"] as? Int == 5)
    }
}
