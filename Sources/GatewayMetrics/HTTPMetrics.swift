import HTTPServer
import Prometheus
import Synchronization

/// Requests by route template, method and status, and their durations by route and method.
/// The server calls `responded` on its loop threads for every response, so the common case
/// takes no lock: a route's series sit in an array indexed by the router's route index (no
/// lookup by string); its duration histogram, and the counter of the first status it
/// answered with (which it nearly always answers with), are read with an atomic load
/// (`PublishedOnce`). Series are made on a route's first response, so a route never used adds
/// nothing to `/metrics`.
final class HTTPMetrics: HTTPServerObserver {
    /// Label values for the requests no route answered.
    static let unmatched = "unmatched"

    /// The series of one route (or of the unmatched requests).
    final class RouteSeries: Sendable {
        let method: String
        let template: String
        private let registry: PrometheusCollectorRegistry
        private let duration = PublishedOnce<ValueHistogram>()
        /// The first status answered (0 until then), published after its counter.
        private let firstStatus = Atomic<Int>(0)
        private let firstCounter = PublishedOnce<Counter>()
        /// Every other status's counter, in order of first appearance.
        private let otherCounters = Mutex<[(status: Int, counter: Counter)]>([])

        init(method: String, template: String, registry: PrometheusCollectorRegistry) {
            self.method = method
            self.template = template
            self.registry = registry
        }

        func record(status: Int, nanoseconds: UInt64) {
            counter(for: status).increment()
            duration.get {
                registry.makeValueHistogram(descriptor: MetricFamily.httpRequestDuration.descriptor,
                                            labels: [("method", method), ("route", template)], buckets: MetricBuckets.httpDuration)
            }.record(Double(nanoseconds) / 1e9)
        }

        private func counter(for status: Int) -> Counter {
            if firstStatus.load(ordering: .acquiring) == status {
                return firstCounter.get { makeCounter(status) }
            }
            return otherCounters.withLock { counters in
                for entry in counters where entry.status == status { return entry.counter }
                // This status's first response on this route: the only registry call for it.
                if firstStatus.load(ordering: .acquiring) == 0 {
                    let counter = firstCounter.get { makeCounter(status) }
                    firstStatus.store(status, ordering: .releasing)
                    return counter
                }
                let counter = makeCounter(status)
                counters.append((status, counter))
                return counter
            }
        }

        private func makeCounter(_ status: Int) -> Counter {
            registry.makeCounter(descriptor: MetricFamily.httpRequests.descriptor,
                                 labels: [("method", method), ("route", template), ("status", String(status))])
        }
    }

    private let routes: [RouteSeries]
    private let unmatchedSeries: RouteSeries

    /// `routes` is the router's `routes`, whose indexes the server reports.
    init(routes: [Router.Route], registry: PrometheusCollectorRegistry) {
        self.routes = routes.map { RouteSeries(method: $0.method.rawValue, template: $0.template, registry: registry) }
        unmatchedSeries = RouteSeries(method: Self.unmatched, template: Self.unmatched, registry: registry)
    }

    func responded(route: Int?, status: Int, nanoseconds: UInt64) {
        let series = route.flatMap { $0 < routes.count ? routes[$0] : nil } ?? unmatchedSeries
        series.record(status: status, nanoseconds: nanoseconds)
    }
}
