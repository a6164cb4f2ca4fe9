import Delivery
import Prometheus

/// Attempts by outcome and commit-to-2xx latency, from the dispatcher's thread. What is
/// state rather than events (in flight, pending, dead letters, circuits) is read at scrape
/// time (`StateCollector`).
final class DeliveryMetrics: DeliveryObserver {
    /// Every outcome, made up front: the family shows zeros before the first attempt.
    private let attempts: [AttemptResult: Counter]
    private let latency: DurationHistogram

    init(registry: PrometheusCollectorRegistry) {
        var attempts: [AttemptResult: Counter] = [:]
        for outcome in AttemptResult.allCases {
            attempts[outcome] = registry.makeCounter(descriptor: MetricFamily.deliveryAttempts.descriptor, labels: [("outcome", outcome.rawValue)])
        }
        self.attempts = attempts
        latency = registry.makeDurationHistogram(descriptor: MetricFamily.deliveryLatency.descriptor, buckets: MetricBuckets.deliveryLatency)
    }

    func attemptFinished(_ outcome: AttemptResult, latencyMicroseconds: Int64?) {
        attempts[outcome]?.increment()
        if let latencyMicroseconds { latency.record(.microseconds(latencyMicroseconds)) }
    }
}
