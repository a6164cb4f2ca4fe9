import TestSupport
import Foundation
@testable import Gateway
import Testing

@Suite("Tokens and sources")
struct AccessAPITests {
    @Test func missingOrWrongTokenIs401() throws {
        let gateway = try GatewayHarness()
        let missing = try gateway.request("POST", "/v1/events", token: nil, body: #"{"type":"a.b","data":1}"#)
        #expect(missing.status == 401)
        #expect(missing.header("www-authenticate")?.hasPrefix("Bearer") == true)
        #expect(try gateway.request("POST", "/v1/events", token: "nope", body: #"{"type":"a.b","data":1}"#).status == 401)
        let malformed = try gateway.request("GET", "/v1/events", token: nil, headers: [("Authorization", "Basic abc")])
        #expect(malformed.status == 401)
        #expect(try gateway.request("GET", "/v1/events", token: nil, headers: [("Authorization", "Bearer a b")]).status == 401)
        #expect(gateway.store.state.eventCount == 0)
    }

    /// RFC 6750 §2.1: `Bearer` 1*SP token, in any case.
    @Test(arguments: ["Bearer  ", "bearer ", "BEARER   "])
    func theTokenMayFollowSeveralSpaces(_ prefix: String) throws {
        let gateway = try GatewayHarness()
        let response = try gateway.request("GET", "/v1/events", token: nil, headers: [("Authorization", prefix + GatewayHarness.adminToken)])
        #expect(response.status == 200, "\(response.text)")
    }

    @Test func concurrentCreatesOfOneSourceLeaveOneTokenAndARevokeEndsIt() async throws {
        let gateway = try GatewayHarness()
        let port = gateway.port
        let answers = try await concurrently(12) { _ in
            let response = try HTTPTestClient.request(port: port, "POST", "/v1/sources", token: GatewayHarness.adminToken,
                                                      body: #"{"name":"racer"}"#)
            return (response.status, response.json["token"] as? String)
        }
        let tokens = answers.compactMap(\.1)
        #expect(tokens.count == 1, "\(answers)")
        #expect(answers.filter { $0.0 == 409 }.count == 11, "\(answers)")
        let token = try #require(tokens.first)
        #expect(try gateway.request("POST", "/v1/events", token: token, body: #"{"type":"a.b","data":1}"#).status == 202)
        #expect(try gateway.request("DELETE", "/v1/sources/racer").status == 204)
        #expect(try gateway.request("POST", "/v1/events", token: token, body: #"{"type":"a.b","data":1}"#).status == 401)
    }

    @Test func aSourcePublishesAsItselfAndNothingElse() throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("POST", "/v1/sources", body: #"{"name":"billing"}"#)
        #expect(created.status == 201)
        let token = try #require(created.json["token"] as? String)
        #expect(token.hasPrefix("src_"))

        // It may publish; the event carries its name whatever the body claims.
        let published = try gateway.request("POST", "/v1/events", token: token, body: #"{"type":"invoice.paid","source":"someone-else","data":{}}"#)
        #expect(published.status == 202)
        let id = try #require(published.json["id"] as? String)
        let event = try gateway.request("GET", "/v1/events/\(id)")
        #expect(event.json["source"] as? String == "billing")

        // It may not read or manage anything.
        #expect(try gateway.request("GET", "/v1/events/\(id)", token: token).status == 403)
        #expect(try gateway.request("GET", "/v1/sources", token: token).status == 403)
        #expect(try gateway.request("PUT", "/v1/event-types/a.b", token: token, body: "{}").status == 403)

        // The token survives a restart (only its digest is stored) and dies with revocation.
        try gateway.restart()
        #expect(try gateway.request("POST", "/v1/events", token: token, body: #"{"type":"invoice.paid","data":{}}"#).status == 202)
        let listed = try gateway.request("GET", "/v1/sources")
        #expect((listed.json["sources"] as? [[String: Any]])?.first?["name"] as? String == "billing")
        #expect(!listed.text.contains(token))
        #expect(try gateway.request("DELETE", "/v1/sources/billing").status == 204)
        #expect(try gateway.request("POST", "/v1/events", token: token, body: #"{"type":"invoice.paid","data":{}}"#).status == 401)
        try gateway.restart()
        #expect(try gateway.request("POST", "/v1/events", token: token, body: #"{"type":"invoice.paid","data":{}}"#).status == 401)
    }

    @Test func sourceNamesAreValidatedAndUnique() throws {
        let gateway = try GatewayHarness()
        #expect(try gateway.request("POST", "/v1/sources", body: #"{"name":"Bad Name"}"#).status == 422)
        #expect(try gateway.request("POST", "/v1/sources", body: #"{"nom":"x"}"#).status == 422)
        #expect(try gateway.request("POST", "/v1/sources", body: #"{"name":"dup"}"#).status == 201)
        #expect(try gateway.request("POST", "/v1/sources", body: #"{"name":"dup"}"#).status == 409)
        #expect(try gateway.request("DELETE", "/v1/sources/absent").status == 404)
    }

    @Test func readyzReflectsTheStore() throws {
        let gateway = try GatewayHarness()
        let ready = try gateway.request("GET", "/readyz", token: nil)
        #expect(ready.status == 200)
        #expect(ready.json["status"] as? String == "ready")
        let check = GatewayHarness.onJournal ? "journal" : "database"
        #expect((ready.json["checks"] as? [String: String]) == [check: "ok"], "\(ready.text)")
        #expect(try gateway.request("GET", "/healthz", token: nil).status == 200)
    }
}

@Suite("Event types and schemas")
struct EventTypesAPITests {
    static let schema = #"""
    {"description":"An order was created","schema":{"type":"object","required":["order","amount"],
     "properties":{"order":{"type":"string","pattern":"^o-"},"amount":{"type":"number","minimum":0},
     "lines":{"type":"array","items":{"type":"object","required":["sku"]}}},"additionalProperties":false}}
    """#

    @Test func registeredSchemaValidatesIngestAndListsEveryViolation() throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("PUT", "/v1/event-types/order.created", body: Self.schema)
        #expect(created.status == 201)
        #expect(created.json["name"] as? String == "order.created")
        #expect(try gateway.request("PUT", "/v1/event-types/order.created", body: Self.schema).status == 200)

        let good = #"{"type":"order.created","data":{"order":"o-1","amount":3,"lines":[{"sku":"x"}]}}"#
        #expect(try gateway.request("POST", "/v1/events", body: good).status == 202)

        let bad = #"{"type":"order.created","data":{"order":"x-1","amount":-5,"lines":[{"qty":1}],"extra":true}}"#
        let refused = try gateway.request("POST", "/v1/events", body: bad)
        #expect(refused.status == 422)
        let errors = try #require(refused.json["errors"] as? [[String: Any]])
        let pointers = Set(errors.compactMap { $0["pointer"] as? String })
        #expect(pointers.isSuperset(of: ["/data/order", "/data/amount", "/data/lines/0"]))
        #expect(errors.count >= 4)
        #expect(errors.allSatisfy { ($0["message"] as? String)?.isEmpty == false && $0["keyword"] is String })
        #expect(gateway.store.state.eventCount == 1)

        // The schema survives a restart.
        try gateway.restart()
        #expect(try gateway.request("POST", "/v1/events", body: bad).status == 422)
        #expect(try gateway.request("POST", "/v1/events", body: good).status == 202)
    }

    @Test func unsupportedOrBrokenSchemasAreRefusedAtRegistration() throws {
        let gateway = try GatewayHarness()
        let remote = try gateway.request("PUT", "/v1/event-types/a.b", body: #"{"schema":{"$ref":"http://example.com/s.json"}}"#)
        #expect(remote.status == 422)
        let unknown = try gateway.request("PUT", "/v1/event-types/a.b", body: ##"{"schema":{"type":"object","$dynamicRef":"#x"}}"##)
        #expect(unknown.status == 422)
        #expect((unknown.json["detail"] as? String)?.contains("$dynamicRef") == true)
        #expect(try gateway.request("PUT", "/v1/event-types/a.b", body: #"{"schema":{"minimum":"zero"}}"#).status == 422)
        #expect(try gateway.request("PUT", "/v1/event-types/Not.Valid", body: "{}").status == 422)
        #expect(try gateway.request("PUT", "/v1/event-types/a.b", body: "{oops").status == 400)
        #expect(try gateway.request("GET", "/v1/event-types/a.b").status == 404)
    }

    @Test func archivingKeepsOldEventsReadableAndStopsValidation() throws {
        let gateway = try GatewayHarness()
        #expect(try gateway.request("PUT", "/v1/event-types/order.created", body: Self.schema).status == 201)
        let accepted = try gateway.request("POST", "/v1/events", body: #"{"type":"order.created","data":{"order":"o-9","amount":1}}"#)
        let id = try #require(accepted.json["id"] as? String)
        #expect(try gateway.request("DELETE", "/v1/event-types/order.created").status == 204)
        #expect(try gateway.request("DELETE", "/v1/event-types/order.created").status == 404)
        let listed = try gateway.request("GET", "/v1/event-types")
        #expect((listed.json["eventTypes"] as? [Any])?.isEmpty == true)
        let archived = try gateway.request("GET", "/v1/event-types?archived=true")
        #expect((archived.json["eventTypes"] as? [[String: Any]])?.first?["archived"] as? Bool == true)
        #expect(try gateway.request("GET", "/v1/events/\(id)").status == 200)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"order.created","data":"anything"}"#).status == 202)
    }

    @Test func requireEventTypesRefusesUnregisteredTypes() throws {
        let gateway = try GatewayHarness { core, _ in core.requireEventTypes = true }
        let refused = try gateway.request("POST", "/v1/events", body: #"{"type":"not.registered","data":1}"#)
        #expect(refused.status == 422)
        #expect((refused.json["detail"] as? String)?.contains("not registered") == true)
        #expect(try gateway.request("PUT", "/v1/event-types/now.registered", body: #"{"description":"no schema"}"#).status == 201)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"now.registered","data":1}"#).status == 202)
    }
}

@Suite("Storage failure")
struct StorageFailureAPITests {
    /// The data directory on a tmpfs with 512 KiB left once a filler file is in it: publish
    /// until the disk is full. Ingest then answers 503 with Retry-After and a detail that says
    /// the disk is full, and /readyz fails; every event that got a 202 is still readable. Once
    /// the filler is deleted, events are accepted again and /readyz passes, without a restart.
    @Test(.enabled(if: Capabilities.canMountTmpfs, "cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)"),
          .enabled(if: GatewayHarness.onJournal, "the journal's own disk"))
    func aFullDiskAnswers503UntilSpaceIsFreed() throws {
        let directory = NSTemporaryDirectory() + "gateway-full-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #require(Capabilities.run("/bin/mount", "-t", "tmpfs", "-o", "size=768k", "tmpfs", directory))
        defer { Capabilities.run("/bin/umount", "-l", directory) }
        let filler = directory + "/filler"
        try Data(count: 256 * 1024).write(to: URL(fileURLWithPath: filler))
        var accepted: [String] = []
        var refusal: TestResponse?
        do {
            let gateway = try GatewayHarness(directory: directory) { core, _ in core.segmentSize = 64 * 1024 }
            let padding = String(repeating: "x", count: 8000)
            for index in 0..<200 {
                let response = try gateway.request("POST", "/v1/events", body: "{\"type\":\"disk.fill\",\"data\":{\"n\":\(index),\"pad\":\"\(padding)\"}}")
                if response.status == 202, let id = response.json["id"] as? String {
                    accepted.append(id)
                } else {
                    refusal = response
                    break
                }
            }
            let failed = try #require(refusal)
            #expect(failed.status == 503)
            #expect(failed.header("retry-after") == "30")
            #expect((failed.json["detail"] as? String)?.hasPrefix("The event was not stored: the disk is full") == true, "\(failed.text)")
            #expect(accepted.count > 5)
            let readyz = try gateway.request("GET", "/readyz", token: nil)
            #expect(readyz.status == 503)
            #expect(readyz.json["status"] as? String == "not ready")
            #expect((readyz.json["reason"] as? String)?.hasPrefix("journal: ") == true, "\(readyz.text)")
            #expect(((readyz.json["checks"] as? [String: Any])?["journal"] as? String)?.contains("the disk is full") == true, "\(readyz.text)")
            #expect(try gateway.request("GET", "/healthz", token: nil).status == 200)
            for id in accepted { #expect(try gateway.request("GET", "/v1/events/\(id)").status == 200) }

            try FileManager.default.removeItem(atPath: filler)
            let again = try gateway.request("POST", "/v1/events", body: "{\"type\":\"disk.fill\",\"data\":{\"pad\":\"\(padding)\"}}")
            #expect(again.status == 202, "\(again.text)")
            #expect(try gateway.request("GET", "/readyz", token: nil).status == 200)
            if let id = again.json["id"] as? String { accepted.append(id) }
            try gateway.restart()
            for id in accepted { #expect(try gateway.request("GET", "/v1/events/\(id)").status == 200) }
            gateway.stop()
        }
    }
}
