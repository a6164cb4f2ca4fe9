#if canImport(Glibc)
import Glibc
#endif

/// Every limit and timeout of the server, each with a default suited to an internet-facing
/// ingest endpoint. Timeouts are enforced to within `timerResolution`.
public struct HTTPServerConfiguration: Sendable {
    /// Where to listen. Port 0 picks a free port; `HTTPServer.start()` reports it.
    public var address: SocketAddress
    /// Event-loop threads; each runs its own epoll loop and owns its connections.
    public var eventLoopCount: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    /// The kernel's queue of connections not yet accepted.
    public var backlog: Int32 = 1024
    /// Open client connections across all loops. Past this a new client gets `503` and is closed.
    public var maxConnections: Int = 10_000
    /// Request-target, header and body limits.
    public var limits = HTTPParserLimits()
    /// From the first byte of a request (or from accept) until its head is complete;
    /// then `408` and close. This is what stops slow-loris clients holding sockets.
    public var headerReadTimeout: Duration = .seconds(10)
    /// From the end of the head until the body is complete; then `408` and close.
    public var bodyReadTimeout: Duration = .seconds(30)
    /// How long a keep-alive connection may sit idle between requests before it is closed.
    public var keepAliveTimeout: Duration = .seconds(60)
    /// How long a response may make no progress (a client that stopped reading) before the
    /// connection is dropped.
    public var writeTimeout: Duration = .seconds(30)
    /// After a response that closes the connection, how long to keep draining what the client
    /// still sends, so an unread body does not turn the close into a reset that destroys the
    /// response before the client reads it.
    public var lingerTimeout: Duration = .seconds(2)
    /// Told about every response written (metrics); nil costs nothing per request.
    public var observer: (any HTTPServerObserver)?

    public init(address: SocketAddress) {
        self.address = address
    }

    /// How often deadlines are checked: a quarter of the shortest timeout, within 10 ms...1 s.
    var timerResolution: Duration {
        let shortest = [headerReadTimeout, bodyReadTimeout, keepAliveTimeout, writeTimeout, lingerTimeout].min()!
        return min(max(shortest / 4, .milliseconds(10)), .seconds(1))
    }
}

extension Duration {
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
