import Foundation
@testable import Gateway
import Testing

/// `gatewayd journal verify|stats|dump` (issue 9), through `JournalInspector`.
@Suite("Journal inspector")
struct JournalInspectorTests {
    static func populated() throws -> (GatewayHarness, subscription: String) {
        let gateway = try GatewayHarness { settings, _ in settings.segmentSize = 4096 }
        let created = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://a.example/","eventTypes":["a.*"],"description":"x"}"#)
        let subscription = try #require(created.json["id"] as? String)
        for n in 0..<120 {
            #expect(try gateway.request("POST", "/v1/events", body: "{\"type\":\"a.b\",\"data\":{\"n\":\(n)}}").status == 202)
        }
        gateway.journal.maintainer.pass()
        return (gateway, subscription)
    }

    @Test func verifyPassesAWholeJournalAndNamesTheFileAndOffsetOfDamage() throws {
        let (gateway, _) = try Self.populated()
        gateway.stop()
        let journal = gateway.directory + "/journal"
        let clean = try JournalInspector.verify(directory: journal)
        #expect(clean.damage.isEmpty, "\(clean.damage)")
        #expect(clean.segments >= 3 && clean.indexFiles == clean.segments - 1 && clean.snapshots >= 1 && clean.records > 120)
        // One flipped byte inside a sealed segment's second record.
        let name = SegmentFile.name(base: 1)
        let handle = try #require(FileHandle(forUpdatingAtPath: journal + "/" + name))
        let record = try #require(try JournalInspector.records(directory: journal, from: 2, limit: 1).first)
        try handle.seek(toOffset: record.location.offset + 30)
        try handle.write(contentsOf: Data([0x00, 0xFF]))
        try handle.close()
        let damaged = try JournalInspector.verify(directory: journal)
        let finding = try #require(damaged.damage.first)
        #expect(finding.file == name && finding.offset == Int(record.location.offset), "\(damaged.damage)")
        #expect(finding.description.contains("checksum"))
    }

    @Test func statsShowSegmentsSnapshotAndWhatEachSubscriptionIsOwed() throws {
        let (gateway, subscription) = try Self.populated()
        let stats = try JournalInspector.stats(directory: gateway.directory + "/journal")
        #expect(stats.segments.count >= 3)
        #expect(stats.segments.reduce(0) { $0 + $1.events } == 120)
        #expect(stats.eventsEver == 120)
        #expect(stats.snapshotCovers != nil && stats.snapshotWrittenAt != nil)
        #expect(stats.pending.map(\.subscription) == [subscription])
        #expect(stats.pending.first?.pending == 120)
    }

    @Test func dumpWritesRecordsAsJSONLinesWithoutSecrets() throws {
        let (gateway, _) = try Self.populated()
        var lines: [String] = []
        try JournalInspector.dump(directory: gateway.directory + "/journal", from: 1, limit: 5) { lines.append($0) }
        #expect(lines.count == 5)
        let records = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(records.map { $0["sequence"] as? Int } == [1, 2, 3, 4, 5])
        #expect(records.first?["kind"] as? String == "subscription-upserted")
        #expect(records[1]["kind"] as? String == "event")
        #expect(((records[1]["record"] as? [String: Any])?["data"] as? [String: Any])?["n"] as? Int == 0)
        #expect(!lines.joined().contains("whsec_"))
        var later: [String] = []
        try JournalInspector.dump(directory: gateway.directory + "/journal", from: 100, limit: 2) { later.append($0) }
        #expect(later.count == 2 && later.first?.contains("\"sequence\":100,") == true)
    }
}
