@testable import Gateway
import Synchronization
import TestSupport
import Testing

/// What ingest and the journal tell their observers (the metrics), through the real API.
@Suite("Ingest and journal observers")
struct InstrumentationTests {
    final class IngestRecorder: IngestObserver {
        private let stored = Mutex<[(type: String, publisher: Publisher)]>([])
        private let refused = Mutex<[IngestRefusal]>([])

        func eventStored(type: String, publisher: Publisher) { stored.withLock { $0.append((type, publisher)) } }
        func ingestRefused(_ reason: IngestRefusal) { refused.withLock { $0.append(reason) } }

        var storedEvents: [(type: String, publisher: Publisher)] { stored.withLock { $0 } }
        var refusals: [IngestRefusal] { refused.withLock { $0 } }
    }

    final class JournalRecorder: JournalObserver {
        private let groups = Mutex<[(records: Int, bytes: Int)]>([])
        private let syncs = Mutex<[UInt64]>([])

        func groupWritten(records: Int, bytes: Int) { groups.withLock { $0.append((records, bytes)) } }
        func synced(nanoseconds: UInt64) { syncs.withLock { $0.append(nanoseconds) } }

        var written: [(records: Int, bytes: Int)] { groups.withLock { $0 } }
        var syncDurations: [UInt64] { syncs.withLock { $0 } }
    }

    @Test func ingestReportsEachStoredEventByPublisherAndEachRefusalByReason() throws {
        let recorder = IngestRecorder()
        let gateway = try GatewayHarness { settings, _ in
            settings.ingestObserver = recorder
            settings.maxBatchEvents = 2
        }
        #expect(try gateway.request("PUT", "/v1/event-types/order.created", body: EventTypesAPITests.schema).status == 201)
        let source = try gateway.request("POST", "/v1/sources", body: #"{"name":"shop"}"#)
        let token = try #require(source.json["token"] as? String)
        let valid = #"{"type":"order.created","source":"made-up","data":{"order":"o-1","amount":1}}"#

        // Stored: as the admin (whatever source the envelope names), as the source, a batch.
        #expect(try gateway.request("POST", "/v1/events", body: valid).status == 202)
        #expect(try gateway.request("POST", "/v1/events", token: token, body: valid).status == 202)
        #expect(try gateway.request("POST", "/v1/events/batch", body: #"{"events":[{"type":"a.b","data":1},{"type":"a.c","data":2}]}"#).status == 202)
        // A repeat under its key is answered from the window: not stored again.
        #expect(try gateway.request("POST", "/v1/events", headers: [("Idempotency-Key", "k1")], body: valid).status == 202)
        #expect(try gateway.request("POST", "/v1/events", headers: [("Idempotency-Key", "k1")], body: valid).status == 200)
        let stored = recorder.storedEvents
        #expect(stored.map(\.type) == ["order.created", "order.created", "a.b", "a.c", "order.created"])
        #expect(stored.map(\.publisher) == [.admin, .source("shop"), .admin, .admin, .admin])

        // Refused, one reason each.
        #expect(try gateway.request("POST", "/v1/events", token: nil, body: valid).status == 401)
        #expect(try gateway.request("POST", "/v1/events", body: valid, contentType: "text/plain").status == 415)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"#).status == 400)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"data":1}"#).status == 422)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"order.created","data":{"order":"x"}}"#).status == 422)
        #expect(try gateway.request("POST", "/v1/events/batch", body: #"{"events":[{"type":"a.b","data":1},{"type":"a.b","data":1},{"type":"a.b","data":1}]}"#).status == 413)
        let changed = #"{"type":"order.created","source":"made-up","data":{"order":"o-2","amount":1}}"#
        #expect(try gateway.request("POST", "/v1/events", headers: [("Idempotency-Key", "k1")], body: changed).status == 409)
        #expect(recorder.refusals == [.unauthorized, .unsupportedMediaType, .invalidJSON, .invalidEnvelope, .schemaViolation, .tooLarge, .conflict])
        #expect(recorder.storedEvents.count == 5)
    }

    @Test func theJournalReportsItsGroupsAndSyncs() throws {
        let recorder = JournalRecorder()
        let gateway = try GatewayHarness { settings, _ in settings.journalObserver = recorder }
        let before = (recorder.written.count, recorder.syncDurations.count)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"a.b","data":1}"#).status == 202)
        let written = recorder.written.dropFirst(before.0)
        // The event's group: one record, its framed bytes, and a sync before the 202.
        #expect(written.map(\.records) == [1])
        #expect(written.allSatisfy { $0.bytes > 30 })
        #expect(recorder.syncDurations.count > before.1)
        #expect(recorder.syncDurations.allSatisfy { $0 > 0 && $0 < 10_000_000_000 })
    }
}
