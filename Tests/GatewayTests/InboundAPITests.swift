import Foundation
@testable import Gateway
import TestSupport
import Testing

/// Issue 12: `POST /in/{source}` on a real gateway, with requests signed by Python
/// (Fixtures/providers, made by make_fixtures.py) — not by the code under test.
@Suite("Inbound webhooks")
struct InboundAPITests {
    typealias Fixture = ProviderFixtures

    /// Sends a fixture's request (its headers and body, no bearer token) to `/in/{source}`.
    static func post(_ gateway: GatewayHarness, _ source: String, _ fixture: String, body override: String? = nil,
                     dropping: Set<String> = []) throws -> TestResponse {
        let document = try Fixture.loaded.get()
        let found = try #require(document.case(named: fixture), "no fixture \(fixture)")
        let request = try found.request(in: document)
        let headers = request.headers.filter { !dropping.contains($0.name.lowercased()) && $0.name.lowercased() != "content-type" }
            .map { ($0.name, $0.value) }
        let contentType = request.headers.first { $0.name.lowercased() == "content-type" }?.value
        return try gateway.request("POST", "/in/\(source)", token: nil, headers: headers,
                                   body: override ?? String(decoding: request.body, as: UTF8.self), contentType: contentType)
    }

    static func createSource(_ gateway: GatewayHarness, _ body: String) throws {
        let created = try gateway.request("POST", "/v1/sources", body: body)
        #expect(created.status == 201, "\(created.text)")
    }

    @Test func aGitHubPushIsVerifiedStoredByteForByteAndItsRetryIsNotStoredTwice() throws {
        let gateway = try GatewayHarness()
        try Self.createSource(gateway, #"{"name":"gh","verification":{"scheme":"github","secret":"gh-webhook-secret-2026"}}"#)
        let listed = try gateway.request("GET", "/v1/sources")
        #expect(listed.text.contains(#""path":"/in/gh""#) && listed.text.contains(#""activeSecrets":1"#), "\(listed.text)")
        #expect(!listed.text.contains("gh-webhook-secret-2026"))

        let first = try Self.post(gateway, "gh", "github push")
        #expect(first.status == 202, "\(first.text)")
        let id = try #require(first.json["id"] as? String)
        let event = try gateway.request("GET", "/v1/events/\(id)")
        #expect(event.json["type"] as? String == "github.push")
        #expect(event.json["source"] as? String == "gh")
        // The provider's headers a subscriber may need are kept with it; its signature is not.
        let headers = try #require(event.json["headers"] as? [String: String], "\(event.text)")
        #expect(headers["x-github-event"] == "push" && headers["x-github-delivery"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        #expect(headers["x-hub-signature-256"] == nil && headers["host"] == nil, "\(headers)")
        // `data` is the provider's body exactly: the raw bytes sit in the event's JSON.
        let document = try Fixture.loaded.get()
        let body = try #require(document.bodies["github-push"])
        #expect(event.text.contains(#""data":"# + body + "}"), "the body is not stored as sent")
        #expect(body.utf8.count > 5000, "the push fixture is a realistic size")

        // GitHub retries with the same X-GitHub-Delivery: the original receipt, nothing new.
        let again = try Self.post(gateway, "gh", "github push")
        #expect(again.status == 200 && again.json["id"] as? String == id && again.json["duplicate"] as? Bool == true, "\(again.text)")
        #expect(gateway.store.eventCount == 1)
        let stats = try #require(try gateway.request("GET", "/v1/sources").json["sources"] as? [[String: Any]])[0]["stats"] as? [String: Any]
        #expect(stats?["accepted"] as? Int == 1 && stats?["duplicates"] as? Int == 1)
        // The headers survive a restart, like the event (the counts start again from zero).
        try gateway.restart()
        let reread = try gateway.request("GET", "/v1/events/\(id)")
        #expect((reread.json["headers"] as? [String: String])?["x-github-event"] == "push")
    }

    @Test func refusalsSayWhichCheckFailedAndStoreNothing() throws {
        let gateway = try GatewayHarness()
        try Self.createSource(gateway, #"{"name":"gh","verification":{"scheme":"github","secret":"gh-webhook-secret-2026"}}"#)
        let tampered = try Self.post(gateway, "gh", "github push", body: #"{"ref":"refs/heads/evil"}"#)
        #expect(tampered.status == 401 && tampered.text.contains("signature-mismatch"), "\(tampered.text)")
        #expect(!tampered.text.contains("sha256="), "the detail never shows a signature")
        let unsigned = try Self.post(gateway, "gh", "github push", dropping: ["x-hub-signature-256"])
        #expect(unsigned.status == 401 && unsigned.text.contains("missing-header"), "\(unsigned.text)")
        #expect(try Self.post(gateway, "nobody", "github push").status == 404)
        // A token-only source takes no provider webhooks.
        try Self.createSource(gateway, #"{"name":"plain"}"#)
        #expect(try Self.post(gateway, "plain", "github push").status == 404)
        #expect(gateway.store.eventCount == 0)
        // Each source counts what became of its requests.
        let listed = try gateway.request("GET", "/v1/sources")
        let sources = try #require(listed.json["sources"] as? [[String: Any]])
        let stats = try #require(sources.first { $0["name"] as? String == "gh" }?["stats"] as? [String: Any])
        #expect(stats["accepted"] as? Int == 0)
        #expect((stats["rejected"] as? [String: Int]) == ["signature_mismatch": 1, "missing_header": 1], "\(listed.text)")
    }

    @Test func anAllowlistIsCheckedBeforeAnythingElse() throws {
        let gateway = try GatewayHarness()
        try Self.createSource(gateway, #"{"name":"far","verification":{"scheme":"github","secret":"gh-webhook-secret-2026"},"allowedIps":["192.30.252.0/22"]}"#)
        try Self.createSource(gateway, #"{"name":"near","verification":{"scheme":"github","secret":"gh-webhook-secret-2026"},"allowedIps":["127.0.0.0/8","::1"]}"#)
        // Even a valid signature is refused from outside the list.
        #expect(try Self.post(gateway, "far", "github push").status == 403)
        #expect(try Self.post(gateway, "near", "github push").status == 202)
    }

    @Test func typesAreMappedAndNormalizedAsConfigured() throws {
        let gateway = try GatewayHarness()
        try Self.createSource(gateway, #"{"name":"shop","verification":{"scheme":"shopify","secret":"shpss_current_app_client_secret"}}"#)
        try Self.createSource(gateway, #"{"name":"lab","verification":{"scheme":"gitlab","secret":"glwt-current-token"},"eventType":{"from":"fixed","value":"Code Pushed","prefix":"repo."}}"#)
        let shop = try Self.post(gateway, "shop", "shopify orders/create")
        #expect(shop.status == 202, "\(shop.text)")
        let shopEvent = try gateway.request("GET", "/v1/events/\(try #require(shop.json["id"] as? String))")
        #expect(shopEvent.json["type"] as? String == "shopify.orders.create")
        let lab = try Self.post(gateway, "lab", "gitlab Push Hook")
        #expect(lab.status == 202, "\(lab.text)")
        let labEvent = try gateway.request("GET", "/v1/events/\(try #require(lab.json["id"] as? String))")
        #expect(labEvent.json["type"] as? String == "repo.code_pushed")
    }

    @Test func otherBodiesArriveFaithfullyAsText() throws {
        let gateway = try GatewayHarness()
        try Self.createSource(gateway, #"{"name":"legacy","verification":{"scheme":"basic","username":"legacy","password":"pa55"},"eventType":{"from":"header","value":"X-Event"}}"#)
        let credentials = Data("legacy:pa55".utf8).base64EncodedString()
        let posted = try gateway.request("POST", "/in/legacy", token: nil,
                                         headers: [("Authorization", "Basic \(credentials)"), ("X-Event", "Order Shipped")],
                                         body: "order=7&carrier=ups&note=caf%C3%A9", contentType: "application/x-www-form-urlencoded")
        #expect(posted.status == 202, "\(posted.text)")
        let event = try gateway.request("GET", "/v1/events/\(try #require(posted.json["id"] as? String))")
        #expect(event.json["type"] as? String == "legacy.order_shipped")
        let data = try #require(event.json["data"] as? [String: Any])
        #expect(data["contentType"] as? String == "application/x-www-form-urlencoded")
        #expect(data["body"] as? String == "order=7&carrier=ups&note=caf%C3%A9")
        let wrong = try gateway.request("POST", "/in/legacy", token: nil, headers: [("Authorization", "Basic \(Data("legacy:nope".utf8).base64EncodedString())")],
                                        body: "x=1", contentType: "application/x-www-form-urlencoded")
        #expect(wrong.status == 401 && wrong.text.contains("credentials"), "\(wrong.text)")
    }

    @Test func aRotatedSecretOverlapsWithTheOldOneUntilTheOverlapEnds() throws {
        let gateway = try GatewayHarness()
        try Self.createSource(gateway, #"{"name":"gh","verification":{"scheme":"github","secret":"gh-webhook-secret-2026"}}"#)
        let rotated = try gateway.request("POST", "/v1/sources/gh/rotate-secret", body: #"{"secret":"a-new-secret","overlapSeconds":3600}"#)
        #expect(rotated.status == 200 && rotated.text.contains(#""activeSecrets":2"#), "\(rotated.text)")
        // The old secret still verifies during the overlap...
        #expect(try Self.post(gateway, "gh", "github push").status == 202)
        // ...and not once a rotation without overlap replaces both.
        #expect(try gateway.request("POST", "/v1/sources/gh/rotate-secret", body: #"{"secret":"another","overlapSeconds":0}"#).status == 200)
        let refused = try Self.post(gateway, "gh", "github pull_request.opened")
        #expect(refused.status == 401, "\(refused.text)")
        // And it all survives a restart.
        try gateway.restart()
        let listed = try gateway.request("GET", "/v1/sources")
        #expect(listed.text.contains(#""activeSecrets":1"#) && listed.text.contains(#""scheme":"github""#), "\(listed.text)")
        #expect(try gateway.request("POST", "/v1/sources/plain/rotate-secret", body: #"{"secret":"x"}"#).status == 404)
    }
}
