import Gateway
import Prometheus
import Runtime
import Synchronization

/// What is state rather than events, read once per scrape: nothing on a hot path keeps these
/// up to date. Per subscription: pending deliveries, dead letters and the circuit breaker,
/// labelled with the subscription id; the series of a deleted subscription are removed at
/// the next scrape. Past `maxSubscriptionSeries` subscriptions (a gateway of thousands of
/// tenants), only that many get series: those in trouble first (circuit not closed), then
/// the largest backlogs. Then attempts in flight, the journal's size and segments, and the
/// process's memory, descriptors and uptime.
final class StateCollector: Sendable {
    /// Where the figures come from; any may be missing (a test, another store).
    struct Sources: Sendable {
        /// Every subscription's backlog, by id: which subscriptions exist, too.
        var backlogs: (@Sendable () -> [String: DeliveryBacklog])?
        /// The dispatcher's lanes (in flight, circuit), by subscription id.
        var lanes: (@Sendable () -> [String: DeliveryStatusBoard.LaneStatus])?
        var journalUsage: (@Sendable () -> (segments: Int, bytes: Int))?
    }

    private final class SubscriptionSeries: Sendable {
        let pending: Gauge
        let deadLetters: Gauge
        let circuit: [(state: DeliveryStatusBoard.CircuitState, gauge: Gauge)]

        init(id: String, registry: PrometheusCollectorRegistry) {
            let labels = [("subscription", id)]
            pending = registry.makeGauge(descriptor: MetricFamily.subscriptionPending.descriptor, labels: labels)
            deadLetters = registry.makeGauge(descriptor: MetricFamily.subscriptionDeadLetters.descriptor, labels: labels)
            circuit = DeliveryStatusBoard.CircuitState.allCases.map { state in
                (state, registry.makeGauge(descriptor: MetricFamily.subscriptionCircuit.descriptor,
                                           labels: [("subscription", id), ("state", state.rawValue)]))
            }
        }

        func update(_ backlog: DeliveryBacklog, circuit current: DeliveryStatusBoard.CircuitState) {
            pending.set(to: Double(backlog.pending))
            deadLetters.set(to: Double(backlog.deadLettered))
            for (state, gauge) in circuit { gauge.set(to: state == current ? 1 : 0) }
        }

        func unregister(from registry: PrometheusCollectorRegistry) {
            registry.unregisterGauge(pending)
            registry.unregisterGauge(deadLetters)
            circuit.forEach { registry.unregisterGauge($0.gauge) }
        }
    }

    /// Series per subscription are capped: a scrape stays small, and the registry (which
    /// copies a family's series on every registration) stays fast.
    static let maxSubscriptionSeries = 1000

    private let registry: PrometheusCollectorRegistry
    private let sources = Mutex(Sources())
    private let subscriptions = Mutex<[String: SubscriptionSeries]>([:])
    private let inFlight: Gauge
    private let journalSize: Gauge
    private let journalSegments: Gauge
    private let residentMemory: Gauge
    private let openFileDescriptors: Gauge
    private let uptime: Gauge
    /// Monotonic nanoseconds when the metrics were set up, at start.
    private let startedAt = monotonicNanoseconds()

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        inFlight = registry.makeGauge(descriptor: MetricFamily.deliveryInFlight.descriptor)
        journalSize = registry.makeGauge(descriptor: MetricFamily.journalSize.descriptor)
        journalSegments = registry.makeGauge(descriptor: MetricFamily.journalSegments.descriptor)
        residentMemory = registry.makeGauge(descriptor: MetricFamily.residentMemory.descriptor)
        openFileDescriptors = registry.makeGauge(descriptor: MetricFamily.openFileDescriptors.descriptor)
        uptime = registry.makeGauge(descriptor: MetricFamily.uptime.descriptor)
    }

    func watch(_ sources: Sources) {
        self.sources.withLock { $0 = sources }
    }

    /// Brings every state gauge up to date. Scrapes are serialized by the caller.
    func collect() {
        let sources = self.sources.withLock { $0 }
        let statuses = sources.lanes?() ?? [:]
        inFlight.set(to: Double(statuses.values.reduce(0) { $0 + $1.inFlight }))
        if let backlogs = sources.backlogs?() {
            collectSubscriptions(backlogs, statuses: statuses)
        }
        if let usage = sources.journalUsage?() {
            journalSegments.set(to: Double(usage.segments))
            journalSize.set(to: Double(usage.bytes))
        }
        if let bytes = ProcessStatistics.residentMemoryBytes() { residentMemory.set(to: Double(bytes)) }
        if let count = ProcessStatistics.openFileDescriptors() { openFileDescriptors.set(to: Double(count)) }
        uptime.set(to: Double(monotonicNanoseconds() &- startedAt) / 1e9)
    }

    private func collectSubscriptions(
        _ all: [String: DeliveryBacklog], statuses: [String: DeliveryStatusBoard.LaneStatus]
    ) {
        let backlogs = Self.shown(all, statuses: statuses)
        subscriptions.withLock { known in
            for (id, series) in known where backlogs[id] == nil {
                series.unregister(from: registry)
                known[id] = nil
            }
            for (id, backlog) in backlogs {
                let series = known[id] ?? SubscriptionSeries(id: id, registry: registry)
                known[id] = series
                series.update(backlog, circuit: statuses[id]?.circuit ?? .closed)
            }
        }
    }

    /// The subscriptions that get series: all of them up to the cap; past it, the cap's worth
    /// ranked by trouble (an open or half-open circuit), then backlog (pending + dead letters).
    static func shown(
        _ backlogs: [String: DeliveryBacklog], statuses: [String: DeliveryStatusBoard.LaneStatus]
    ) -> [String: DeliveryBacklog] {
        guard backlogs.count > maxSubscriptionSeries else { return backlogs }
        func rank(_ entry: (key: String, value: DeliveryBacklog)) -> (Int, Int, String) {
            let troubled = (statuses[entry.key]?.circuit ?? .closed) == .closed ? 0 : 1
            return (troubled, entry.value.pending + entry.value.deadLettered, entry.key)
        }
        let ranked = backlogs.filter { rank($0).0 > 0 || rank($0).1 > 0 }.sorted { rank($0) > rank($1) }
        return Dictionary(uniqueKeysWithValues: ranked.prefix(maxSubscriptionSeries).map { ($0.key, $0.value) })
    }
}
