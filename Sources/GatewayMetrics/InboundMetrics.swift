import Gateway
import Prometheus
import Synchronization

/// Provider webhooks to `/in/{source}` by source and outcome (issue 12). Sources are
/// configuration and outcomes a fixed set (`InboundOutcome`), so the labels stay bounded;
/// a request to a source that does not exist is not counted here.
final class InboundMetrics: InboundObserver {
    private struct SeriesKey: Hashable {
        var source: String
        var outcome: InboundOutcome
    }

    private let registry: PrometheusCollectorRegistry
    private let counters = Mutex<[SeriesKey: Counter]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func inboundRequest(source: String, outcome: InboundOutcome) {
        let key = SeriesKey(source: source, outcome: outcome)
        let counter = counters.withLock { counters in
            if let known = counters[key] { return known }
            let made = registry.makeCounter(descriptor: MetricFamily.inboundRequests.descriptor,
                                            labels: [("source", source), ("outcome", outcome.rawValue)])
            counters[key] = made
            return made
        }
        counter.increment()
    }
}
