import Logging
import Runtime
import TargetPolicy

/// The gateway's operations — ingest, event types, sources, subscriptions, dead letters —
/// over whichever store runs (`GatewayStore`). The HTTP API (Sources/Gateway/API) maps
/// requests to these and responses from their outcomes; it never touches storage itself.
public final class GatewayCore: Sendable {
    public struct Configuration: Sendable {
        /// Refuse events whose type is not registered (422) instead of accepting them.
        public var requireEventTypes = false
        /// Most events in one `POST /v1/events/batch`.
        public var maxBatchEvents = 500
        /// After `rotate-secret`, how long the previous secret keeps signing too.
        public var secretRotationOverlap: Duration = .seconds(24 * 3600)
        /// Where subscriptions may point (SSRF, DESIGN invariant 7). The default refuses
        /// loopback, private, link-local and other non-public addresses.
        public var targetPolicy = TargetAddressPolicy()
        /// Threads that resolve subscription hosts for the target policy (DNS blocks, so
        /// never on an event loop), and how many checks may wait for them; past that a
        /// subscription change answers 503 at once.
        public var targetCheckThreads = 2
        public var targetCheckQueue = 64
        /// Told of every event stored and every ingest request refused (metrics).
        public var ingestObserver: (any IngestObserver)?
        /// The quotas of a tenant the admin set none for.
        public var tenantDefaults = TenantDefaults()
        /// Told what became of each provider webhook (metrics).
        public var inboundObserver: (any InboundObserver)?

        public init() {}
    }

    public let configuration: Configuration
    public let store: any GatewayStore
    /// Run-time delivery status (in flight, circuit breaker), posted by the dispatcher.
    public let deliveryStatus = DeliveryStatusBoard()
    /// What `/readyz` checks: the store here; the delivery engine adds itself when it starts.
    public let readiness = Readiness()
    /// Each source's `/in/{source}` outcomes since start.
    public let inboundStatistics = InboundStatistics()
    let eventIDs = EventIDGenerator()
    let subscriptionIDs = EventIDGenerator(prefix: "sub_")
    let replayIDs = EventIDGenerator(prefix: "rpl_")
    let tenantIDs = EventIDGenerator(prefix: "ten_")
    let tenantTokenIDs = EventIDGenerator(prefix: "tok_")
    /// Works through replays in the background.
    let replayer: Replayer
    /// Runs the target policy's DNS lookups (see `Configuration.targetCheckThreads`).
    let targetChecks: WorkerPool

    public init(configuration: Configuration, store: any GatewayStore,
                logger: Logger = Logger(label: "gateway") { _ in SwiftLogNoOpLogHandler() }) throws(SystemError) {
        self.configuration = configuration
        self.store = store
        targetChecks = try WorkerPool(
            name: "url-check", threads: configuration.targetCheckThreads, capacity: configuration.targetCheckQueue)
        replayer = Replayer(store: store, logger: logger)
        try replayer.start()
        readiness.register(store.readinessCheck) { [store] in store.unavailableReason }
    }

    /// Stops the URL checks and replays, then the store (which finishes what is queued).
    public func close() {
        targetChecks.shutdown()
        replayer.stop()
        store.close()
    }
}
