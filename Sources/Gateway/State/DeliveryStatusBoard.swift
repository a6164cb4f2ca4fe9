import Synchronization

/// What the delivery side knows at run time and the journal does not: per subscription, how
/// many deliveries are on the wire and whether its circuit breaker is holding them. The
/// dispatcher posts here when that changes; the stats endpoint reads it.
public final class DeliveryStatusBoard: Sendable {
    public struct LaneStatus: Sendable, Equatable {
        public var inFlight: Int
        /// When the circuit breaker opened (microseconds), nil while it is closed.
        public var circuitOpenedAt: Int64?
        /// While the circuit is open: when the probe is next tried, nil while it is in flight.
        public var nextProbeAt: Int64?

        public init(inFlight: Int, circuitOpenedAt: Int64?, nextProbeAt: Int64?) {
            self.inFlight = inFlight
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
}
