import Foundation
@testable import Gateway
import TestSupport
import Testing

/// The event API end to end: real sockets, a real journal on disk, restarts.
@Suite("Events API")
struct EventsAPITests {
    static let order = #"{"type":"order.created","data":{"order":  "o-1", "amount": 12.50, "tags": ["a","b"]}}"#

    @Test func acceptedEventIsDurableAndReadableWithItsExactData() throws {
        let gateway = try GatewayHarness()
        let accepted = try gateway.request("POST", "/v1/events", body: Self.order)
        #expect(accepted.status == 202)
        let id = try #require(accepted.json["id"] as? String)
        #expect(id.hasPrefix("evt_") && id.count == 30)
        #expect(accepted.json["sequence"] as? Int == 1)
        #expect((accepted.json["receivedAt"] as? String)?.hasSuffix("Z") == true)

        try gateway.restart()
        let read = try gateway.request("GET", "/v1/events/\(id)")
        #expect(read.status == 200)
        #expect(read.json["type"] as? String == "order.created")
        #expect(read.json["source"] as? String == "admin")
        // The data is the producer's bytes, whitespace and number spelling included.
        #expect(read.text.contains(#""data":{"order":  "o-1", "amount": 12.50, "tags": ["a","b"]}"#))
    }

    @Test func idsAreUniqueAndTimeOrdered() throws {
        let gateway = try GatewayHarness()
        var ids: [String] = []
        for _ in 0..<20 {
            let response = try gateway.request("POST", "/v1/events", body: #"{"type":"t.x","data":null}"#)
            ids.append(try #require(response.json["id"] as? String))
        }
        #expect(Set(ids).count == 20)
        #expect(ids == ids.sorted())
    }

    @Test func listFiltersByTypeAndPagesWithACursor() throws {
        let gateway = try GatewayHarness()
        for index in 0..<7 {
            let type = index % 2 == 0 ? "a.even" : "a.odd"
            _ = try gateway.request("POST", "/v1/events", body: "{\"type\":\"\(type)\",\"data\":{\"n\":\(index)}}")
        }
        let firstPage = try gateway.request("GET", "/v1/events?type=a.even&limit=3")
        let events = try #require(firstPage.json["events"] as? [[String: Any]])
        #expect(events.map { ($0["data"] as? [String: Any])?["n"] as? Int } == [0, 2, 4])
        let next = try #require(firstPage.json["next"] as? Int)
        let secondPage = try gateway.request("GET", "/v1/events?type=a.even&limit=3&after=\(next)")
        let rest = try #require(secondPage.json["events"] as? [[String: Any]])
        #expect(rest.map { ($0["data"] as? [String: Any])?["n"] as? Int } == [6])
        #expect(secondPage.json["next"] is NSNull)
        // A page that is exactly full has no next page.
        let exact = try gateway.request("GET", "/v1/events?type=a.odd&limit=3")
        #expect((exact.json["events"] as? [Any])?.count == 3)
        #expect(exact.json["next"] is NSNull)
        #expect(try gateway.request("GET", "/v1/events?limit=0").status == 400)
        #expect(try gateway.request("GET", "/v1/events?since=yesterday").status == 400)
    }

    @Test func unknownEventIs404() throws {
        let gateway = try GatewayHarness()
        let response = try gateway.request("GET", "/v1/events/evt_missing")
        #expect(response.status == 404)
        #expect(response.header("content-type") == "application/problem+json")
    }

    // MARK: - Bad input

    struct BadInput: CustomTestStringConvertible, Sendable {
        let name: String
        let body: String
        let contentType: String?
        let status: Int
        let detail: String
        var testDescription: String { name }
    }

    static let badInputs: [BadInput] = [
        BadInput(name: "invalid JSON", body: #"{"type":"a.b","data":{"x":1,}}"#, contentType: "application/json", status: 400, detail: "at byte"),
        BadInput(name: "truncated JSON", body: #"{"type":"a.b","data":{"#, contentType: "application/json", status: 400, detail: "at byte"),
        BadInput(name: "duplicate envelope key", body: #"{"type":"a.b","type":"c.d","data":1}"#, contentType: "application/json", status: 400, detail: "type"),
        BadInput(name: "not JSON content type", body: #"{"type":"a.b","data":1}"#, contentType: "text/plain", status: 415, detail: "text/plain"),
        BadInput(name: "no content type", body: #"{"type":"a.b","data":1}"#, contentType: nil, status: 415, detail: "Content-Type"),
        BadInput(name: "not an object", body: #"[1,2]"#, contentType: "application/json", status: 422, detail: "object"),
        BadInput(name: "not an object, after whitespace", body: "  \"text\"", contentType: "application/json", status: 422, detail: "object"),
        BadInput(name: "a date that does not exist", body: #"{"type":"a.b","data":1,"occurredAt":"2026-02-31T10:00:00Z"}"#, contentType: "application/json", status: 422, detail: "RFC 3339"),
        BadInput(name: "the reserved id batch", body: #"{"type":"a.b","data":1,"id":"batch"}"#, contentType: "application/json", status: 422, detail: "id"),
        BadInput(name: "missing type", body: #"{"data":1}"#, contentType: "application/json", status: 422, detail: "no 'type'"),
        BadInput(name: "type not a string", body: #"{"type":5,"data":1}"#, contentType: "application/json", status: 422, detail: "'type' must be a string"),
        BadInput(name: "uppercase type", body: #"{"type":"Order.Created","data":1}"#, contentType: "application/json", status: 422, detail: "not valid"),
        BadInput(name: "empty type segment", body: #"{"type":"order..created","data":1}"#, contentType: "application/json", status: 422, detail: "not valid"),
        BadInput(name: "missing data", body: #"{"type":"a.b"}"#, contentType: "application/json", status: 422, detail: "no 'data'"),
        BadInput(name: "bad occurredAt", body: #"{"type":"a.b","data":1,"occurredAt":"yesterday"}"#, contentType: "application/json", status: 422, detail: "RFC 3339"),
        BadInput(name: "bad producer id", body: #"{"type":"a.b","data":1,"id":"has space"}"#, contentType: "application/json", status: 422, detail: "id"),
    ]

    @Test(arguments: badInputs)
    func badInputGetsAPreciseProblemAndStoresNothing(_ input: BadInput) throws {
        let gateway = try GatewayHarness()
        let response = try gateway.request("POST", "/v1/events", body: input.body, contentType: input.contentType)
        #expect(response.status == input.status, "\(response.text)")
        #expect(response.header("content-type") == "application/problem+json")
        #expect((response.json["detail"] as? String)?.contains(input.detail) == true, "\(response.text)")
        #expect(gateway.store.state.eventCount == 0)
    }

    @Test func bodyOverTheLimitIs413() throws {
        let gateway = try GatewayHarness { _, server in server.limits.maxBodyBytes = 1024 }
        let big = "{\"type\":\"a.b\",\"data\":\"" + String(repeating: "x", count: 2000) + "\"}"
        let response = try gateway.request("POST", "/v1/events", body: big)
        #expect(response.status == 413)
        #expect(gateway.store.state.eventCount == 0)
    }

    // MARK: - Idempotency

    @Test func repeatedIdempotencyKeyAnswersWithTheOriginalEvenAfterRestart() throws {
        let gateway = try GatewayHarness()
        let key = [("Idempotency-Key", "order-77")]
        let first = try gateway.request("POST", "/v1/events", headers: key, body: Self.order)
        #expect(first.status == 202)
        let repeated = try gateway.request("POST", "/v1/events", headers: key, body: Self.order)
        #expect(repeated.status == 200)
        #expect(repeated.json["id"] as? String == first.json["id"] as? String)
        #expect(repeated.json["sequence"] as? Int == first.json["sequence"] as? Int)

        let conflicting = try gateway.request("POST", "/v1/events", headers: key, body: #"{"type":"order.created","data":{}}"#)
        #expect(conflicting.status == 409)

        try gateway.restart()
        let afterRestart = try gateway.request("POST", "/v1/events", headers: key, body: Self.order)
        #expect(afterRestart.status == 200)
        #expect(afterRestart.json["id"] as? String == first.json["id"] as? String)
        #expect(try gateway.request("POST", "/v1/events", headers: key, body: #"{"type":"x.y","data":1}"#).status == 409)
        #expect(gateway.store.state.eventCount == 1)
    }

    @Test func producerIDActsAsTheIdempotencyKey() throws {
        let gateway = try GatewayHarness()
        let body = #"{"id":"ord_1:created","type":"order.created","data":{"n":1}}"#
        let first = try gateway.request("POST", "/v1/events", body: body)
        #expect(first.status == 202)
        #expect(first.json["id"] as? String == "ord_1:created")
        #expect(try gateway.request("POST", "/v1/events", body: body).status == 200)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"id":"ord_1:created","type":"order.created","data":{"n":2}}"#).status == 409)
        #expect(try gateway.request("GET", "/v1/events/ord_1:created").status == 200)
    }

    @Test func idempotencyWindowExpires() async throws {
        let gateway = try GatewayHarness { core, _ in core.idempotencyWindow = .milliseconds(200) }
        let key = [("Idempotency-Key", "short-lived")]
        #expect(try gateway.request("POST", "/v1/events", headers: key, body: Self.order).status == 202)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try gateway.request("POST", "/v1/events", headers: key, body: Self.order).status == 202)
    }

    // MARK: - Batches

    @Test(.enabled(if: GatewayHarness.onJournal)) func batchStoresAllWithOneSync() throws {
        let gateway = try GatewayHarness()
        let items = (0..<50).map { "{\"type\":\"b.item\",\"data\":{\"n\":\($0)}}" }.joined(separator: ",")
        let before = gateway.journal.journal.statistics.syncs
        let response = try gateway.request("POST", "/v1/events/batch", body: "{\"events\":[\(items)]}")
        #expect(response.status == 202)
        let results = try #require(response.json["events"] as? [[String: Any]])
        #expect(results.count == 50)
        #expect(results.compactMap { $0["sequence"] as? Int } == Array(1...50))
        #expect(gateway.journal.journal.statistics.syncs == before + 1)
    }

    @Test func batchWithOneBadEventStoresNothing() throws {
        let gateway = try GatewayHarness()
        let body = #"{"events":[{"type":"ok.one","data":1},{"type":"BAD","data":2},{"type":"ok.two","data":3}]}"#
        let response = try gateway.request("POST", "/v1/events/batch", body: body)
        #expect(response.status == 422)
        #expect((response.json["detail"] as? String)?.hasPrefix("events[1]: ") == true)
        #expect(gateway.store.state.eventCount == 0)
    }

    @Test func batchSchemaViolationsPointIntoTheBatch() throws {
        let gateway = try GatewayHarness()
        let schema = #"{"schema":{"type":"object","properties":{"amount":{"minimum":0}}}}"#
        #expect(try gateway.request("PUT", "/v1/event-types/pay.made", body: schema).status == 201)
        let body = #"{"events":[{"type":"pay.made","data":{"amount":1}},{"type":"pay.made","data":{"amount":-1}}]}"#
        let response = try gateway.request("POST", "/v1/events/batch", body: body)
        #expect(response.status == 422)
        let errors = try #require(response.json["errors"] as? [[String: Any]])
        #expect(errors.compactMap { $0["pointer"] as? String } == ["/events/1/data/amount"])
        #expect(gateway.store.state.eventCount == 0)
    }

    @Test func batchOverTheLimitIs413() throws {
        let gateway = try GatewayHarness { core, _ in core.maxBatchEvents = 3 }
        let items = (0..<4).map { "{\"type\":\"b.item\",\"data\":\($0)}" }.joined(separator: ",")
        let response = try gateway.request("POST", "/v1/events/batch", body: "{\"events\":[\(items)]}")
        #expect(response.status == 413)
        #expect(gateway.store.state.eventCount == 0)
    }

    @Test func batchRepeatsAreReportedNotStoredTwice() throws {
        let gateway = try GatewayHarness()
        let body = #"{"events":[{"id":"e-1","type":"b.item","data":1},{"id":"e-2","type":"b.item","data":2}]}"#
        #expect(try gateway.request("POST", "/v1/events/batch", body: body).status == 202)
        let again = try gateway.request("POST", "/v1/events/batch", body: body)
        #expect(again.status == 200)
        let results = try #require(again.json["events"] as? [[String: Any]])
        #expect(results.allSatisfy { $0["duplicate"] as? Bool == true })
        #expect(gateway.store.state.eventCount == 2)
        let conflict = #"{"events":[{"id":"e-1","type":"b.item","data":99}]}"#
        #expect(try gateway.request("POST", "/v1/events/batch", body: conflict).status == 409)
    }

    // MARK: - One ingest path

    @Test func aRetryThroughTheOtherEndpointAnswersWithTheOriginal() throws {
        let gateway = try GatewayHarness()
        let single = #"{"type":"a.b","id":"x-1","data":{"n":1}}"#
        let batch = #"{"events":[{"type":"a.b","id":"x-1","data":{"n":1}}]}"#
        let first = try gateway.request("POST", "/v1/events", body: single)
        #expect(first.status == 202)
        // The issue's reproduction: this answered 409 when each endpoint digested differently.
        let viaBatch = try gateway.request("POST", "/v1/events/batch", body: batch)
        #expect(viaBatch.status == 200, "\(viaBatch.text)")
        let receipt = try #require((viaBatch.json["events"] as? [[String: Any]])?.first)
        #expect(receipt["id"] as? String == "x-1")
        #expect(receipt["sequence"] as? Int == first.json["sequence"] as? Int)
        #expect(receipt["duplicate"] as? Bool == true)
        // And the other way round, with envelope whitespace and member order that differ.
        let second = try gateway.request("POST", "/v1/events/batch", body: #"{"events":[{"type":"a.b","id":"x-2","data":{"n":2}}]}"#)
        #expect(second.status == 202)
        let viaSingle = try gateway.request("POST", "/v1/events", body: #"{ "data":{"n":2},  "id":"x-2", "type":"a.b" }"#)
        #expect(viaSingle.status == 200, "\(viaSingle.text)")
        #expect(viaSingle.json["id"] as? String == "x-2")
        // A different body is still a conflict, through either endpoint.
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"a.b","id":"x-2","data":{"n":3}}"#).status == 409)
        #expect(try gateway.request("POST", "/v1/events/batch", body: #"{"events":[{"type":"a.b","id":"x-1","data":{"n":1},"partitionKey":"p"}]}"#).status == 409)
        // data is compared byte for byte: the same value spelled differently is a different request.
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"a.b","id":"x-1","data":{"n": 1}}"#).status == 409)
        #expect(gateway.store.state.eventCount == 2)
    }

    @Test func theSameHeaderKeyWithAnotherProducerIDIsAConflict() throws {
        let gateway = try GatewayHarness()
        let key = [("Idempotency-Key", "k-1")]
        #expect(try gateway.request("POST", "/v1/events", headers: key, body: #"{"type":"a.b","id":"one","data":1}"#).status == 202)
        #expect(try gateway.request("POST", "/v1/events", headers: key, body: #"{"type":"a.b","id":"one","data":1}"#).status == 200)
        #expect(try gateway.request("POST", "/v1/events", headers: key, body: #"{"type":"a.b","id":"two","data":1}"#).status == 409)
        #expect(try gateway.request("POST", "/v1/events", headers: key, body: #"{"type":"a.b","data":1}"#).status == 409)
    }

    @Test func concurrentRepeatsOfOneRequestStoreOneEventAndAllGetItsReceipt() async throws {
        let gateway = try GatewayHarness()
        let port = gateway.port
        // Many clients send the same keyed event at once, half through each endpoint: the ones
        // that arrive while the first is being written wait for it rather than failing.
        let answers = try await concurrently(16) { client in
            let batch = client % 2 == 1
            let response = try HTTPTestClient.request(
                port: port, "POST", batch ? "/v1/events/batch" : "/v1/events", token: GatewayHarness.adminToken,
                body: batch ? #"{"events":[{"type":"a.b","id":"same","data":{"v":1}}]}"# : #"{"type":"a.b","id":"same","data":{"v":1}}"#)
            let id = batch ? ((response.json["events"] as? [[String: Any]])?.first?["id"] as? String) : response.json["id"] as? String
            return (response.status, id)
        }
        #expect(answers.allSatisfy { $0.1 == "same" }, "\(answers)")
        #expect(answers.filter { $0.0 == 202 }.count == 1, "\(answers)")
        #expect(answers.allSatisfy { $0.0 == 202 || $0.0 == 200 }, "\(answers)")
        #expect(gateway.store.state.eventCount == 1)
    }

    @Test func aDuplicateKeyInsideDataIsReportedAtItsOffsetInTheBody() throws {
        let gateway = try GatewayHarness()
        #expect(try gateway.request("PUT", "/v1/event-types/pay.made", body: #"{"schema":{"type":"object"}}"#).status == 201)
        let body = #"{"type":"pay.made","data":{"a":1,"a":2}}"#
        let response = try gateway.request("POST", "/v1/events", body: body)
        #expect(response.status == 400)
        // The second "a" starts at byte 34 of the body (at byte 8 of data).
        let offset = body.utf8.count - #""a":2}}"#.utf8.count
        #expect((response.json["detail"] as? String)?.contains("at byte \(offset)") == true, "\(response.text)")
        let inBatch = #"{"events":[{"type":"pay.made","data":{"a":1,"a":2}}]}"#
        let batchResponse = try gateway.request("POST", "/v1/events/batch", body: inBatch)
        let batchOffset = inBatch.utf8.count - #""a":2}}]}"#.utf8.count
        #expect((batchResponse.json["detail"] as? String)?.contains("at byte \(batchOffset)") == true, "\(batchResponse.text)")
    }

    /// All or nothing also when the original of a repeat cannot be read back (its record
    /// damaged on disk after start-up): the request fails and its new events are not stored.
    @Test(.enabled(if: GatewayHarness.onJournal)) func aRepeatWhoseOriginalCannotBeReadStoresNothingNew() throws {
        let gateway = try GatewayHarness()
        #expect(try gateway.request("POST", "/v1/events/batch", body: #"{"events":[{"id":"k1","type":"a.b","data":{"n":1}}]}"#).status == 202)
        let entry = try #require(try gateway.store.event(id: "k1")).reference
        let segment = gateway.directory + "/journal/" + SegmentFile.name(base: entry.location.segment)
        let handle = try #require(FileHandle(forUpdatingAtPath: segment))
        try handle.seek(toOffset: entry.location.offset + UInt64(RecordFraming.headerSize) + 4)
        try handle.write(contentsOf: Data([0xFF, 0xFF]))
        try handle.close()
        let response = try gateway.request("POST", "/v1/events/batch",
                                           body: #"{"events":[{"id":"k1","type":"a.b","data":{"n":1}},{"type":"a.b","data":2}]}"#)
        #expect(response.status == 500, "\(response.text)")
        #expect(gateway.store.state.eventCount == 1)
    }
}
