/// Told about every response the server writes, for metrics. Called on the event-loop thread
/// that wrote the response, once per response: it must be quick and must not block (count,
/// observe a histogram), since the loop's other connections wait meanwhile.
public protocol HTTPServerObserver: Sendable {
    /// `route` is the index in `Router.routes` of the route that answered, nil when none did:
    /// no route matched the path (404) or the method (405), or the request was refused before
    /// routing (malformed, too large, too slow). `nanoseconds` runs from when the request's
    /// first bytes were read to when its response was handed to the socket buffer.
    func responded(route: Int?, status: Int, nanoseconds: UInt64)
}
