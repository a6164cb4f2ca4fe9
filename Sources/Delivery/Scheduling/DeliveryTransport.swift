/// What the dispatcher needs of a transport: take requests, report results (through the
/// callback it was made with), stop. `CurlMultiEngine` is the real one.
public protocol DeliveryTransport: AnyObject, Sendable {
    /// Queues requests; false once the transport is shutting down.
    func submit(_ requests: [DeliveryRequest]) -> Bool
    /// Stops: transfers in flight are abandoned.
    func stop()
}

extension CurlMultiEngine: DeliveryTransport {
    public func stop() { shutdown() }
}
