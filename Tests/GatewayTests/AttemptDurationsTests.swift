import Foundation
@testable import Gateway
import Histogram
import TestSupport
import Testing

/// The latency percentiles' histograms: within 1%, over a sliding window of attempts, and
/// the same after a snapshot round trip.
@Suite("Attempt durations")
struct AttemptDurationsTests {
    /// The exact percentile of `values` the way HDR defines it: the smallest value that at
    /// least `percentile`% of them are at or below.
    static func exact(_ values: [Int64], _ percentile: Double) -> Int64 {
        let sorted = values.sorted()
        let rank = max(1, Int((percentile / 100 * Double(sorted.count)).rounded(.up)))
        return sorted[rank - 1]
    }

    @Test("percentiles are within 1% of the exact ones, and none before any attempt")
    func percentilesAreWithinOnePercent() {
        var random = SplitMix64(seed: 7)
        var durations = AttemptDurations()
        #expect(durations.percentile(50) == nil)
        var values: [Int64] = []
        for _ in 0..<1000 {
            // Log-uniform from 1 µs to 30 s, as webhook durations spread.
            let value = Int64(pow(10, Double(random.next() % 1_000_000) / 1_000_000 * 7.5))
            values.append(value)
            durations.record(value)
        }
        for percentile in [1.0, 50, 90, 99, 99.9] {
            let exact = Self.exact(values, percentile)
            let measured = durations.percentile(percentile) ?? -1
            #expect(measured >= exact && Double(measured - exact) <= Double(exact) * 0.01, "p\\(percentile): \\(measured) vs \\(exact)")
        }
        #expect(durations.percentile(100) == values.max())
    }

    @Test("percentiles follow the latest attempts: a window fills, becomes the previous one, and the one before is dropped")
    func theWindowSlides() {
        var durations = AttemptDurations()
        for _ in 0..<AttemptDurations.window { durations.record(1_000) }
        #expect(durations.percentile(50) == 1_000 && durations.previous == nil)
        for _ in 0..<AttemptDurations.window { durations.record(50_000) }
        // Half the covered attempts are slow now.
        #expect(durations.previous?.totalCount == UInt64(AttemptDurations.window))
        #expect(durations.percentile(40).map { (1_000...1_010).contains($0) } == true)
        #expect(durations.percentile(60).map { (50_000...50_500).contains($0) } == true)
        durations.record(50_000)
        // The fast ones are gone.
        #expect(durations.percentile(1).map { (50_000...50_500).contains($0) } == true)
        #expect(durations.current.totalCount == 1)
    }

    @Test("negative and absurd durations are clamped, not trapped on")
    func outOfRangeValues() {
        var durations = AttemptDurations()
        durations.record(-5)
        durations.record(.max)
        #expect(durations.percentile(1) == 0)
        #expect(durations.percentile(100) == Int64(AttemptDurations.longest))
    }

    @Test("a histogram written as pairs reads back equal, with its exact smallest and largest values", arguments: [
        [Int64](), [0], [0, 0, 7], [900], [900, 901, 902], [5, 900, 1_200, 1_201], [0, 3, 300_007, 29_999_999],
    ])
    func pairsRoundTrip(_ values: [Int64]) {
        var original = AttemptDurations.makeHistogram()
        for value in values { original.record(UInt64(value)) }
        let restored = AttemptDurations.histogram(from: AttemptDurations.pairs(of: original))
        #expect(restored == original)
        #expect(restored.totalCount == original.totalCount)
        #expect(restored.maxRecorded == original.maxRecorded)
        #expect(restored.min == original.min)
        for percentile in [1.0, 50, 99, 100] {
            #expect(restored.valueAtPercentile(percentile) == original.valueAtPercentile(percentile))
        }
    }

    @Test("a version-1 ring, oldest first, gives the same percentiles as recording them")
    func ringFromAnOldSnapshot() {
        let ring: [Int64] = [300, 100, 200]
        let converted = AttemptDurations(durations: ring)
        var recorded = AttemptDurations()
        ring.forEach { recorded.record($0) }
        #expect(converted == recorded)
        #expect(converted.percentile(50) == 200)
    }
}

/// Snapshots written before the histograms (version 1, durations as a ring) still load: an
/// upgrade must not lose the state of segments retention already deleted.
@Suite("Snapshot versions")
struct SnapshotVersionTests {
    @Test func aVersionOneSnapshotLoadsItsRingIntoTheHistograms() throws {
        var body = BinaryWriter(capacity: 256)
        body.byte(1)
        body.integer(UInt64(0))  // events
        body.integer(UInt64(0))  // undecodable
        body.integer(UInt64(9))  // applied through
        for _ in 0..<6 { body.integer(UInt32(0)) }  // keys, key ages, types, sources, by digest, subscriptions
        body.integer(UInt32(1))  // one ledger
        body.string("sub_x")
        for _ in 0..<7 { body.integer(UInt32(0)) }  // live, extra order, extra, owed, progress, moved, dead letters
        body.integer(Int64(3))  // delivered
        body.integer(Int64(4))  // attempts
        body.integer(Int64(1))  // failed attempts
        body.integer(UInt32(4))  // the ring, written from index 2 next: oldest first is 700, 800, 500, 600
        for duration in [Int64(500), 600, 700, 800] { body.integer(duration) }
        body.integer(Int64(2))
        body.byte(0)  // no last error
        body.integer(UInt32(0))  // replay of
        body.integer(UInt32(0))  // replays
        var header = FoldSnapshot.magic
        appendLittleEndian(UInt64(9), to: &header)
        appendLittleEndian(UInt64(body.bytes.count), to: &header)
        appendLittleEndian(body.bytes.withUnsafeBytes { RecordFraming.checksum($0) }, to: &header)
        appendLittleEndian(header.withUnsafeBytes { RecordFraming.checksum($0) }, to: &header)

        let fold = try FoldSnapshot.decode(header + body.bytes, idempotencyWindow: 3_600_000_000)
        let ledger = try #require(fold.ledgers["sub_x"])
        #expect(ledger.delivered == 3 && ledger.attempts == 4 && ledger.failedAttempts == 1)
        #expect(ledger.durations == AttemptDurations(durations: [700, 800, 500, 600]))
        #expect(ledger.durations.percentile(100) == 800)
        #expect(ledger.durations.percentile(50).map { (600...606).contains($0) } == true)
        // And written again, it is version 2 and reads back the same.
        let again = try FoldSnapshot.decode(FoldSnapshot.encode(fold), idempotencyWindow: 3_600_000_000)
        #expect(again == fold)
    }
}
