import Runtime
import JSON
@testable import Gateway
import Synchronization
import Testing

@Suite("Incremental collections")
struct IncrementalCollectionTests {
    @Test func chunkedArrayKeepsOrderAcrossChunks() {
        var array = ChunkedArray<Int>()
        for value in 0..<200_000 { array.append(value) }
        #expect(array.count == 200_000)
        #expect(array[0] == 0 && array[65_535] == 65_535 && array[65_536] == 65_536 && array[199_999] == 199_999)
        #expect(array.last == 199_999)
    }

    @Test func shardedDictionaryBehavesLikeADictionary() {
        var sharded = ShardedDictionary<String, Int>()
        for value in 0..<10_000 { sharded["k\(value)"] = value }
        #expect(sharded["k9999"] == 9999 && sharded["k0"] == 0 && sharded["missing"] == nil)
        sharded["k5"] = nil
        #expect(sharded["k5"] == nil)
    }

    @Test func chunkedQueueIsFIFOAcrossChunks() {
        var queue = ChunkedQueue<Int>()
        for value in 0..<40_000 { queue.push(value) }
        for expected in 0..<40_000 {
            #expect(queue.first == expected)
            queue.popFirst()
        }
        #expect(queue.first == nil)
        queue.push(7)
        #expect(queue.first == 7)
    }
}

@Suite("Event ids, timestamps and names")
struct IngestFormatTests {
    @Test func generatedIDsAreULIDShapedAndStrictlyIncreasing() {
        let generator = EventIDGenerator()
        let ids = (0..<10_000).map { _ in generator.next() }
        #expect(ids.allSatisfy { $0.hasPrefix("evt_") && $0.count == 30 })
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
        let alphabet = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        #expect(ids.allSatisfy { $0.dropFirst(4).allSatisfy(alphabet.contains) })
    }

    @Test func ulidEncodingPutsTheTimeFirst() {
        // 48-bit time 1 and zero randomness is 25 zeros after the time's last digit.
        #expect(EventID.encode(time: 0, high: 0, low: 0) == String(repeating: "0", count: 26))
        #expect(EventID.encode(time: 1, high: 0, low: 0) == "0000000001" + String(repeating: "0", count: 16))
        #expect(EventID.encode(time: 0, high: 0, low: 31) == String(repeating: "0", count: 25) + "Z")
        #expect(EventID.encode(time: (1 << 48) - 1, high: .max, low: .max) == "7" + String(repeating: "Z", count: 25))
    }

    @Test(arguments: [
        ("2026-11-27T12:00:00Z", Int64(1_795_780_800_000_000)),
        ("2026-11-27T12:00:00.5Z", Int64(1_795_780_800_500_000)),
        ("2026-11-27T13:30:00+01:30", Int64(1_795_780_800_000_000)),
        ("2026-11-27t12:00:00z", Int64(1_795_780_800_000_000)),
    ])
    func rfc3339Parses(_ text: String, _ microseconds: Int64) {
        #expect(Timestamp.parse(text) == microseconds)
    }

    @Test(arguments: ["2026-11-27", "2026-11-27T12:00:00", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
                      "2026-11-27T24:00:00Z", "2026-11-27T12:00:00.Z", "2026-11-27T12:00:00+1:00", "yesterday"])
    func rfc3339Refuses(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func formattingRoundTrips() {
        let micros: Int64 = 1_795_780_800_123_456
        #expect(Timestamp.format(microseconds: micros) == "2026-11-27T12:00:00.123456Z")
        #expect(Timestamp.parse(Timestamp.format(microseconds: micros)) == micros)
        #expect(Timestamp.format(microseconds: 0) == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp.format(microseconds: -1) == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp.format(microseconds: 253_402_300_799_999_999) == "9999-12-31T23:59:59.999999Z")
        #expect(Timestamp.format(microseconds: .max) == "9999-12-31T23:59:59.999999Z")
        #expect(Timestamp.format(microseconds: .min) == "0001-01-01T00:00:00.000000Z")
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let value = Int64.random(in: 0...253_402_300_799_999_999, using: &random)
            #expect(Timestamp.parse(Timestamp.format(microseconds: value)) == value)
        }
    }

    @Test func eventTypeNames() {
        for valid in ["a", "payment.processed", "order-v2.created_at", "a.b.c.d"] { #expect(EventTypeName.isValid(valid)) }
        for invalid in ["", ".a", "a.", "a..b", "A.b", "a b", "a/b", String(repeating: "a", count: 129)] {
            #expect(!EventTypeName.isValid(invalid))
        }
    }

    @Test func arrayElementRangesAreExact() throws {
        let text = #"[ {"a":[1,2]} , "x,y" ,3, [ ] ,{"b":"]"} ]"#
        let bytes = Array(text.utf8)
        let ranges = bytes.withUnsafeBufferPointer { JSONArrayElements.ranges(in: $0, array: 0..<bytes.count) }
        #expect(ranges.map { String(decoding: bytes[$0], as: UTF8.self) } == [#"{"a":[1,2]}"#, #""x,y""#, "3", "[ ]", #"{"b":"]"}"#])
    }
}

@Suite("Record codecs")
struct RecordCodecTests {
    @Test func eventRecordRoundTrips() throws {
        let record = EventRecord(id: "evt_1", type: "a.b", source: "billing", partitionKey: "p", occurredAt: nil,
                                 idempotencyKey: "k", bodyDigest: [1, 2, 3], data: Array(#"{"x": 1}"#.utf8))
        #expect(try EventRecord.decode(record.encode()) == record)
        var header = record
        header.data = []
        #expect(try EventRecord.decode(record.encode(), includeData: false) == header)
    }

    @Test func truncatedPayloadsAreRefused() {
        let bytes = EventRecord(id: "evt_1", type: "a.b", source: "s", partitionKey: nil, occurredAt: nil,
                                idempotencyKey: nil, bodyDigest: [], data: [1, 2, 3]).encode()
        for cut in 0..<bytes.count {
            #expect(throws: BinaryReader.Malformed.self) { _ = try EventRecord.decode(Array(bytes.prefix(cut))) }
        }
    }

    @Test(arguments: [
        ("application/json", true), ("Application/JSON; charset=utf-8", true), (" application/json ;q=1", true),
        ("application/cloudevents+json", true), ("APPLICATION/PROBLEM+JSON", true), ("application/json;", true),
        ("application/+json", false), ("application/jsonx", false), ("text/json", false), ("", false),
        ("application/x-www-form-urlencoded", false), ("application/json-seq", false),
    ])
    func jsonMediaTypes(_ value: String, _ accepted: Bool) {
        #expect(EventsAPI.isJSONMediaType(value.utf8) == accepted)
    }
}

/// A request that repeats another still being written waits for it before writing its own
/// events: if the other is refused (a full disk is not sticky), nothing of this one is stored.
@Suite("Ingest join")
struct IngestJoinTests {
    static let receipt = EventReceipt(id: "evt_1", sequence: 1, receivedAt: 1, duplicate: true)

    @Test func ownEventsAreWrittenOnlyOnceTheRepeatedRequestIsStored() {
        let outcome = Mutex<IngestOutcome?>(nil)
        let join = IngestJoin(count: 2) { result in outcome.withLock { $0 = result } }
        let wrote = Mutex<Bool?>(nil)
        join.afterWaits(for: [0]) { succeeded in wrote.withLock { $0 = succeeded } }
        #expect(join.arm() == nil)
        #expect(wrote.withLock { $0 } == nil)
        join.resolve(0, Self.receipt)
        #expect(wrote.withLock { $0 } == true)
        join.resolve(1, EventReceipt(id: "evt_2", sequence: 2, receivedAt: 2))
        #expect(outcome.withLock { $0 } == .stored([Self.receipt, EventReceipt(id: "evt_2", sequence: 2, receivedAt: 2)]))
    }

    @Test func aRefusedRepeatedRequestFailsThisOneBeforeItWritesAnything() {
        let outcome = Mutex<IngestOutcome?>(nil)
        let join = IngestJoin(count: 2) { result in outcome.withLock { $0 = result } }
        let wrote = Mutex<Bool?>(nil)
        join.afterWaits(for: [0]) { succeeded in wrote.withLock { $0 = succeeded } }
        #expect(join.arm() == nil)
        join.resolve(0, nil)
        #expect(wrote.withLock { $0 } == false)
        guard case .unavailable = outcome.withLock({ $0 }) else {
            Issue.record("expected the request to fail, got \(String(describing: outcome.withLock { $0 }))")
            return
        }
    }

    @Test func aRepeatResolvedBeforeTheWaitIsRegisteredDoesNotHoldTheWrite() {
        let join = IngestJoin(count: 2) { _ in }
        join.resolve(0, Self.receipt)
        let wrote = Mutex<Bool?>(nil)
        join.afterWaits(for: [0]) { succeeded in wrote.withLock { $0 = succeeded } }
        #expect(wrote.withLock { $0 } == true)
    }
}
