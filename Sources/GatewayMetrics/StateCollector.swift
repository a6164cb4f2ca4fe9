import Gateway
import Prometheus
import Runtime
import Synchronization

/// What is state rather than events, read once per scrape: nothing on a hot path keeps these
/// up to date. Per subscription: pending deliveries, dead letters and the circuit breaker,
/// labelled with the subscription id (bounded by configuration); the series of a deleted
/// subscription are removed at the next scrape. Then attempts in flight, the journal's size
/// and segments, and the process's memory, descriptors and uptime.
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
        _ backlogs: [String: DeliveryBacklog], statuses: [String: DeliveryStatusBoard.LaneStatus]
    ) {
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
}
