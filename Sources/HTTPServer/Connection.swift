#if canImport(Glibc)
import Glibc
#endif

/// One client connection, owned by exactly one event loop and touched only on its thread.
final class Connection {
    enum State {
        /// Parsing requests and answering those that answer at once.
        case reading
        /// A handler returned `.pending`; nothing more is parsed until it completes, which
        /// keeps responses in request order without a reorder queue.
        case awaiting
        /// The last response is sent and the write side shut; draining until the client
        /// closes or `lingerTimeout` passes.
        case lingering(deadline: UInt64)
    }

    let fd: Int32
    /// fd and generation packed together; epoll events and completions carry it, so one
    /// meant for an earlier connection on a reused fd is recognised and dropped.
    let token: UInt64
    var parser: HTTPRequestParser
    var state = State.reading

    /// Response bytes not yet written, from `outputOffset`.
    var output: [UInt8] = []
    var outputOffset = 0
    /// Set once the response being written is the last on this connection.
    var closeAfterResponse = false
    /// The client shut its write side (read returned 0).
    var peerClosed = false
    /// The epoll events currently registered.
    var interest: UInt32

    /// The client's address, as `accept` gave it.
    var peer: sockaddr_storage?

    var requestSerial: UInt64 = 0
    var respondingToHead = false
    /// An HTTP/1.0 client asked for keep-alive on the request being answered.
    var keepAliveHTTP10 = false
    var requestsServed = 0
    /// The router's index of the route answering the current request (see `HTTPServerObserver`).
    var route: Int?
    /// The current request's `X-Request-Id`, and what its log line names.
    var requestID: RequestID?
    var requestMethod: HTTPMethod?
    /// The request target as received; its path is cut out only when a log line is written.
    var requestTarget = ""

    let acceptedAt: UInt64
    /// When the head of the current request began arriving (or the previous response was sent).
    var requestStartedAt: UInt64
    /// When the body of the current request began, 0 while no body is being read.
    var bodyStartedAt: UInt64 = 0
    /// When the connection last became idle between requests.
    var idleSince: UInt64
    /// When bytes last went out while output was pending.
    var lastWriteProgress: UInt64

    init(fd: Int32, token: UInt64, limits: HTTPParserLimits, now: UInt64, interest: UInt32) {
        self.fd = fd
        self.token = token
        self.parser = HTTPRequestParser(limits: limits)
        self.interest = interest
        self.acceptedAt = now
        self.requestStartedAt = now
        self.idleSince = now
        self.lastWriteProgress = now
    }

    var hasPendingOutput: Bool { outputOffset < output.count }

    var isAwaiting: Bool {
        if case .awaiting = state { return true }
        return false
    }

    var isLingering: Bool {
        if case .lingering = state { return true }
        return false
    }

    /// Idle: between requests, nothing buffered, nothing to send. Safe to close at shutdown.
    var isIdle: Bool {
        if case .reading = state { return parser.isBetweenRequests && !hasPendingOutput }
        return false
    }
}
