import Synchronization

/// What a handler gives back: a response now, or a promise that another thread keeps.
public enum Reply: Sendable {
    case response(HTTPResponse)
    /// The handler kept `PendingResponse` and will call `complete` later, from any thread.
    case pending(PendingResponse)
}

/// Answers requests. Called on an event-loop thread, so it must not block: anything slow
/// (an fsync, a network call) returns `.pending` and completes the response later.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext) -> Reply
}

/// Where a request came from, and the way to answer it later.
public struct RequestContext: Sendable {
    let loop: EventLoop
    let connectionToken: UInt64
    let requestSerial: UInt64
    let id: RequestID

    /// The request's `X-Request-Id` (the client's, or one made for it), also in its log line.
    public var requestID: String { id.text(prefix: loop.requestIDPrefix) }

    /// The client's address (the TCP peer: behind a proxy, the proxy's). Read it in the
    /// handler, on the loop's thread; nil once the connection is gone.
    public var peer: SocketAddress? { loop.peer(ofConnection: connectionToken) }

    /// The router tells the loop which route answers, for `HTTPServerObserver`. Only ever
    /// called by `Router.respond`, which runs on the loop's thread.
    func noteRoute(_ index: Int) {
        loop.matchedRoute = index
    }

    /// Creates the promise for this request's response. Return it as `.pending(...)`.
    public func makePending() -> PendingResponse {
        PendingResponse(loop: loop, connectionToken: connectionToken, requestSerial: requestSerial)
    }
}

/// A response a handler will finish later. `complete` may be called from any thread, once;
/// completions are handed to the event loop in batches, with one wake-up for many.
public final class PendingResponse: Sendable {
    private let loop: EventLoop
    private let connectionToken: UInt64
    private let requestSerial: UInt64
    private let completed = Atomic<Bool>(false)

    init(loop: EventLoop, connectionToken: UInt64, requestSerial: UInt64) {
        self.loop = loop
        self.connectionToken = connectionToken
        self.requestSerial = requestSerial
    }

    /// Sends `response`. Later calls are ignored; if the client has gone, so is this one.
    public func complete(_ response: HTTPResponse) {
        guard !completed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        loop.enqueue(.response(connectionToken: connectionToken, requestSerial: requestSerial, response))
    }
}
