import Synchronization

/// What the delivery side knows at run time and the journal does not: per subscription, how
/// many deliveries are on the wire and whether its circuit breaker is holding them. The
/// dispatcher posts here when that changes; the stats endpoint reads it.
public final class DeliveryStatusBoard: Sendable {
    /// A subscription's circuit breaker. After enough failures in a row it opens: the queue
    /// is held and a single delivery, the probe, is retried on its schedule. While the probe
    /// is on the wire it is half-open; a success closes it, a failure opens it again.
    public enum CircuitState: String, Sendable, CaseIterable {
        case closed
        case open
        case halfOpen = "half-open"
    }

    public struct LaneStatus: Sendable, Equatable {
        public var inFlight: Int
        public var circuit: CircuitState
        /// When the circuit breaker opened (microseconds), nil while it is closed.
        public var circuitOpenedAt: Int64?
        /// While the circuit is open: when the probe is next tried; nil while it is closed or
        /// half-open, and while no probe is chosen yet (the next delivery due becomes it).
        public var nextProbeAt: Int64?

        public init(inFlight: Int, circuit: CircuitState, circuitOpenedAt: Int64?, nextProbeAt: Int64?) {
            self.inFlight = inFlight
            self.circuit = circuit
            self.circuitOpenedAt = circuitOpenedAt
            self.nextProbeAt = nextProbeAt
        }
    }

    private let lanes = Mutex<[String: LaneStatus]>([:])

    public init() {}

    public func post(_ status: LaneStatus?, for subscriptionID: String) {
        lanes.withLock { $0[subscriptionID] = status }
    }

    public func status(of subscriptionID: String) -> LaneStatus? {
        lanes.withLock { $0[subscriptionID] }
    }

    /// Every lane's status, for a metrics scrape.
    public func allStatuses() -> [String: LaneStatus] {
        lanes.withLock { $0 }
    }
}
