import Foundation
import Runtime
@testable import Gateway
import Testing

/// Issue 9: history on disk. Events are found by id, position, time and type through
/// per-segment index files; the fold comes back from snapshots; retention deletes expired
/// segments but never an owed event.
@Suite("History: indexes, snapshots, retention")
struct HistoryTests {
    /// Small segments, so a few dozen events span several of them.
    static func smallSegments(_ settings: inout GatewayHarness.Settings) { settings.segmentSize = 4096 }

    static func publish(_ gateway: GatewayHarness, _ type: String, id: String? = nil, n: Int) throws -> String {
        let idField = id.map { "\"id\":\"\($0)\"," } ?? ""
        let response = try gateway.request("POST", "/v1/events", body: "{\(idField)\"type\":\"\(type)\",\"data\":{\"n\":\(n)}}")
        #expect(response.status == 202, "\(response.text)")
        return try #require(response.json["id"] as? String)
    }

    static func files(_ gateway: GatewayHarness, endingWith suffix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: gateway.directory + "/journal")) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }

    /// Ids of the events listed for `query`, following `next` to the end.
    static func listAll(_ gateway: GatewayHarness, _ query: String) throws -> [String] {
        var ids: [String] = []
        var after = 0
        while true {
            let page = try gateway.request("GET", "/v1/events?\(query)&limit=7&after=\(after)")
            #expect(page.status == 200, "\(page.text)")
            ids += (page.json["events"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            guard let next = page.json["next"] as? Int else { return ids }
            after = next
        }
    }

    @Test func eventsAreFoundByIDPositionAndTypeAcrossSealedSegmentsAndRestarts() throws {
        let gateway = try GatewayHarness { settings, _ in Self.smallSegments(&settings) }
        var ids: [(id: String, type: String)] = []
        for n in 0..<150 {
            let type = n % 2 == 0 ? "a.even" : "a.odd"
            ids.append((try Self.publish(gateway, type, id: n % 5 == 0 ? "mine-\(n)" : nil, n: n), type))
        }
        let first = try #require(try gateway.store.event(id: ids[0].id))
        gateway.store.recordAttempts([DeliveryAttemptRecord(
            subscriptionID: "sub_01JD8X3Q5W7E2M9K4T6V8B0N1P", sequence: first.sequence, attempt: 1, status: 500, error: "", durationMicroseconds: 10,
            response: [], result: .retryScheduled, nextAttemptAt: 1)])
        gateway.journal.maintainer.pass()
        let segments = Self.files(gateway, endingWith: ".seg")
        #expect(segments.count >= 4)
        #expect(Self.files(gateway, endingWith: ".idx").count == segments.count - 1)

        func check() throws {
            for (id, type) in ids {
                let response = try gateway.request("GET", "/v1/events/\(id)")
                #expect(response.status == 200 && response.json["type"] as? String == type, "\(id): \(response.text)")
            }
            #expect(try Self.listAll(gateway, "type=a.even") == ids.filter { $0.type == "a.even" }.map(\.id))
            #expect(try Self.listAll(gateway, "type=a.none").isEmpty)
            let attempts = try gateway.request("GET", "/v1/events/\(ids[0].id)/attempts")
            #expect((attempts.json["attempts"] as? [Any])?.count == 1, "\(attempts.text)")
            #expect(try gateway.request("GET", "/v1/events/evt_01AAAAAAAAAAAAAAAAAAAAAAAA").status == 404)
            // A repeat of a producer's id inside the window is answered with the original.
            let repeated = try gateway.request("POST", "/v1/events", body: #"{"id":"mine-0","type":"a.even","data":{"n":0}}"#)
            #expect(repeated.status == 200 && repeated.json["id"] as? String == "mine-0", "\(repeated.text)")
        }
        try check()
        try gateway.restart()
        // Recovery started from a snapshot and read only the active segment.
        #expect(gateway.journal.recoveredFromSnapshot > 0)
        #expect(gateway.journal.recovery.records < 20)
        try check()
    }

    /// Two event types whose 32-bit type hashes in the index collide.
    static func collidingTypes() -> (String, String) {
        var seen: [UInt32: String] = [:]
        for n in 0... {
            let name = "t.n\(n)"
            let hash = UInt32(truncatingIfNeeded: StableHash.of(name))
            if let other = seen[hash] { return (other, name) }
            seen[hash] = name
        }
        fatalError("unreachable")
    }

    /// The index matches a type by hash; a page made short by a collision is filled from
    /// further on, so only the end of the history gives a short page.
    @Test func listingByTypeIsExactAndPagesStayFullDespiteHashCollisions() throws {
        let (wanted, colliding) = Self.collidingTypes()
        let gateway = try GatewayHarness { settings, _ in Self.smallSegments(&settings) }
        var expected: [String] = []
        for n in 0..<60 {
            let id = try Self.publish(gateway, n % 3 == 0 ? wanted : colliding, n: n)
            if n % 3 == 0 { expected.append(id) }
        }
        gateway.journal.maintainer.pass()
        let page = try gateway.request("GET", "/v1/events?type=\(wanted)&limit=7")
        let ids = (page.json["events"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(ids == Array(expected.prefix(7)), "\(page.text)")
        #expect(try Self.listAll(gateway, "type=\(wanted)") == expected)
    }

    @Test func damagedOrMissingIndexFilesAreRebuiltFromTheirSegments() throws {
        let gateway = try GatewayHarness { settings, _ in Self.smallSegments(&settings) }
        var ids: [String] = []
        for n in 0..<150 { ids.append(try Self.publish(gateway, "a.b", n: n)) }
        gateway.journal.maintainer.pass()
        gateway.stop()
        let indexes = Self.files(gateway, endingWith: ".idx")
        try #require(indexes.count >= 3)
        let journal = gateway.directory + "/journal/"
        try FileManager.default.removeItem(atPath: journal + indexes[0])
        // A damaged header, and a damaged body (the id table: lookups read it unverified).
        for (name, offset) in [(indexes[1], 3), (indexes[2], -20)] {
            let handle = try #require(FileHandle(forUpdatingAtPath: journal + name))
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: offset >= 0 ? UInt64(offset) : size - UInt64(-offset))
            try handle.write(contentsOf: Data([0xA5, 0x5A, 0xA5]))
            try handle.close()
        }
        try gateway.start()
        // The body damage is found by the maintainer's check (start-up reads headers only).
        gateway.journal.maintainer.pass()
        for id in ids {
            #expect(try gateway.request("GET", "/v1/events/\(id)").status == 200, "\(id)")
        }
        #expect(try Self.listAll(gateway, "type=a.b") == ids)
        // The missing and header-damaged ones were written again, whole.
        for name in indexes.prefix(2) {
            let base = try #require(UInt64(name.prefix { $0.isNumber }))
            #expect(throws: Never.self) {
                _ = try SegmentIndexFile(directory: gateway.directory + "/journal", base: base,
                                         segmentLength: SegmentFile.size(directory: gateway.directory + "/journal", base: base))
            }
        }
    }

    /// A producer's id is taken for good, not only inside the idempotency window: past the
    /// window it is found in the index files.
    @Test func aProducersIDStaysTakenAfterTheIdempotencyWindow() throws {
        let gateway = try GatewayHarness { settings, _ in
            Self.smallSegments(&settings)
            settings.idempotencyWindow = .milliseconds(200)
        }
        _ = try Self.publish(gateway, "a.b", id: "mine-1", n: 1)
        for n in 0..<60 { _ = try Self.publish(gateway, "a.b", n: n) }
        gateway.journal.maintainer.pass()
        Thread.sleep(forTimeInterval: 0.3)
        let again = try gateway.request("POST", "/v1/events", body: #"{"id":"mine-1","type":"a.b","data":{"n":1}}"#)
        #expect(again.status == 409 && (again.json["detail"] as? String)?.contains("already exists") == true, "\(again.text)")
        #expect(try gateway.request("POST", "/v1/events", body: #"{"id":"mine-2","type":"a.b","data":{"n":1}}"#).status == 202)
    }

    @Test func aDamagedSnapshotFallsBackToTheOneBeforeIt() throws {
        let gateway = try GatewayHarness { settings, _ in Self.smallSegments(&settings) }
        let response = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://a.example/","eventTypes":["a.*"]}"#)
        let subscription = try #require(response.json["id"] as? String)
        for n in 0..<40 { _ = try Self.publish(gateway, "a.b", n: n) }
        gateway.journal.maintainer.pass()
        for n in 40..<60 { _ = try Self.publish(gateway, "a.b", n: n) }
        let pending = gateway.store.state.pendingDeliveries(for: subscription).map(\.sequence)
        #expect(pending.count == 60)
        gateway.stop()
        let snapshots = Self.files(gateway, endingWith: ".snap")
        #expect(snapshots.count == 2)
        let newest = gateway.directory + "/journal/" + snapshots.last!
        let handle = try #require(FileHandle(forUpdatingAtPath: newest))
        try handle.seek(toOffset: 40)
        try handle.write(contentsOf: Data([0xFF]))
        try handle.close()
        try gateway.start()
        #expect(gateway.journal.recoveredFromSnapshot > 0)
        #expect(gateway.journal.recoveredFromSnapshot < UInt64(try #require(UInt64(snapshots.last!.filter(\.isNumber)))))
        #expect(gateway.store.state.pendingDeliveries(for: subscription).map(\.sequence) == pending)
        #expect(gateway.store.state.subscription(subscription) != nil)
    }

    /// Rolls the journal by age and runs maintenance until retention has had two snapshots
    /// to work with.
    static func ageAndMaintain(_ gateway: GatewayHarness, rounds: Int = 3) throws {
        for round in 0..<rounds {
            Thread.sleep(forTimeInterval: 1.1)
            _ = try publish(gateway, "tick.tock", n: round)
            gateway.journal.maintainer.pass()
        }
    }

    @Test func retentionDeletesExpiredSegmentsButCarriesForwardEveryOwedEvent() throws {
        let gateway = try GatewayHarness { settings, _ in
            Self.smallSegments(&settings)
            settings.retention.retention = .milliseconds(500)
        }
        let paused = try #require(try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://a.example/","eventTypes":["owed.*"]}"#).json["id"] as? String)
        #expect(try gateway.request("POST", "/v1/subscriptions/\(paused)/pause").status == 200)
        let dead = try #require(try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://b.example/","eventTypes":["dead.*"]}"#).json["id"] as? String)
        let backoff = try #require(try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://c.example/","eventTypes":["backoff.*"]}"#).json["id"] as? String)
        let disabled = try #require(try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://d.example/","eventTypes":["disabled.*"]}"#).json["id"] as? String)
        var owed: [String] = []
        var free: [String] = []
        for n in 0..<30 {
            owed.append(try Self.publish(gateway, "owed.x", n: n))
            free.append(try Self.publish(gateway, "free.x", n: n))
        }
        let keptKey = try Self.publish(gateway, "owed.x", id: "k-owed", n: 99)
        owed.append(keptKey)
        let expiredKey = try Self.publish(gateway, "free.x", id: "k-free", n: 99)
        free.append(expiredKey)
        let deadID = try Self.publish(gateway, "dead.x", n: 0)
        let deadSequence = try #require(try gateway.store.event(id: deadID)).sequence
        // In backoff (a retry scheduled), and owed to a subscription disabled (410) since.
        let backoffID = try Self.publish(gateway, "backoff.x", n: 0)
        let disabledID = try Self.publish(gateway, "disabled.x", n: 0)
        gateway.store.recordAttempts([
            DeliveryAttemptRecord(subscriptionID: dead, sequence: deadSequence, attempt: 3, status: 500, error: "",
                                  durationMicroseconds: 10, response: [], result: .deadLettered),
            DeliveryAttemptRecord(subscriptionID: backoff, sequence: try #require(try gateway.store.event(id: backoffID)).sequence,
                                  attempt: 1, status: 503, error: "", durationMicroseconds: 10, response: [], result: .retryScheduled,
                                  nextAttemptAt: wallClockMicroseconds() + 3_600_000_000),
        ])
        let disabling = DispatchSemaphore(value: 0)
        #expect(gateway.store.disableSubscription(disabled, reason: "HTTP 410 Gone") { disabling.signal() })
        disabling.wait()
        let firstSegments = Self.files(gateway, endingWith: ".seg")
        try Self.ageAndMaintain(gateway)
        let remaining = Self.files(gateway, endingWith: ".seg")
        #expect(!remaining.contains(firstSegments[0]), "the oldest segment was not deleted: \(remaining)")
        #expect(gateway.journal.maintainer.segmentsDeleted > 0)

        // An owed event keeps its key (a repeat answers with it); an expired one's key is
        // forgotten with it, so the same request stores a new event.
        let repeatOwed = try gateway.request("POST", "/v1/events", body: #"{"id":"k-owed","type":"owed.x","data":{"n":99}}"#)
        #expect(repeatOwed.status == 200, "\(repeatOwed.text)")
        let repeatExpired = try gateway.request("POST", "/v1/events", body: #"{"id":"k-free","type":"free.x","data":{"n":99}}"#)
        #expect(repeatExpired.status == 202, "\(repeatExpired.text)")
        free.removeLast()

        func check() throws {
            for id in free {
                let response = try gateway.request("GET", "/v1/events/\(id)")
                #expect(response.status == 404 && (response.json["detail"] as? String)?.contains("expired") == true, "\(response.text)")
            }
            for id in owed + [deadID] {
                #expect(try gateway.request("GET", "/v1/events/\(id)").status == 200, "owed \(id) is gone")
            }
            let pending = gateway.store.state.pendingDeliveries(for: paused)
            #expect(pending.count == owed.count)
            let reader = gateway.store.makeEventReader()
            let bodies = try pending.map { try #require(try reader.envelope($0.event)) }
            #expect(bodies.map(\.eventID) == owed)
            #expect(try reader.envelope(try #require(gateway.store.state.pendingDeliveries(for: backoff).first).event)?.eventID == backoffID)
            #expect(gateway.store.state.pendingDeliveries(for: backoff).first?.attempts == 1)
            #expect(try reader.envelope(try #require(gateway.store.state.pendingDeliveries(for: disabled).first).event)?.eventID == disabledID)
            for id in [backoffID, disabledID] {
                #expect(try gateway.request("GET", "/v1/events/\(id)").status == 200)
            }
            let letters = gateway.store.state.deadLetters(for: dead)
            #expect(letters.map(\.sequence) == [deadSequence])
            #expect(try reader.envelope(try #require(letters.first).event)?.eventID == deadID)
        }
        try check()
        try gateway.restart()
        try check()
    }

    @Test func retentionKeepsWhatIsNotPastItAndRetentionBytesCutsTheOldest() throws {
        let gateway = try GatewayHarness { settings, _ in
            Self.smallSegments(&settings)
            settings.retention.retention = .seconds(3600)
        }
        var ids: [String] = []
        for round in 0..<4 {
            for n in 0..<80 { ids.append(try Self.publish(gateway, "a.b", n: round * 100 + n)) }
            gateway.journal.maintainer.pass()
        }
        let segments = Self.files(gateway, endingWith: ".seg")
        #expect(segments.count > 4 && Self.files(gateway, endingWith: ".snap").count == 2)
        gateway.journal.maintainer.pass()
        #expect(Self.files(gateway, endingWith: ".seg") == segments, "nothing is past an hour's retention")
        #expect(gateway.journal.maintainer.segmentsDeleted == 0)

        // The same journal under a size limit: the oldest segments go, as far as the older
        // snapshot covers them, until the rest fits.
        gateway.stop()
        gateway.configure = { settings, _ in
            Self.smallSegments(&settings)
            settings.retention.retention = .seconds(3600)
            settings.retention.retentionBytes = 3 * 4096
        }
        try gateway.start()
        gateway.journal.maintainer.pass()
        let remaining = Self.files(gateway, endingWith: ".seg")
        #expect(remaining.count < segments.count && remaining.first != segments.first)
        #expect(remaining == Array(segments.suffix(remaining.count)), "only the oldest are deleted")
        let kept = ids.filter { (try? gateway.request("GET", "/v1/events/\($0)").status) == 200 }
        #expect(!kept.isEmpty && kept == Array(ids.suffix(kept.count)), "the events kept are the newest")
    }

    @Test func deadLettersPastTheirRetentionAreDiscarded() throws {
        let gateway = try GatewayHarness { settings, _ in settings.retention.deadLetterRetention = .milliseconds(300) }
        let dead = try #require(try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://b.example/","eventTypes":["*"]}"#).json["id"] as? String)
        let id = try Self.publish(gateway, "dead.x", n: 0)
        let sequence = try #require(try gateway.store.event(id: id)).sequence
        gateway.store.recordAttempts([DeliveryAttemptRecord(
            subscriptionID: dead, sequence: sequence, attempt: 3, status: 500, error: "", durationMicroseconds: 10,
            response: [], result: .deadLettered)])
        _ = try Self.publish(gateway, "other.x", n: 1)  // after the attempt: folded once this is
        gateway.journal.maintainer.pass()
        #expect(gateway.store.state.deadLetters(for: dead).count == 1)
        Thread.sleep(forTimeInterval: 0.4)
        gateway.journal.maintainer.pass()
        #expect(gateway.store.state.deadLetters(for: dead).isEmpty)
        try gateway.restart()
        #expect(gateway.store.state.deadLetters(for: dead).isEmpty)
    }
}

