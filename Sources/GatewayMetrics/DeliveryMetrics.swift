import Delivery
import Prometheus

/// Attempts by outcome and commit-to-2xx latency, from the dispatcher's thread. What is
/// state rather than events (in flight, pending, dead letters, circuits) is read at scrape
/// time (`StateCollector`).
final class DeliveryMetrics: DeliveryObserver {
    /// Every outcome, made up front: the family shows zeros before the first attempt.
    private let delivered: Counter
    private let retryScheduled: Counter
    private let deadLettered: Counter
    private let subscriptionDisabled: Counter
    private let latency: ValueHistogram

    init(registry: PrometheusCollectorRegistry) {
        func counter(_ outcome: AttemptResult) -> Counter {
            registry.makeCounter(descriptor: MetricFamily.deliveryAttempts.descriptor, labels: [("outcome", outcome.rawValue)])
        }
        delivered = counter(.delivered)
        retryScheduled = counter(.retryScheduled)
        deadLettered = counter(.deadLettered)
        subscriptionDisabled = counter(.subscriptionDisabled)
        latency = registry.makeValueHistogram(descriptor: MetricFamily.deliveryLatency.descriptor, buckets: MetricBuckets.deliveryLatency)
    }

    func attemptFinished(_ outcome: AttemptResult, latencyMicroseconds: Int64?) {
        switch outcome {
        case .delivered: delivered.increment()
        case .retryScheduled: retryScheduled.increment()
        case .deadLettered: deadLettered.increment()
        case .subscriptionDisabled: subscriptionDisabled.increment()
        }
        if let latencyMicroseconds { latency.record(Double(latencyMicroseconds) / 1e6) }
    }
}
