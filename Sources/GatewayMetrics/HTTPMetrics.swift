import HTTPServer
import Prometheus
import Synchronization

/// Requests by route template, method and status, and their durations by route and method.
/// The server calls `responded` on its loop threads for every response, so the lookup is
/// cheap and allocation-free once warm: a route's series sit in an array indexed by the
/// router's route index (no lookup by string), and are made on the route's first response
/// (a route never used adds nothing to `/metrics`), its counters one per status seen.
final class HTTPMetrics: HTTPServerObserver {
    /// Label values for the requests no route answered.
    static let unmatched = "unmatched"

    /// The series of one route (or of the unmatched requests).
    final class RouteSeries: Sendable {
        private struct Handles {
            var duration: DurationHistogram?
            /// Status → counter, in order of first appearance: a route answers with a handful.
            var counters: [(status: Int, counter: Counter)] = []
        }

        let method: String
        let template: String
        private let registry: PrometheusCollectorRegistry
        private let handles = Mutex(Handles())

        init(method: String, template: String, registry: PrometheusCollectorRegistry) {
            self.method = method
            self.template = template
            self.registry = registry
        }

        func record(status: Int, nanoseconds: UInt64) {
            let (requests, duration) = handles.withLock { (handles: inout Handles) -> (Counter, DurationHistogram) in
                let duration = handles.duration ?? makeDuration(&handles.duration)
                return (counter(for: status, in: &handles.counters), duration)
            }
            requests.increment()
            duration.record(Duration.nanoseconds(Int64(clamping: nanoseconds)))
        }

        private func counter(for status: Int, in counters: inout [(status: Int, counter: Counter)]) -> Counter {
            for entry in counters where entry.status == status { return entry.counter }
            // The first response with this status on this route: one registry call, once.
            let counter = registry.makeCounter(
                descriptor: MetricFamily.httpRequests.descriptor,
                labels: [("method", method), ("route", template), ("status", String(status))])
            counters.append((status, counter))
            return counter
        }

        private func makeDuration(_ slot: inout DurationHistogram?) -> DurationHistogram {
            let histogram = registry.makeDurationHistogram(
                descriptor: MetricFamily.httpRequestDuration.descriptor,
                labels: [("method", method), ("route", template)], buckets: MetricBuckets.httpDuration)
            slot = histogram
            return histogram
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
