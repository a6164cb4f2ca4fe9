import Runtime
import JSON
import Foundation
@testable import Gateway
import TargetPolicy
import TestSupport
import Testing

@Suite("Event type patterns")
struct EventTypePatternTests {
    @Test(arguments: [
        ("order.created", "order.created", true),
        ("order.created", "order.updated", false),
        ("order.*", "order.created", true),
        ("order.*", "order.line.added", true),
        ("order.*", "order", false),
        ("order.*", "orders.created", false),
        ("order.*.shipped", "order.eu.shipped", true),
        ("order.*.shipped", "order.eu.west.shipped", false),
        ("*", "anything.at.all", true),
        ("*.created", "user.created", true),
        ("*.created", "user.deleted", false),
    ])
    func matching(_ pattern: String, _ type: String, _ expected: Bool) throws {
        #expect(try #require(EventTypePattern(pattern)).matches(type) == expected)
    }

    @Test func invalidPatternsAreRefused() {
        for text in ["", "Order.*", "order..x", "order.**", ".order", "order.", "a b"] {
            #expect(EventTypePattern(text) == nil, "\(text)")
        }
    }
}

@Suite("Subscription filters")
struct SubscriptionFilterTests {
    static let data = try! JSONParser.parse(#"""
    {"amount": 250, "country": "DE", "customer": {"tier": "gold", "since": "2020-01-01"},
     "lines": [{"sku": "A-1"}], "coupon": null}
    """#)

    @Test(arguments: [
        (#"{"country": "DE"}"#, true),
        (#"{"country": "FR"}"#, false),
        (#"{"customer.tier": "gold", "amount": 250}"#, true),
        (#"{"amount": {"$gte": 100, "$lt": 1000}}"#, true),
        (#"{"amount": {"$gt": 250}}"#, false),
        (#"{"customer.since": {"$lt": "2021-01-01"}}"#, true),
        (#"{"country": {"$in": ["FR", "DE"]}}"#, true),
        (#"{"country": {"$ne": "DE"}}"#, false),
        (#"{"coupon": {"$exists": true}}"#, true),
        (#"{"missing": {"$exists": false}}"#, true),
        (#"{"lines.0.sku": "A-1"}"#, true),
        (#"{"lines.1.sku": "A-1"}"#, false),
        (#"{"$or": [{"country": "FR"}, {"amount": {"$gt": 100}}]}"#, true),
        (#"{"$and": [{"country": "DE"}, {"customer.tier": "silver"}]}"#, false),
        (#"{"$not": {"country": "FR"}}"#, true),
        (#"{"amount": {"$gt": "100"}}"#, false),
    ])
    func evaluation(_ filter: String, _ expected: Bool) throws {
        let compiled = try SubscriptionFilter(JSONParser.parse(filter))
        #expect(compiled.matches(Self.data) == expected)
    }

    @Test(arguments: [
        (#"[1]"#, "must be an object"),
        (#"{"$or": []}"#, "/$or"),
        (#"{"$xor": []}"#, "unknown operator $xor"),
        (#"{"a": {"$in": 5}}"#, "$in takes an array"),
        (#"{"a": {"$gt": true}}"#, "$gt takes a number or a string"),
        (#"{"a": {"$exists": 1}}"#, "$exists takes true or false"),
        (#"{"a..b": 1}"#, "not a valid field path"),
    ])
    func mistakesAreRefusedWithTheirLocation(_ filter: String, _ message: String) throws {
        let error = #expect(throws: SubscriptionFilter.CompileError.self) {
            _ = try SubscriptionFilter(JSONParser.parse(filter))
        }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }
}

@Suite("Subscriptions API")
struct SubscriptionsAPITests {
    static let create = #"""
    {"url":"http://127.0.0.1:9/hook","eventTypes":["order.*"],"description":"orders",
     "filter":{"amount":{"$gte":100}},"headers":{"X-Team":"billing"},"ordered":true,"maxInFlight":5,
     "rateLimit":20,"retry":{"maxAttempts":3,"maxAgeSeconds":600}}
    """#

    @Test func createReadUpdateDeleteAndSurviveRestarts() throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("POST", "/v1/subscriptions", body: Self.create)
        #expect(created.status == 201, "\(created.text)")
        let id = try #require(created.json["id"] as? String)
        #expect(id.hasPrefix("sub_"))
        let secret = try #require(created.json["secret"] as? String)
        #expect(secret.hasPrefix("whsec_") && Data(base64Encoded: String(secret.dropFirst(6)))?.count == 32)
        #expect(created.json["status"] as? String == "active")
        #expect(created.json["ordered"] as? Bool == true)
        #expect((created.json["headers"] as? [String: String])?["X-Team"] == "billing")

        try gateway.restart()
        let read = try gateway.request("GET", "/v1/subscriptions/\(id)")
        #expect(read.status == 200)
        #expect(read.json["secret"] as? String == secret)
        #expect((read.json["filter"] as? [String: Any])?["amount"] != nil)
        #expect((read.json["retry"] as? [String: Any])?["maxAttempts"] as? Int == 3)

        let patched = try gateway.request("PATCH", "/v1/subscriptions/\(id)", body: #"{"eventTypes":["*"],"filter":null,"rateLimit":null}"#)
        #expect(patched.status == 200)
        #expect(patched.json["eventTypes"] as? [String] == ["*"])
        #expect(patched.json["filter"] is NSNull)
        #expect(patched.json["rateLimit"] is NSNull)
        #expect(patched.json["description"] as? String == "orders")

        let listed = try gateway.request("GET", "/v1/subscriptions")
        #expect((listed.json["subscriptions"] as? [[String: Any]])?.count == 1)
        #expect(try gateway.request("DELETE", "/v1/subscriptions/\(id)").status == 204)
        try gateway.restart()
        #expect(try gateway.request("GET", "/v1/subscriptions/\(id)").status == 404)
    }

    @Test func pauseResumeAndRotate() throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://example.com/hook","eventTypes":["a.b"],"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}"#)
        let id = try #require(created.json["id"] as? String)
        #expect(created.json["secret"] as? String == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        #expect(try gateway.request("POST", "/v1/subscriptions/\(id)/pause").json["status"] as? String == "paused")
        #expect(try gateway.request("POST", "/v1/subscriptions/\(id)/resume").json["status"] as? String == "active")

        let rotated = try gateway.request("POST", "/v1/subscriptions/\(id)/rotate-secret")
        #expect(rotated.status == 200)
        let newSecret = try #require(rotated.json["secret"] as? String)
        #expect(newSecret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        // Both sign during the overlap, newest first; after a restart too.
        try gateway.restart()
        let subscription = try #require(gateway.store.state.subscription(id))
        #expect(subscription.activeSecrets(at: wallClockMicroseconds()) == [newSecret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        #expect(subscription.activeSecrets(at: wallClockMicroseconds() + 25 * 3600 * 1_000_000) == [newSecret])

        let noOverlap = try gateway.request("POST", "/v1/subscriptions/\(id)/rotate-secret", body: #"{"overlapSeconds":0}"#)
        let latest = try #require(noOverlap.json["secret"] as? String)
        #expect(gateway.store.state.subscription(id)?.activeSecrets(at: wallClockMicroseconds()) == [latest])
    }

    @Test func aDisableAfterA410SetsOnlyTheReason() throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://example.com/hook","eventTypes":["a.b"]}"#)
        let id = try #require(created.json["id"] as? String)
        // An operator's change lands first; the disable must keep it.
        #expect(try gateway.request("PATCH", "/v1/subscriptions/\(id)", body: #"{"description":"changed"}"#).status == 200)
        let done = DispatchSemaphore(value: 0)
        #expect(gateway.store.disableSubscription(id, reason: "HTTP 410 Gone") { done.signal() })
        done.wait()
        func check() throws {
            let shown = try gateway.request("GET", "/v1/subscriptions/\(id)")
            #expect(shown.json["status"] as? String == "disabled")
            #expect(shown.json["disabledReason"] as? String == "HTTP 410 Gone")
            #expect(shown.json["description"] as? String == "changed")
        }
        try check()
        // Already disabled: nothing to record.
        #expect(!gateway.store.disableSubscription(id, reason: "again") {})
        #expect(!gateway.store.disableSubscription("sub_missing", reason: "HTTP 410 Gone") {})
        try gateway.restart()
        try check()
        let resumed = try gateway.request("POST", "/v1/subscriptions/\(id)/resume")
        #expect(resumed.json["status"] as? String == "active")
        #expect(resumed.json["description"] as? String == "changed")
    }

    @Test(arguments: [
        (#"{"eventTypes":["a.b"]}"#, 422, "'url' is required"),
        (#"{"url":"ftp://x/y","eventTypes":["a.b"]}"#, 422, "http://"),
        (#"{"url":"https://user:pw@x.com/","eventTypes":["a.b"]}"#, 422, "credentials"),
        (#"{"url":"https:///path","eventTypes":["a.b"]}"#, 422, "no host"),
        (#"{"url":"https://x.com/","eventTypes":[]}"#, 422, "eventTypes"),
        (#"{"url":"https://x.com/","eventTypes":["Order.*"]}"#, 422, "invalid pattern"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"filter":{"$bad":1}}"#, 422, "unknown operator"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"secret":"not-a-secret"}"#, 422, "whsec_"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"headers":{"webhook-id":"x"}}"#, 422, "the gateway sets it"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"maxInFlight":0}"#, 422, "maxInFlight"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"rateLimit":1.5}"#, 422, "rateLimit"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"retry":{"maxAttempts":0}}"#, 422, "maxAttempts"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"colour":"red"}"#, 422, "Unknown field 'colour'"),
        (#"{"url":"https://x.com/","url":"https://y.com/","eventTypes":["a.b"]}"#, 400, "duplicate"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"paused":true}"#, 422, "Unknown field 'paused'"),
        (#"{"url":"https://:80/","eventTypes":["a.b"]}"#, 422, "no host"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"headers":{"X-A":"1","x-a":"2"}}"#, 422, "twice"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"headers":{"Upgrade":"h2c"}}"#, 422, "the gateway sets it"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"filter":{}}"#, 422, "at least one condition"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"filter":{"a":{"$gt":1,"x":2}}}"#, 422, "mixed with operators"),
        (#"{"url":"https://x.com/","eventTypes":["a.b"],"retry":{"maxAttempts":2,"tries":3}}"#, 422, "retry.tries"),
    ])
    func invalidSubscriptionsAreRefused(_ body: String, _ status: Int, _ detail: String) throws {
        let gateway = try GatewayHarness()
        let response = try gateway.request("POST", "/v1/subscriptions", body: body)
        #expect(response.status == status, "\(response.text)")
        #expect((response.json["detail"] as? String)?.contains(detail) == true, "\(response.text)")
        #expect(gateway.store.state.subscriptions().isEmpty)
    }

    @Test func concurrentChangesOfDifferentFieldsAllStick() async throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://x.com/","eventTypes":["a.b"]}"#)
        let id = try #require(created.json["id"] as? String)
        let port = gateway.port
        let changes = [
            ("PATCH", "", #"{"description":"changed"}"#), ("PATCH", "", #"{"maxInFlight":7}"#),
            ("PATCH", "", #"{"rateLimit":40}"#), ("PATCH", "", #"{"ordered":true}"#),
            ("PATCH", "", #"{"headers":{"X-Team":"billing"}}"#), ("POST", "/pause", ""), ("POST", "/rotate-secret", ""),
        ]
        let statuses = try await concurrently(changes.count) { index in
            let (method, suffix, body) = changes[index]
            return try HTTPTestClient.request(port: port, method, "/v1/subscriptions/\(id)\(suffix)", token: GatewayHarness.adminToken,
                                              body: body.isEmpty ? nil : body).status
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        let shown = try gateway.request("GET", "/v1/subscriptions/\(id)")
        #expect(shown.json["description"] as? String == "changed")
        #expect(shown.json["maxInFlight"] as? Int == 7)
        #expect(shown.json["rateLimit"] as? Int == 40)
        #expect(shown.json["ordered"] as? Bool == true)
        #expect((shown.json["headers"] as? [String: String]) == ["X-Team": "billing"])
        #expect(shown.json["status"] as? String == "paused")
        #expect(shown.json["secret"] as? String != created.json["secret"] as? String)
    }

    @Test func patchAndRotateCheckTheirInput() throws {
        let gateway = try GatewayHarness()
        #expect(try gateway.request("PATCH", "/v1/subscriptions/sub_nope", body: #"{"bogus":1}"#).status == 404)
        let created = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://x.com/","eventTypes":["a.b"],"retry":{"maxAttempts":2}}"#)
        let id = try #require(created.json["id"] as? String)
        let cleared = try gateway.request("PATCH", "/v1/subscriptions/\(id)", body: #"{"retry":null}"#)
        #expect(cleared.status == 200)
        #expect((cleared.json["retry"] as? [String: Any])?["maxAttempts"] is NSNull)
        #expect(try gateway.request("POST", "/v1/subscriptions/\(id)/rotate-secret", body: "{oops").status == 400)
        #expect(try gateway.request("POST", "/v1/subscriptions/\(id)/rotate-secret", body: #"{"overlap":5}"#).status == 422)
        #expect(try gateway.request("POST", "/v1/subscriptions/\(id)/rotate-secret", body: #"{"overlapSeconds":5}"#, contentType: "text/plain").status == 415)
    }

    @Test func theTargetPolicyIsConsulted() throws {
        // The default policy: private and other non-public addresses are refused.
        let gateway = try GatewayHarness { core, _ in core.targetPolicy = TargetAddressPolicy() }
        let refused = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"http://10.0.0.1/hook","eventTypes":["*"]}"#)
        #expect(refused.status == 422)
        #expect((refused.json["detail"] as? String)?.contains("private") == true)
        #expect(try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"http://93.184.216.34/hook","eventTypes":["*"]}"#).status == 201)
    }

    @Test func unknownSubscriptionIs404AndSourcesAreForbidden() throws {
        let gateway = try GatewayHarness()
        #expect(try gateway.request("GET", "/v1/subscriptions/sub_nope").status == 404)
        #expect(try gateway.request("POST", "/v1/subscriptions/sub_nope/pause").status == 404)
        let source = try gateway.request("POST", "/v1/sources", body: #"{"name":"app"}"#)
        let token = try #require(source.json["token"] as? String)
        #expect(try gateway.request("GET", "/v1/subscriptions", token: token).status == 403)
    }
}
