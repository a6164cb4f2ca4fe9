import JSON
import Foundation
@testable import Gateway
import HTTPServer
import Synchronization
import Testing

/// Fan-out and delivery progress as folded from the journal: decided once in journal order,
/// the same after a restart, moved on only by attempt records.
@Suite("Delivery ledger")
struct DeliveryLedgerTests {
    /// Creates a subscription through the API and returns its id.
    static func subscribe(_ gateway: GatewayHarness, _ body: String) throws -> String {
        let response = try gateway.request("POST", "/v1/subscriptions", body: body)
        #expect(response.status == 201, "\(response.text)")
        return try #require(response.json["id"] as? String)
    }

    static func publish(_ gateway: GatewayHarness, _ type: String, _ data: String) throws -> UInt64 {
        let response = try gateway.request("POST", "/v1/events", body: "{\"type\":\"\(type)\",\"data\":\(data)}")
        #expect(response.status == 202)
        return UInt64(try #require(response.json["sequence"] as? Int))
    }

    /// Waits until the store has folded every record appended so far (attempt records are
    /// not waited for by their writer).
    static func settle(_ gateway: GatewayHarness) {
        gateway.store.waitForWrites()
    }

    @Test func eventsFanOutByTypeAndFilterInJournalOrder() throws {
        let gateway = try GatewayHarness()
        let orders = try Self.subscribe(gateway, #"{"url":"https://a.example/","eventTypes":["order.*"]}"#)
        let big = try Self.subscribe(gateway, #"{"url":"https://b.example/","eventTypes":["order.created"],"filter":{"amount":{"$gte":100}}}"#)
        let paused = try Self.subscribe(gateway, #"{"url":"https://c.example/","eventTypes":["*"]}"#)
        #expect(try gateway.request("POST", "/v1/subscriptions/\(paused)/pause").status == 200)

        let small = try Self.publish(gateway, "order.created", #"{"amount":5}"#)
        let large = try Self.publish(gateway, "order.created", #"{"amount":500}"#)
        let user = try Self.publish(gateway, "user.created", #"{}"#)
        // A subscription created later does not receive earlier events.
        let late = try Self.subscribe(gateway, #"{"url":"https://d.example/","eventTypes":["*"]}"#)
        let shipped = try Self.publish(gateway, "order.shipped", #"{"amount":500}"#)

        func pending(_ id: String) -> [UInt64] { gateway.store.state.pendingDeliveries(for: id).map(\.sequence) }
        #expect(pending(orders) == [small, large, shipped])
        #expect(pending(big) == [large])
        #expect(pending(paused) == [small, large, user, shipped])
        #expect(pending(late) == [shipped])

        try gateway.restart()
        #expect(pending(orders) == [small, large, shipped])
        #expect(pending(big) == [large])
        #expect(pending(paused) == [small, large, user, shipped])
        #expect(pending(late) == [shipped])
        #expect(gateway.store.state.deliveryCounts(for: orders).pending == 3)
    }

    @Test func attemptsMoveDeliveriesOnAndSurviveRestarts() throws {
        let gateway = try GatewayHarness()
        let id = try Self.subscribe(gateway, #"{"url":"https://a.example/","eventTypes":["*"]}"#)
        let first = try Self.publish(gateway, "a.b", "1")
        let second = try Self.publish(gateway, "a.b", "2")
        let third = try Self.publish(gateway, "a.b", "3")

        let store = gateway.store!
        store.recordAttempts([DeliveryAttemptRecord(subscriptionID: id, sequence: first, attempt: 1, status: 200, error: "",
                                                 durationMicroseconds: 900, response: [], result: .delivered)])
        store.recordAttempts([DeliveryAttemptRecord(subscriptionID: id, sequence: second, attempt: 1, status: 500, error: "",
                                                 durationMicroseconds: 1200, response: Array("oops".utf8), result: .retryScheduled,
                                                 nextAttemptAt: 1_000_000)])
        store.recordAttempts([DeliveryAttemptRecord(subscriptionID: id, sequence: third, attempt: 3, status: nil,
                                                 error: "Connection refused", durationMicroseconds: 50, response: [],
                                                 result: .deadLettered)])
        Self.settle(gateway)

        func check() {
            let pending = gateway.store.state.pendingDeliveries(for: id)
            #expect(pending.map(\.sequence) == [second])
            #expect(pending.first?.attempts == 1)
            #expect(pending.first?.nextAttemptAt == 1_000_000)
            #expect(pending.first?.lastError == "HTTP 500")
            let dead = gateway.store.state.deadLetters(for: id)
            #expect(dead.map(\.sequence) == [third])
            #expect(dead.first?.reason == "Connection refused")
            let counts = gateway.store.state.deliveryCounts(for: id)
            let tallies: [Int] = [counts.pending, counts.delivered, counts.deadLettered, counts.attempts, counts.failedAttempts]
            #expect(tallies == [1, 1, 1, 3, 2])
            // From a histogram: within 1% above the value, never past the largest recorded.
            #expect(counts.p50DurationMicroseconds.map { (900...909).contains($0) } == true, "\(String(describing: counts.p50DurationMicroseconds))")
            #expect(counts.p99DurationMicroseconds == 1200)
            #expect(counts.lastError == "Connection refused")
        }
        check()
        try gateway.restart()
        check()
        let stats = try gateway.request("GET", "/v1/subscriptions/\(id)/stats")
        #expect(stats.json["pending"] as? Int == 1)
        #expect(stats.json["delivered"] as? Int == 1)
        #expect(stats.json["deadLettered"] as? Int == 1)
        #expect(stats.json["attempts"] as? Int == 3)
        #expect((stats.json["successRate"] as? Double).map { abs($0 - 1.0 / 3.0) < 0.001 } == true)
        #expect((stats.json["latencyP50Ms"] as? Double).map { abs($0 - 0.9) < 0.01 } == true)
        #expect(stats.json["latencyP99Ms"] as? Double == 1.2)
        #expect(stats.json["lastError"] as? String == "Connection refused")
        #expect(stats.json["status"] as? String == "active")
        #expect(stats.json["circuit"] as? String == "closed")
        #expect(stats.json["inFlight"] as? Int == 0)
        // The run-time part comes from what the dispatcher posts.
        let openedAt: Int64 = 1_795_000_000_000_000
        let probeAt = openedAt + 30_000_000
        gateway.core.deliveryStatus.post(.init(inFlight: 0, circuit: .open, circuitOpenedAt: openedAt, nextProbeAt: probeAt), for: id)
        let held = try gateway.request("GET", "/v1/subscriptions/\(id)/stats")
        #expect(held.json["circuit"] as? String == "open")
        #expect(held.json["circuitOpenedAt"] as? String == Timestamp.format(microseconds: openedAt))
        #expect(held.json["nextProbeAt"] as? String == Timestamp.format(microseconds: probeAt))
        #expect(held.json["inFlight"] as? Int == 0)
        gateway.core.deliveryStatus.post(.init(inFlight: 1, circuit: .halfOpen, circuitOpenedAt: openedAt, nextProbeAt: nil), for: id)
        let probing = try gateway.request("GET", "/v1/subscriptions/\(id)/stats")
        #expect(probing.json["circuit"] as? String == "half-open")
        #expect(probing.json["circuitOpenedAt"] as? String == Timestamp.format(microseconds: openedAt))
        #expect(probing.json["nextProbeAt"] is NSNull)
        #expect(probing.json["inFlight"] as? Int == 1)

        // Every attempt of an event, with what it led to.
        let events = try gateway.request("GET", "/v1/events?limit=10")
        let secondID = try #require((events.json["events"] as? [[String: Any]])?[1]["id"] as? String)
        let attempts = try gateway.request("GET", "/v1/events/\(secondID)/attempts")
        #expect(attempts.status == 200)
        let list = try #require(attempts.json["attempts"] as? [[String: Any]])
        #expect(list.count == 1)
        #expect(list.first?["subscriptionId"] as? String == id)
        #expect(list.first?["status"] as? Int == 500)
        #expect(list.first?["response"] as? String == "oops")
        #expect(list.first?["result"] as? String == "retryScheduled")
        #expect(try gateway.request("GET", "/v1/events/evt_missing/attempts").status == 404)

        // A late duplicate outcome for a finished delivery changes nothing.
        gateway.store.recordAttempts([DeliveryAttemptRecord(subscriptionID: id, sequence: first, attempt: 2, status: 500, error: "",
                                                         durationMicroseconds: 1, response: [], result: .deadLettered)])
        Self.settle(gateway)
        #expect(gateway.store.state.deadLetters(for: id).map(\.sequence) == [third])
    }

    @Test func aTestPingIsOwedToItsSubscriptionAlone() throws {
        let gateway = try GatewayHarness()
        let target = try Self.subscribe(gateway, #"{"url":"https://a.example/","eventTypes":["nothing.matches"]}"#)
        let other = try Self.subscribe(gateway, #"{"url":"https://b.example/","eventTypes":["*"]}"#)
        let ping = try gateway.request("POST", "/v1/subscriptions/\(target)/test")
        #expect(ping.status == 202)
        let id = try #require(ping.json["id"] as? String)
        let event = try gateway.request("GET", "/v1/events/\(id)")
        #expect(event.json["type"] as? String == "gateway.ping")
        #expect((event.json["data"] as? [String: Any])?["subscriptionId"] as? String == target)
        #expect(gateway.store.state.pendingDeliveries(for: target).count == 1)
        #expect(gateway.store.state.pendingDeliveries(for: other).isEmpty)
        try gateway.restart()
        #expect(gateway.store.state.pendingDeliveries(for: target).count == 1)
        #expect(gateway.store.state.pendingDeliveries(for: other).isEmpty)
        #expect(try gateway.request("POST", "/v1/subscriptions/sub_nope/test").status == 404)
    }

    @Test func deletingASubscriptionDropsWhatItWasOwed() throws {
        let gateway = try GatewayHarness()
        let id = try Self.subscribe(gateway, #"{"url":"https://a.example/","eventTypes":["*"]}"#)
        _ = try Self.publish(gateway, "a.b", "1")
        #expect(try gateway.request("DELETE", "/v1/subscriptions/\(id)").status == 204)
        #expect(gateway.store.state.pendingDeliveries(for: id).isEmpty)
        try gateway.restart()
        #expect(gateway.store.state.pendingDeliveries(for: id).isEmpty)
    }

    @Test func deadLettersCanBeListedRedeliveredAndDiscarded() throws {
        let gateway = try GatewayHarness()
        let id = try Self.subscribe(gateway, #"{"url":"https://a.example/","eventTypes":["*"]}"#)
        var sequences: [UInt64] = []
        var ids: [String] = []
        for n in 0..<3 {
            let response = try gateway.request("POST", "/v1/events", body: "{\"type\":\"a.b\",\"data\":\(n)}")
            sequences.append(UInt64(try #require(response.json["sequence"] as? Int)))
            ids.append(try #require(response.json["id"] as? String))
        }
        for sequence in sequences {
            gateway.store.recordAttempts([DeliveryAttemptRecord(subscriptionID: id, sequence: sequence, attempt: 10, status: 500,
                                                             error: "", durationMicroseconds: 1, response: [], result: .deadLettered)])
        }
        Self.settle(gateway)
        let listed = try gateway.request("GET", "/v1/subscriptions/\(id)/dead-letters")
        let letters = try #require(listed.json["deadLetters"] as? [[String: Any]])
        #expect(letters.compactMap { $0["eventId"] as? String } == ids)
        #expect(letters.first?["lastError"] as? String == "HTTP 500")
        #expect(letters.first?["attempts"] as? Int == 10)

        #expect(try gateway.request("DELETE", "/v1/subscriptions/\(id)/dead-letters/\(ids[0])").status == 204)
        #expect(try gateway.request("DELETE", "/v1/subscriptions/\(id)/dead-letters/\(ids[0])").status == 404)
        // An id listed twice is redelivered, and counted, once.
        let one = try gateway.request("POST", "/v1/subscriptions/\(id)/dead-letters/redeliver", body: "{\"eventIds\":[\"\(ids[1])\",\"\(ids[1])\"]}")
        #expect(one.status == 202)
        #expect(one.json["redelivered"] as? Int == 1)
        #expect(gateway.store.state.pendingDeliveries(for: id).map(\.sequence) == [sequences[1]])
        #expect(gateway.store.state.pendingDeliveries(for: id).first?.attempts == 0)
        #expect(try gateway.request("POST", "/v1/subscriptions/\(id)/dead-letters/redeliver", body: "{\"eventIds\":[\"\(ids[1])\"]}").status == 422)
        let rest = try gateway.request("POST", "/v1/subscriptions/\(id)/dead-letters/redeliver")
        #expect(rest.json["redelivered"] as? Int == 1)
        // Nothing left to redeliver: 200, nothing stored.
        for body in [nil, #"{"eventIds":[]}"#] {
            let none = try gateway.request("POST", "/v1/subscriptions/\(id)/dead-letters/redeliver", body: body)
            #expect(none.status == 200 && none.json["redelivered"] as? Int == 0, "\(none.text)")
        }

        try gateway.restart()
        #expect(gateway.store.state.pendingDeliveries(for: id).map(\.sequence) == [sequences[1], sequences[2]])
        #expect(gateway.store.state.deadLetters(for: id).isEmpty)
    }

    @Test func fanOutsNameTheirCauseAndTheSnapshotSaysHowFarItSaw() throws {
        let gateway = try GatewayHarness()
        let id = try Self.subscribe(gateway, #"{"url":"https://a.example/","eventTypes":["*"]}"#)
        let heard = Mutex<[FanOut]>([])
        gateway.store.observeDeliveries { fanOuts in heard.withLock { $0 += fanOuts } }
        let first = try Self.publish(gateway, "a.b", "1")
        let second = try Self.publish(gateway, "a.b", "2")
        let snapshot = gateway.store.state.pendingSnapshot()
        #expect(snapshot.through >= second)
        #expect(snapshot.owed.first { $0.subscriptionID == id }?.pending.map(\.sequence) == [first, second])
        // A fan-out's cause is its event; a redelivery's is the redelivery record, later
        // than the snapshot, so the delivery side takes it although the event is older.
        gateway.store.recordAttempts([DeliveryAttemptRecord(subscriptionID: id, sequence: first, attempt: 1, status: 500,
                                                         error: "", durationMicroseconds: 1, response: [], result: .deadLettered)])
        Self.settle(gateway)
        #expect(try gateway.request("POST", "/v1/subscriptions/\(id)/dead-letters/redeliver").status == 202)
        let fanOuts = heard.withLock { $0 }
        #expect(fanOuts.map(\.sequence) == [first, second, first])
        #expect(fanOuts[0].cause == first && fanOuts[1].cause == second)
        #expect(fanOuts[2].cause > snapshot.through)
    }

    @Test(.enabled(if: GatewayHarness.onJournal)) func theWebhookEnvelopeIsWrittenFromTheRecordBytes() throws {
        let gateway = try GatewayHarness()
        // A producer id that needs escaping, and data kept byte for byte.
        let event = EventRecord(id: "ord\"1\\x", type: "order.created", source: "shop", partitionKey: "k", occurredAt: nil,
                                idempotencyKey: "key", bodyDigest: [1, 2, 3], data: Array(#"{"a": 1,  "b":[ ]}"#.utf8))
        let done = DispatchSemaphore(value: 0)
        let committed = Mutex<[JournalRecord]>([])
        // The event, and a record of another kind (deleting a subscription nobody has).
        let entries = [JournalEntry(kind: .event, payload: event.encode()),
                       JournalEntry(kind: .subscriptionDeleted, payload: NameRecord(name: "sub_none").encode())]
        gateway.journal.journal.append(entries) { result in
            committed.withLock { $0 = (try? result.get()) ?? [] }
            done.signal()
        }
        done.wait()
        let records = committed.withLock { $0 }
        try #require(records.count == 2)
        let reader = gateway.store.makeEventReader()
        let envelope = try #require(try reader.envelope(EventReference(sequence: records[0].sequence, location: records[0].location)))
        #expect(envelope.eventID == event.id)
        var expected = JSONObjectWriter()
        expected.add("id", string: event.id)
        expected.add("type", string: event.type)
        expected.add("timestamp", string: Timestamp.format(microseconds: records[0].timestamp))
        expected.add("source", string: event.source)
        expected.add("data", raw: event.data)
        #expect(envelope.body == expected.finish())
        // Anything but an event has no envelope.
        #expect(try reader.envelope(EventReference(sequence: records[1].sequence, location: records[1].location)) == nil)
    }

    @Test func attemptRecordsRoundTrip() throws {
        let record = DeliveryAttemptRecord(subscriptionID: "sub_1", sequence: 42, attempt: 2, status: 503, error: "x",
                                           durationMicroseconds: 77, response: Array(repeating: 1, count: 3000),
                                           result: .retryScheduled, nextAttemptAt: 99)
        #expect(record.response.count == 1024)
        #expect(try DeliveryAttemptRecord.decode(record.encode()) == record)
        let change = DeadLettersChangedRecord(subscriptionID: "sub_1", action: .discard, sequences: [1, 5, 9])
        #expect(try DeadLettersChangedRecord.decode(change.encode()) == change)
    }
}
