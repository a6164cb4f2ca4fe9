import CoreMetrics
import Delivery
import Gateway
import HTTPServer
import Prometheus
import Synchronization

/// The gateway's metrics: one Prometheus registry, every metric handle made once, and the
/// observers the hot paths report to. gatewayd makes one at start and wires it in:
///
///     let metrics = GatewayMetrics()
///     metrics.bootstrapMetricsSystem()                       // swift-metrics users land here too
///     storeConfiguration.journalObserver = metrics.journal   // group sizes, fsyncs
///     coreConfiguration.ingestObserver = metrics.ingest      // events stored, refused
///     coreConfiguration.inboundObserver = metrics.inbound    // provider webhooks
///     dispatcherConfiguration.observer = metrics.delivery    // attempts, latency
///     metrics.watch(core: core, journal: store)              // state read at scrape time
///     MetricsAPI.register(on: &router, metrics: metrics)     // GET /metrics
///     configuration.observer = metrics.http(for: router)     // after every route is added
///
/// Hot paths only ever touch handles made beforehand (an atomic add, a histogram's short
/// lock); label sets are bounded (route templates, fixed reasons and outcomes, configured
/// sources and subscriptions, a capped number of event types). State — pending deliveries,
/// circuits, the journal's size, the process — is read when `/metrics` is scraped.
public final class GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let ingest: any IngestObserver
    public let inbound: any InboundObserver
    public let journal: any JournalObserver
    public let delivery: any DeliveryObserver
    private let state: StateCollector
    /// One scrape at a time: collecting sets gauges that rendering reads.
    private let scrape = Mutex(())

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        ingest = IngestMetrics(registry: registry)
        inbound = InboundMetrics(registry: registry)
        journal = JournalMetrics(registry: registry)
        delivery = DeliveryMetrics(registry: registry)
        state = StateCollector(registry: registry)
    }

    /// Points swift-metrics (`Counter(label:)`, `Timer(label:)` in any library) at this
    /// registry, so what they record is on `/metrics` too. Once per process.
    public func bootstrapMetricsSystem() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// The observer for an `HTTPServer` serving `router`, which must have all its routes:
    /// the server reports routes by their index in `router.routes`.
    public func http(for router: Router) -> any HTTPServerObserver {
        HTTPMetrics(routes: router.routes, registry: registry)
    }

    /// Where scrape-time state comes from: subscriptions and their backlogs, the dispatcher's
    /// lanes (in flight, circuits) and, with the embedded store, the journal's disk usage.
    public func watch(core: GatewayCore, journal: JournalStore?) {
        let store = core.store, board = core.deliveryStatus
        var sources = StateCollector.Sources(backlogs: { store.deliveryBacklogs() }, lanes: { board.allStatuses() })
        if let journal { sources.journalUsage = { journal.diskUsage } }
        state.watch(sources)
    }

    /// The Prometheus text exposition (format 0.0.4) of everything, state collected first.
    public func exposition() -> [UInt8] {
        scrape.withLock { _ in
            state.collect()
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            registry.emit(into: &buffer)
            return buffer
        }
    }
}
