import Gateway
import Prometheus
import Synchronization

/// Events ingested by type and source, ingest requests refused by reason.
///
/// Labels stay bounded: `source` is a source's name (sources are configuration) or `admin`,
/// never the `source` an admin writes into an envelope; `type` is the event type for the
/// first `typeLimit` types seen since start and `other` after that (see `BoundedLabel`).
final class IngestMetrics: IngestObserver {
    static let typeLimit = 100
    static let adminSource = "admin"

    private struct SeriesKey: Hashable {
        var type: String
        var source: String
    }

    private struct Ingested {
        var types = BoundedLabel(limit: IngestMetrics.typeLimit)
        var counters: [SeriesKey: Counter] = [:]
    }

    private let registry: PrometheusCollectorRegistry
    /// Mostly touched by the journal writer alone (stored events are reported after its
    /// fdatasync), so the lock is all but uncontended.
    private let ingested = Mutex(Ingested())
    /// Every reason, made up front: the family shows zeros before the first refusal.
    private let refused: [IngestRefusal: Counter]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        var refused: [IngestRefusal: Counter] = [:]
        for reason in IngestRefusal.allCases {
            refused[reason] = registry.makeCounter(descriptor: MetricFamily.eventsRejected.descriptor, labels: [("reason", reason.rawValue)])
        }
        self.refused = refused
    }

    func eventStored(type: String, publisher: Publisher) {
        let source: String
        switch publisher {
        case .admin: source = Self.adminSource
        case .source(let name): source = name
        }
        counter(type: type, source: source).increment()
    }

    func ingestRefused(_ reason: IngestRefusal) {
        refused[reason]?.increment()
    }

    private func counter(type: String, source: String) -> Counter {
        ingested.withLock { state in
            // Nearly always a type already counted under its own name: one lookup.
            if let counter = state.counters[SeriesKey(type: type, source: source)] { return counter }
            let key = SeriesKey(type: state.types.value(for: type), source: source)
            if let counter = state.counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: MetricFamily.eventsIngested.descriptor, labels: [("type", key.type), ("source", key.source)])
            state.counters[key] = counter
            return counter
        }
    }
}
