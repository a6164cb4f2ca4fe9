import Histogram

/// A subscription's recent attempt durations, for the latency percentiles of its stats: HDR
/// histograms of microseconds with two significant digits (every value within 1%), in place
/// of a ring of raw durations sorted for every read. Recording is an index computation and
/// an increment; a percentile walks a few thousand counters instead of sorting.
///
/// Recent, not all-time: the current histogram takes `window` attempts, then becomes the
/// previous one and a fresh one starts; percentiles read both, so they cover the latest
/// `window` to `2 × window` attempts. Part of the fold, so it is deterministic and
/// snapshotted like the rest of the ledger.
///
/// Memory follows the slowest duration seen, not the number of attempts: 16-bit counters
/// (a histogram never holds more than `window`) and a range that grows as needed — about
/// 3.5 KB per histogram for durations up to a second, 5 KB up to a minute.
///
/// Public for `Benchmarks/MetricsCost`, which measures it against the ring it replaced.
public struct AttemptDurations: Sendable, Equatable {
    public static let window = 1024
    /// Longer durations are counted as this (a day, in microseconds); attempts time out far
    /// sooner, so only a damaged record could bring one.
    static let longest: UInt64 = 86_400_000_000

    private(set) var current = AttemptDurations.makeHistogram()
    private(set) var previous: Histogram<UInt16>?

    /// Auto-resizing: room for values up to `largest` (at least 255) to begin with, growing
    /// to the largest recorded.
    static func makeHistogram(coveringUpTo largest: UInt64 = 2) -> Histogram<UInt16> {
        var histogram = Histogram<UInt16>(lowestDiscernibleValue: 1, highestTrackableValue: max(2, largest),
                                          numberOfSignificantValueDigits: .two)
        histogram.autoResize = true
        return histogram
    }

    var isEmpty: Bool { current.totalCount == 0 && previous == nil }

    public mutating func record(_ microseconds: Int64) {
        let value = min(UInt64(max(0, microseconds)), Self.longest)
        if current.totalCount >= Self.window {
            previous = current
            // As large as the one it follows: growing bucket by bucket again costs an
            // unspecialized copy per step (≈290 ns a record over a window, against ≈10).
            current = Self.makeHistogram(coveringUpTo: previous!.highestTrackableValue)
        } else if current.totalCount == 0, previous == nil, value > current.highestTrackableValue {
            // The first attempt: sized to its duration's magnitude in one allocation, not
            // grown step by step from nothing — with 20,000 subscriptions (10,000 tenants)
            // each one's first attempts made those steps 14% of the journal writer's time.
            current = Self.makeHistogram(coveringUpTo: min(Self.longest, max(1024, value * 4)))
        }
        current.record(value)
    }

    /// The duration at `percentile` (0-100) of the recent attempts, nil when there were none.
    public func percentile(_ percentile: Double) -> Int64? {
        percentiles([percentile]).first ?? nil
    }

    /// The durations at each of `percentiles` (0-100), from one merge of the two windows;
    /// nil each when there were no attempts.
    public func percentiles(_ percentiles: [Double]) -> [Int64?] {
        var merged = current
        if let previous {
            merged = previous
            merged.add(current)
        }
        guard merged.totalCount > 0 else { return percentiles.map { _ in nil } }
        return percentiles.map { Int64(merged.valueAtPercentile($0)) }
    }

    // MARK: - Snapshots

    /// A histogram as (value, count) pairs, one per non-empty bucket, each value one its
    /// bucket holds: recording them again gives the same counts. The first and last values
    /// are the exact smallest and largest recorded, which percentiles are clamped to.
    static func pairs(of histogram: Histogram<UInt16>) -> [(value: UInt64, count: UInt16)] {
        var pairs = histogram.recordedValues().map { (value: $0.value, count: $0.count) }
        guard !pairs.isEmpty else { return [] }
        let smallest = histogram.min, largest = histogram.maxRecorded
        if pairs.count == 1 {
            let count: UInt16 = pairs[0].count
            if smallest == largest || count == 1 || smallest == 0 { return [(largest, count)] }
            return [(smallest, UInt16(1)), (largest, count - 1)]
        }
        // `min` is exact unless zeros were recorded, when the first bucket holds only zeros.
        if smallest != 0 { pairs[0].value = smallest }
        pairs[pairs.count - 1].value = largest
        return pairs
    }

    static func histogram(from pairs: [(value: UInt64, count: UInt16)]) -> Histogram<UInt16> {
        var histogram = makeHistogram()
        for pair in pairs { histogram.record(min(pair.value, longest), count: pair.count) }
        return histogram
    }

    public init() {}

    init(current: Histogram<UInt16>, previous: Histogram<UInt16>?) {
        self.current = current
        self.previous = previous
    }

    /// A ring of raw durations from a snapshot written before histograms (version 1), oldest
    /// first.
    init(durations: [Int64]) {
        durations.forEach { record($0) }
    }
}
