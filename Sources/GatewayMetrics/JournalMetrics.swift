import Gateway
import Prometheus

/// Group-commit batch sizes, bytes written and `fdatasync` durations, from the journal
/// writer's thread; the journal's size and segment count are read at scrape time
/// (`StateCollector`).
final class JournalMetrics: JournalObserver {
    private let batchRecords: ValueHistogram
    private let writtenBytes: Counter
    private let fsyncDuration: ValueHistogram

    init(registry: PrometheusCollectorRegistry) {
        batchRecords = registry.makeValueHistogram(
            descriptor: MetricFamily.journalBatchRecords.descriptor, buckets: MetricBuckets.batchRecords)
        writtenBytes = registry.makeCounter(descriptor: MetricFamily.journalWrittenBytes.descriptor)
        fsyncDuration = registry.makeValueHistogram(
            descriptor: MetricFamily.journalFsyncDuration.descriptor, buckets: MetricBuckets.fsyncDuration)
    }

    func groupWritten(records: Int, bytes: Int) {
        batchRecords.record(Double(records))
        writtenBytes.increment(by: Int64(bytes))
    }

    func synced(nanoseconds: UInt64) {
        fsyncDuration.record(Double(nanoseconds) / 1e9)
    }
}
