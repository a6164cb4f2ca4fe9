import Foundation
@testable import Gateway
import HTTPServer
import Runtime
import TestSupport
import Testing

/// Issue 11's main property: a tenant's token reaches nothing of another tenant's (or of the
/// admin's) — every route that takes an id answers 404 for a foreign one, exactly as for an
/// id nobody has, and nothing changes; admin-only routes answer 403; a source's token is
/// refused on every route but publishing; revoked and expired tokens on every route are 401.
///
/// The routes come from the router itself (`Router.routes`), and each must have a case here:
/// a route added later without one fails the test instead of going unchecked. Every case is
/// tried, not a sample: the table is small enough to be exhaustive.
@Suite("Tenant isolation")
struct TenantIsolationTests {
    typealias F = TenantFixtures

    /// Two tenants with subscriptions, deliveries, dead letters and replays, the admin's own
    /// subscription, a source, and alpha's tokens in every state.
    final class World {
        let gateway: GatewayHarness
        var alpha = "", alphaRevoked = "", alphaExpiring = "", beta = "", betaTokenID = "", source = ""
        var alphaSub = "", betaOrders = "", betaAll = "", adminSub = ""
        var toAlpha = "", toBeta = "", toBetaDead = "", broadcast = "", hidden = ""
        var betaReplay = "", alphaReplay = ""
        var expiresAt: Int64 = 0

        init() throws {
            gateway = try GatewayHarness()
            try F.putTypes(gateway, visible: ["order.created", "order.paid"], hidden: ["internal.audit"])
            try F.createTenant(gateway, "alpha")
            try F.createTenant(gateway, "beta")
            alpha = try F.issueToken(gateway, "alpha").token
            let revoked = try F.issueToken(gateway, "alpha")
            #expect(try gateway.request("DELETE", "/v1/tenants/alpha/tokens/\(revoked.id)").status == 204)
            alphaRevoked = revoked.token
            expiresAt = wallClockMicroseconds() + 1_000_000
            alphaExpiring = try F.issueToken(gateway, "alpha", expiresAt: expiresAt).token
            let betaToken = try F.issueToken(gateway, "beta")
            (beta, betaTokenID) = betaToken
            source = try #require(try gateway.request("POST", "/v1/sources", body: #"{"name":"shop"}"#).json["token"] as? String)

            alphaSub = try F.subscribe(gateway, token: alpha, ["order.*"])
            betaOrders = try F.subscribe(gateway, token: beta, ["order.*"])
            betaAll = try F.subscribe(gateway, ["*"], tenantId: "beta")
            adminSub = try F.subscribe(gateway, ["*"])

            toAlpha = try F.publish(gateway, "order.created", tenant: "alpha").id
            toBeta = try F.publish(gateway, "order.created", tenant: "beta", token: source).id
            broadcast = try F.publish(gateway, "order.paid").id
            hidden = try F.publish(gateway, "internal.audit").id
            F.settleAll(gateway, betaOrders, result: .deadLettered)
            toBetaDead = try F.publish(gateway, "order.paid", tenant: "beta").id
            F.settleAll(gateway, betaOrders, result: .deadLettered)
            for id in [alphaSub, betaAll, adminSub] { F.settleAll(gateway, id) }

            betaReplay = try replay(betaAll, token: beta)
            alphaReplay = try replay(alphaSub, token: alpha)
        }

        /// Starts a replay of everything and sees it through, so the state is at rest.
        private func replay(_ subscription: String, token: String) throws -> String {
            let started = try gateway.request("POST", "/v1/subscriptions/\(subscription)/replays", token: token,
                                              body: #"{"since":"2000-01-01T00:00:00Z"}"#)
            #expect(started.status == 202, "\(started.text)")
            let id = try #require(started.json["id"] as? String)
            let deadline = ContinuousClock.now + .seconds(5)
            while gateway.store.replay(id)?.status != .completed && ContinuousClock.now < deadline {
                if gateway.store.replay(id)?.status == .delivering { F.settleAll(gateway, subscription) }
                Thread.sleep(forTimeInterval: 0.002)
            }
            #expect(gateway.store.replay(id)?.status == .completed)
            return id
        }

        /// Everything the other tenant and the admin have, as the admin reads it, and what
        /// the store owes: equal before and after means nothing changed.
        func state() throws -> [String] {
            var parts: [String] = []
            func read(_ path: String) throws {
                let response = try gateway.request("GET", path)
                parts.append("\(path) \(response.status) \(response.text)")
            }
            for id in [betaOrders, betaAll, adminSub, alphaSub] {
                for suffix in ["", "/stats", "/dead-letters", "/replays"] { try read("/v1/subscriptions/\(id)\(suffix)") }
                let store = gateway.store.state
                parts.append("\(id) owes \(store.pendingDeliveries(for: id).map(\.sequence)) dead \(store.deadLetters(for: id).map(\.sequence))")
            }
            for path in ["/v1/subscriptions", "/v1/tenants", "/v1/tenants/beta/tokens", "/v1/tenants/alpha/tokens",
                         "/v1/event-types?archived=true", "/v1/sources", "/v1/events?limit=1000"] {
                try read(path)
            }
            for id in [toAlpha, toBeta, toBetaDead, broadcast, hidden] { try read("/v1/events/\(id)/attempts") }
            return parts
        }
    }

    /// Who may call a route.
    enum Access {
        /// No token needed.
        case open
        /// The admin and sources (publishing).
        case publish
        case adminOnly
        /// The admin and tenants, each tenant within what is its own.
        case tenant
    }

    /// One request of a case: what alpha's token gets.
    struct Attempt {
        var path: String
        var body: String?
        var expected: Int
        /// Whether the admin finds what the path names (so alpha's 404 is not for a typo).
        var real = true
    }

    /// Every route with the requests that aim alpha's token at beta's (and the admin's) ids.
    static func cases(_ w: World) -> [String: (access: Access, attempts: [Attempt])] {
        let foreignSubs = [w.betaOrders, w.betaAll, w.adminSub]
        let foreignEvents = [w.toBeta, w.toBetaDead, w.hidden]
        func each(_ ids: [String], _ path: (String) -> String, body: String? = nil) -> [Attempt] {
            ids.map { Attempt(path: path($0), body: body, expected: 404) }
        }
        func admin(_ paths: [String], body: String? = nil) -> [Attempt] { paths.map { Attempt(path: $0, body: body, expected: 403) } }
        let subs = { (suffix: String, body: String?) in each(foreignSubs, { "/v1/subscriptions/\($0)\(suffix)" }, body: body) }
        let since = #"{"since":"2000-01-01T00:00:00Z"}"#
        // Beta's replay under its subscription, and under alpha's own.
        let foreignReplay = [
            Attempt(path: "/v1/subscriptions/\(w.betaAll)/replays/\(w.betaReplay)", expected: 404),
            Attempt(path: "/v1/subscriptions/\(w.alphaSub)/replays/\(w.betaReplay)", expected: 404, real: false),
        ]
        return [
            "GET /healthz": (.open, []),
            "GET /readyz": (.open, []),
            "POST /v1/events": (.publish, [Attempt(path: "/v1/events", body: F.envelope("order.created", tenant: "beta"), expected: 403)]),
            "POST /v1/events/batch": (.publish, [Attempt(path: "/v1/events/batch", body: "{\"events\":[\(F.envelope("order.created"))]}", expected: 403)]),
            "GET /v1/events": (.adminOnly, admin(["/v1/events"])),
            "GET /v1/events/{id}": (.tenant, each(foreignEvents, { "/v1/events/\($0)" })
                + [Attempt(path: "/v1/events/evt_01AAAAAAAAAAAAAAAAAAAAAAAA", expected: 404, real: false)]),
            "GET /v1/events/{id}/attempts": (.tenant, each(foreignEvents, { "/v1/events/\($0)/attempts" })),
            // Foreign events, and its own event to someone else's subscription.
            "POST /v1/events/{id}/resend": (.tenant, each(foreignEvents, { "/v1/events/\($0)/resend" })
                + foreignSubs.map { Attempt(path: "/v1/events/\(w.toAlpha)/resend", body: "{\"subscriptionId\":\"\($0)\"}", expected: 404) }),
            "PUT /v1/event-types/{name}": (.adminOnly, admin(["/v1/event-types/order.created", "/v1/event-types/new.type"], body: #"{"tenantVisible":false}"#)),
            "GET /v1/event-types": (.tenant, []),
            "GET /v1/event-types/{name}": (.tenant, [Attempt(path: "/v1/event-types/internal.audit", expected: 404),
                                                     Attempt(path: "/v1/event-types/never.registered", expected: 404, real: false)]),
            "DELETE /v1/event-types/{name}": (.adminOnly, admin(["/v1/event-types/order.created", "/v1/event-types/internal.audit"])),
            "POST /v1/sources": (.adminOnly, admin(["/v1/sources"], body: #"{"name":"mine"}"#)),
            "GET /v1/sources": (.adminOnly, admin(["/v1/sources"])),
            "DELETE /v1/sources/{name}": (.adminOnly, admin(["/v1/sources/shop"])),
            "POST /v1/sources/{name}/rotate-secret": (.adminOnly, admin(["/v1/sources/shop/rotate-secret"], body: #"{"secret":"x"}"#)),
            // A provider's webhook takes no token: its signature is what authenticates it.
            "POST /in/{source}": (.open, []),
            "POST /v1/subscriptions": (.tenant, [Attempt(path: "/v1/subscriptions", body: F.subscriptionBody(["order.*"], tenantId: "beta"), expected: 404)]),
            "GET /v1/subscriptions": (.tenant, [Attempt(path: "/v1/subscriptions?tenant=beta", expected: 404)]),
            "GET /v1/subscriptions/{id}": (.tenant, subs("", nil)),
            "PATCH /v1/subscriptions/{id}": (.tenant, subs("", #"{"description":"mine now","url":"https://evil.example/"}"#)),
            "DELETE /v1/subscriptions/{id}": (.tenant, subs("", nil)),
            "POST /v1/subscriptions/{id}/pause": (.tenant, subs("/pause", nil)),
            "POST /v1/subscriptions/{id}/resume": (.tenant, subs("/resume", nil)),
            "POST /v1/subscriptions/{id}/rotate-secret": (.tenant, subs("/rotate-secret", #"{"overlapSeconds":0}"#)),
            "GET /v1/subscriptions/{id}/stats": (.tenant, subs("/stats", nil)),
            "POST /v1/subscriptions/{id}/test": (.tenant, subs("/test", nil)),
            "GET /v1/subscriptions/{id}/dead-letters": (.tenant, subs("/dead-letters", nil)),
            "POST /v1/subscriptions/{id}/dead-letters/redeliver": (.tenant, subs("/dead-letters/redeliver", nil)
                + subs("/dead-letters/redeliver", "{\"eventIds\":[\"\(w.toBetaDead)\"]}")),
            "DELETE /v1/subscriptions/{id}/dead-letters/{eventId}": (.tenant, subs("/dead-letters/\(w.toBetaDead)", nil)
                + [Attempt(path: "/v1/subscriptions/\(w.alphaSub)/dead-letters/\(w.toBetaDead)", expected: 404)]),
            "POST /v1/subscriptions/{id}/replays": (.tenant, subs("/replays", since)),
            "GET /v1/subscriptions/{id}/replays": (.tenant, subs("/replays", nil)),
            "GET /v1/subscriptions/{id}/replays/{replayId}": (.tenant, foreignReplay),
            "DELETE /v1/subscriptions/{id}/replays/{replayId}": (.tenant, foreignReplay),
            "POST /v1/tenants": (.adminOnly, admin(["/v1/tenants"], body: #"{"id":"gamma","name":"G"}"#)),
            "GET /v1/tenants": (.adminOnly, admin(["/v1/tenants"])),
            "GET /v1/tenants/{id}": (.tenant, [Attempt(path: "/v1/tenants/beta", expected: 404),
                                              Attempt(path: "/v1/tenants/nobody", expected: 404, real: false)]),
            "PATCH /v1/tenants/{id}": (.adminOnly, admin(["/v1/tenants/beta", "/v1/tenants/alpha"], body: #"{"quotas":{"maxSubscriptions":100}}"#)),
            "DELETE /v1/tenants/{id}": (.adminOnly, admin(["/v1/tenants/beta", "/v1/tenants/alpha"])),
            "POST /v1/tenants/{id}/tokens": (.adminOnly, admin(["/v1/tenants/beta/tokens", "/v1/tenants/alpha/tokens"])),
            "GET /v1/tenants/{id}/tokens": (.adminOnly, admin(["/v1/tenants/beta/tokens", "/v1/tenants/alpha/tokens"])),
            "DELETE /v1/tenants/{id}/tokens/{tokenId}": (.adminOnly, admin(["/v1/tenants/beta/tokens/\(w.betaTokenID)"])),
        ]
    }

    /// The routes the gateway serves, as `"METHOD /template"`.
    static func servedRoutes(_ gateway: GatewayHarness) -> [String] {
        var router = Router()
        GatewayAPI.register(on: &router, core: gateway.core, adminToken: GatewayHarness.adminToken)
        return router.routes.map { "\($0.method.rawValue) \($0.template)" }
    }

    static func method(_ route: String) -> String { String(route.prefix { $0 != " " }) }

    @Test func everyRouteHasACase() throws {
        let world = try World()
        let served = Self.servedRoutes(world.gateway)
        let cases = Self.cases(world)
        for route in served where cases[route] == nil {
            Issue.record("no isolation case for \(route): add one to TenantIsolationTests.cases")
        }
        for route in cases.keys where !served.contains(route) {
            Issue.record("a case for \(route), which the router does not serve")
        }
        // Every route a tenant may call that names something in its path is aimed at
        // foreign ids at least once.
        for route in served where route.contains("{") && cases[route]?.access == .tenant {
            #expect(cases[route]?.attempts.isEmpty == false, "\(route) has no foreign ids to try")
        }
    }

    @Test func aTenantsTokenFindsNothingOfAnotherTenantsAndChangesNothing() throws {
        let world = try World()
        let cases = Self.cases(world)
        var before = try world.state()
        for route in Self.servedRoutes(world.gateway) {
            guard let (_, attempts) = cases[route] else { continue }
            for attempt in attempts {
                let response = try world.gateway.request(Self.method(route), attempt.path, token: world.alpha, body: attempt.body)
                #expect(response.status == attempt.expected, "\(route) \(attempt.path) \(attempt.body ?? ""): \(response.text)")
                if attempt.expected == 404 {
                    // The same answer as for an id nobody has: nothing tells a foreign id apart.
                    let detail = response.json["detail"] as? String ?? ""
                    #expect(detail.hasPrefix("No ") || detail.contains("not a dead letter"), "\(route) \(attempt.path): \(detail)")
                }
            }
            let after = try world.state()
            for (old, new) in zip(before, after) where old != new {
                Issue.record("\(route) with alpha's token changed state:\n  before: \(old)\n  after:  \(new)")
            }
            before = after
        }
        // The ids were real: the admin reads every one of them.
        for (route, (_, attempts)) in cases where Self.method(route) == "GET" {
            for attempt in attempts where attempt.expected == 404 && attempt.real {
                #expect(try world.gateway.request("GET", attempt.path).status == 200, "admin \(attempt.path)")
            }
        }
    }

    @Test func aTenantsTokenSeesItsOwnAndOnlyItsOwn() throws {
        let w = try World()
        let gateway = w.gateway
        let listed = try gateway.request("GET", "/v1/subscriptions", token: w.alpha)
        #expect((listed.json["subscriptions"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [w.alphaSub])
        #expect(try gateway.request("GET", "/v1/subscriptions?tenant=alpha", token: w.alpha).status == 200)
        let types = try gateway.request("GET", "/v1/event-types", token: w.alpha)
        #expect(Set((types.json["eventTypes"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }) == ["order.created", "order.paid"])
        #expect(try gateway.request("GET", "/v1/event-types/order.paid", token: w.alpha).status == 200)
        let own = try gateway.request("GET", "/v1/tenants/alpha", token: w.alpha)
        #expect(own.status == 200 && own.json["subscriptionCount"] as? Int == 1, "\(own.text)")
        // Events delivered to it: addressed to it, or a broadcast one of its subscriptions got.
        let addressed = try gateway.request("GET", "/v1/events/\(w.toAlpha)", token: w.alpha)
        #expect(addressed.status == 200 && addressed.json["tenant"] as? String == "alpha", "\(addressed.text)")
        #expect(try gateway.request("GET", "/v1/events/\(w.broadcast)", token: w.alpha).status == 200)
        // Its attempts only, though beta and the admin were sent the broadcast too.
        let attempts = try gateway.request("GET", "/v1/events/\(w.broadcast)/attempts", token: w.alpha)
        let to = (attempts.json["attempts"] as? [[String: Any]] ?? []).compactMap { $0["subscriptionId"] as? String }
        #expect(!to.isEmpty && Set(to) == [w.alphaSub], "\(attempts.text)")
        let all = try gateway.request("GET", "/v1/events/\(w.broadcast)/attempts")
        #expect(Set((all.json["attempts"] as? [[String: Any]] ?? []).compactMap { $0["subscriptionId"] as? String })
            == [w.alphaSub, w.betaOrders, w.betaAll, w.adminSub])
        // Its replay, read and listed.
        #expect(try gateway.request("GET", "/v1/subscriptions/\(w.alphaSub)/replays/\(w.alphaReplay)", token: w.alpha).status == 200)
    }

    @Test func adminOnlyRoutesRefuseTenantsAndSourcesRefuseEverythingButPublishing() throws {
        let world = try World()
        let before = try world.state()
        for (route, (access, attempts)) in Self.cases(world).sorted(by: { $0.key < $1.key }) {
            guard access == .adminOnly || access == .tenant, let attempt = attempts.first ?? Self.plain(route) else { continue }
            let source = try world.gateway.request(Self.method(route), attempt.path, token: world.source, body: attempt.body)
            #expect(source.status == 403, "\(route) with a source's token: \(source.text)")
            if access == .adminOnly {
                let tenant = try world.gateway.request(Self.method(route), attempt.path, token: world.beta, body: attempt.body)
                #expect(tenant.status == 403, "\(route) with beta's token: \(tenant.text)")
            }
        }
        #expect(try world.state() == before)
    }

    @Test func revokedAndExpiredTokensAreRefusedOnEveryRoute() async throws {
        let world = try World()
        try await Task.sleep(for: .microseconds(max(0, world.expiresAt - wallClockMicroseconds()) + 20_000))
        let before = try world.state()
        for (route, (access, attempts)) in Self.cases(world).sorted(by: { $0.key < $1.key }) where access != .open {
            guard let attempt = attempts.first ?? Self.plain(route) else { continue }
            for (token, says) in [(world.alphaRevoked, "The token is not valid."), (world.alphaExpiring, "The token has expired.")] {
                let response = try world.gateway.request(Self.method(route), attempt.path, token: token, body: attempt.body)
                #expect(response.status == 401 && response.json["detail"] as? String == says, "\(route): \(response.text)")
            }
        }
        #expect(try world.state() == before)
    }

    /// A request of a route that has no foreign-id case (its path has no id).
    static func plain(_ route: String) -> Attempt? {
        let path = String(route.drop { $0 != " " }.dropFirst())
        return path.contains("{") ? nil : Attempt(path: path, body: method(route) == "GET" ? nil : "{}", expected: 0)
    }
}
