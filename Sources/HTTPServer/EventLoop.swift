#if canImport(Glibc)
import Runtime
import Glibc
#endif
import CPlatform
import Logging
import Synchronization

/// State every loop of one server shares.
final class ServerShared: Sendable {
    let configuration: HTTPServerConfiguration
    let responder: any HTTPResponder
    let logger: Logger
    let openConnections = Atomic<Int>(0)

    init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
    }
}

/// Work handed to a loop from other threads.
enum LoopMessage: Sendable {
    case response(connectionToken: UInt64, requestSerial: UInt64, HTTPResponse)
    case shutdown(deadline: UInt64)
}

/// One thread, one level-triggered epoll set, the connections it accepted, and an eventfd
/// through which other threads hand it work. Everything but `enqueue` runs on the loop's
/// own thread, which is why the unchecked `Sendable` is sound.
final class EventLoop: @unchecked Sendable {
    private static let listenerToken: UInt64 = .max - 1
    private static let wakeToken: UInt64 = .max

    private let shared: ServerShared
    private let configuration: HTTPServerConfiguration
    private let epollFD: Int32
    private let wakeFD: Int32
    private let listenFD: Int32
    private let mailbox = Mutex<[LoopMessage]>([])

    private var connections: [Int32: Connection] = [:]
    private var generation: UInt32 = 0
    private var now: UInt64 = monotonicNanoseconds()
    private var date = DateHeaderCache()
    private var nextSweep: UInt64 = 0
    private var listening = true
    private var acceptPausedUntil: UInt64 = 0
    private var stopping = false
    private var shutdownDeadline: UInt64 = .max
    private var drainScratch = [UInt8](repeating: 0, count: 16 * 1024)
    /// Set by the router (through `RequestContext.noteRoute`) while it answers a request.
    var matchedRoute: Int?
    private var requestIDs = RequestID.Generator()
    /// The prefix of the ids this loop makes; immutable, so handlers on other threads may
    /// read it (`RequestContext.requestID`).
    let requestIDPrefix: RequestID.Generator.Prefix
    /// The logger's level, read once: checked for every response.
    private lazy var logLevel = shared.logger.logLevel

    private var logger: Logger { shared.logger }

    init(shared: ServerShared, listenFD: Int32) throws(SystemError) {
        self.shared = shared
        self.configuration = shared.configuration
        requestIDPrefix = requestIDs.prefix
        self.listenFD = listenFD
        epollFD = try syscallValue("epoll_create1") { csystem_epoll_create() }
        do {
            wakeFD = try syscallValue("eventfd") { csystem_eventfd() }
        } catch {
            close(epollFD)
            throw error
        }
        try control(CSYSTEM_EPOLL_CTL_ADD, wakeFD, CSYSTEM_EPOLLIN, Self.wakeToken)
        try control(CSYSTEM_EPOLL_CTL_ADD, listenFD, CSYSTEM_EPOLLIN, Self.listenerToken)
    }

    deinit {
        // The wake fd lives as long as the loop object so a late `enqueue` (a handler
        // completing after shutdown) never writes to a closed or reused descriptor.
        close(wakeFD)
        close(epollFD)
    }

    /// Hands a message to the loop from any thread. Only the message that finds the mailbox
    /// empty writes the eventfd: one wake-up carries every completion that piles up before
    /// the loop gets to it.
    func enqueue(_ message: LoopMessage) {
        let wasEmpty = mailbox.withLock { box in
            box.append(message)
            return box.count == 1
        }
        if wasEmpty { _ = csystem_eventfd_signal(wakeFD) }
    }

    // MARK: - The loop

    func run() {
        var events = [csystem_epoll_event](repeating: csystem_epoll_event(), count: 256)
        let resolution = configuration.timerResolution.nanoseconds
        date.refresh()
        nextSweep = monotonicNanoseconds() + resolution
        while !(stopping && connections.isEmpty) {
            let wait = Int32(clamping: (nextSweep &- min(nextSweep, monotonicNanoseconds())) / 1_000_000 + 1)
            let count = events.withUnsafeMutableBufferPointer { csystem_epoll_wait(epollFD, $0.baseAddress, Int32($0.count), wait) }
            if count < 0 && errno != EINTR {
                logger.critical("epoll_wait failed", metadata: ["errno": "\(errno)"])
                break
            }
            now = monotonicNanoseconds()
            date.refresh()
            for index in 0..<max(0, Int(count)) {
                let event = events[index]
                switch event.data {
                case Self.wakeToken: drainMailbox()
                case Self.listenerToken: acceptConnections()
                default: handle(event)
                }
            }
            if now >= nextSweep {
                sweep()
                nextSweep = now + resolution
            }
        }
        for connection in connections.values { closeConnection(connection) }
        if listening { try? control(CSYSTEM_EPOLL_CTL_DEL, listenFD, 0, 0) }
    }

    private func handle(_ event: csystem_epoll_event) {
        let fd = Int32(truncatingIfNeeded: event.data & 0xFFFF_FFFF)
        guard let connection = connections[fd], connection.token == event.data else { return }
        if event.events & (CSYSTEM_EPOLLHUP | CSYSTEM_EPOLLERR) != 0 {
            // Both directions are gone (a reset, or the client's FIN after our own shutdown):
            // nothing can be written any more, and these events cannot be masked, so waiting
            // for a pending response here would spin.
            closeConnection(connection)
            return
        }
        if event.events & CSYSTEM_EPOLLIN != 0 {
            onReadable(connection)
        }
        if connections[fd] === connection, event.events & CSYSTEM_EPOLLOUT != 0 {
            flush(connection)
        }
    }

    // MARK: - Accepting

    private func acceptConnections() {
        for _ in 0..<64 {
            let fd: Int32
            let peer: sockaddr_storage
            do {
                guard let accepted = try Socket.accept(listenFD) else { return }
                (fd, peer) = accepted
            } catch {
                if error.errno == ECONNABORTED || error.errno == EPROTO { continue }
                // Out of descriptors (EMFILE/ENFILE) or memory: a level-triggered listener
                // would spin, so stop watching it briefly and let the sweep resume it.
                logger.error("accept failed; pausing accepts for 100 ms", metadata: ["error": "\(error)"])
                pauseAccepting(until: now + 100_000_000)
                return
            }
            let open = shared.openConnections.add(1, ordering: .relaxed).newValue
            if open > configuration.maxConnections {
                shared.openConnections.subtract(1, ordering: .relaxed)
                refuseOverCapacity(fd)
                continue
            }
            try? Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            generation &+= 1
            let token = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
            let connection = Connection(
                fd: fd, token: token, limits: configuration.limits, now: now, interest: CSYSTEM_EPOLLIN)
            connection.peer = peer
            do {
                try control(CSYSTEM_EPOLL_CTL_ADD, fd, CSYSTEM_EPOLLIN, token)
            } catch {
                logger.error("could not watch a new connection", metadata: ["error": "\(error)"])
                close(fd)
                shared.openConnections.subtract(1, ordering: .relaxed)
                continue
            }
            connections[fd] = connection
        }
    }

    /// Over `maxConnections`: a best-effort `503` so the client learns why, then close.
    private func refuseOverCapacity(_ fd: Int32) {
        var output: [UInt8] = []
        let response = HTTPResponse.problem(
            status: 503, detail: "The server is at its limit of \(configuration.maxConnections) connections; retry shortly.",
            headers: ["Retry-After": "1"])
        ResponseEncoder.encode(
            response, into: &output, date: date.line, requestID: (requestIDs.next(), requestIDPrefix),
            closing: true, keepAliveHTTP10: false, headRequest: false)
        _ = output.withUnsafeBytes { try? Socket.send(fd, $0) }
        close(fd)
    }

    private func pauseAccepting(until deadline: UInt64) {
        guard listening else { return }
        try? control(CSYSTEM_EPOLL_CTL_DEL, listenFD, 0, 0)
        listening = false
        acceptPausedUntil = deadline
    }

    // MARK: - Reading and dispatching

    private func onReadable(_ connection: Connection) {
        if connection.isLingering {
            drainWhileLingering(connection)
            return
        }
        let wasBetweenRequests = connection.parser.isBetweenRequests
        // Read until the socket is empty, but stop early while a response is pending and a
        // pipelining client has already sent plenty: memory stays bounded per connection.
        while !connection.peerClosed {
            if connection.isAwaiting && connection.parser.bufferedByteCount >= Self.pipelineBufferLimit { break }
            let result: IOResult<Int>
            do {
                var outcome = IOResult<Int>.wouldBlock
                _ = try connection.parser.writableTail(minimumCapacity: 4096) { (tail) throws(SystemError) -> Int in
                    outcome = try Socket.read(connection.fd, into: tail)
                    if case .done(let count) = outcome { return count }
                    return 0
                }
                result = outcome
            } catch {
                // ECONNRESET and friends: the client is gone, and so is anything owed to it.
                closeConnection(connection)
                return
            }
            guard case .done(let count) = result else { break }
            if count == 0 {
                connection.peerClosed = true
                break
            }
            if count < 4096 { break }
        }
        if wasBetweenRequests && !connection.parser.isBetweenRequests {
            connection.requestStartedAt = now
        }
        process(connection)
        if connection.peerClosed, case .reading = connection.state {
            // Whatever is left can never become a request. Finish writing what is owed.
            connection.closeAfterResponse = true
            if !connection.hasPendingOutput {
                closeConnection(connection)
                return
            }
        }
        flush(connection)
    }

    /// Parses and answers buffered requests until one is pending or more bytes are needed.
    private func process(_ connection: Connection) {
        while case .reading = connection.state, !connection.closeAfterResponse {
            let event: HTTPParserEvent
            do {
                event = try connection.parser.next()
            } catch {
                respondWithError(connection, status: error.status, detail: error.detail)
                return
            }
            switch event {
            case .needMore:
                if connection.parser.isReadingBody && connection.bodyStartedAt == 0 {
                    connection.bodyStartedAt = now
                }
                return
            case .expectContinue:
                connection.output.append(contentsOf: ResponseEncoder.continueResponse)
                connection.bodyStartedAt = now
            case .request(let request):
                dispatch(request, on: connection)
            }
        }
    }

    private func dispatch(_ request: HTTPRequest, on connection: Connection) {
        connection.requestSerial &+= 1
        connection.requestsServed += 1
        connection.bodyStartedAt = 0
        connection.respondingToHead = request.method == .head
        connection.closeAfterResponse = stopping || !request.wantsKeepAlive
        let keepAliveHTTP10 = request.version == .http1_0 && !connection.closeAfterResponse
        let requestID = RequestID.accepted(request.headers[RequestID.header]) ?? requestIDs.next()
        connection.requestID = requestID
        connection.requestMethod = request.method
        connection.requestTarget = request.target
        let context = RequestContext(
            loop: self, connectionToken: connection.token, requestSerial: connection.requestSerial,
            id: requestID)
        matchedRoute = nil
        let reply = shared.responder.respond(to: request, context: context)
        connection.route = matchedRoute
        switch reply {
        case .response(let response):
            write(response, to: connection, keepAliveHTTP10: keepAliveHTTP10)
        case .pending:
            connection.state = .awaiting
            connection.keepAliveHTTP10 = keepAliveHTTP10
        }
    }

    private func write(_ response: HTTPResponse, to connection: Connection, keepAliveHTTP10: Bool) {
        let logged = response.status >= 500 ? Logger.Level.warning : .debug
        if configuration.observer != nil || logLevel <= logged {
            // A clock read of its own: `now` is when the loop woke, before this request was handled.
            let nanoseconds = monotonicNanoseconds() &- connection.requestStartedAt
            configuration.observer?.responded(route: connection.route, status: response.status, nanoseconds: nanoseconds)
            if logLevel <= logged { log(response.status, of: connection, after: nanoseconds, at: logged) }
        }
        if stopping { connection.closeAfterResponse = true }
        ResponseEncoder.encode(
            response, into: &connection.output, date: date.line, requestID: connection.requestID.map { ($0, requestIDPrefix) },
            closing: connection.closeAfterResponse,
            keepAliveHTTP10: keepAliveHTTP10 && !connection.closeAfterResponse, headRequest: connection.respondingToHead)
        connection.state = .reading
        connection.idleSince = now
        connection.requestStartedAt = now
    }

    /// One line per request: at debug (an access log, with `--log-level debug`), and at
    /// warning for a 5xx. The path, never the query or a header: no credential reaches it.
    private func log(_ status: Int, of connection: Connection, after nanoseconds: UInt64, at level: Logger.Level) {
        logger.log(level: level, status >= 500 ? "request failed" : "request", metadata: [
            "request-id": "\(connection.requestID?.text(prefix: requestIDPrefix) ?? "-")",
            "method": "\(connection.requestMethod?.rawValue ?? "-")",
            "path": "\(connection.requestMethod == nil ? "-" : connection.requestTarget.prefix { $0 != "?" })",
            "status": "\(status)",
            "duration-ms": "\(Double(nanoseconds / 1000) / 1000)",
        ])
    }

    /// Answers a request that cannot be served (framing error, timeout) and closes after it.
    private func respondWithError(_ connection: Connection, status: Int, detail: String) {
        connection.closeAfterResponse = true
        connection.respondingToHead = false
        connection.route = nil
        // No request was parsed (or it is not the one being answered): a fresh id, no path.
        connection.requestID = requestIDs.next()
        connection.requestMethod = nil
        write(.problem(status: status, detail: detail), to: connection, keepAliveHTTP10: false)
    }

    // MARK: - Writing

    private func flush(_ connection: Connection) {
        while connection.hasPendingOutput {
            let offset = connection.outputOffset
            let result: IOResult<Int>
            do {
                result = try connection.output.withUnsafeBytes { (all) throws(SystemError) -> IOResult<Int> in
                    try Socket.send(connection.fd, UnsafeRawBufferPointer(rebasing: all[offset...]))
                }
            } catch {
                closeConnection(connection)
                return
            }
            guard case .done(let sent) = result else { break }
            connection.outputOffset += sent
            connection.lastWriteProgress = now
        }
        if !connection.hasPendingOutput {
            if connection.output.capacity > 256 * 1024 {
                connection.output = []
            } else {
                connection.output.removeAll(keepingCapacity: true)
            }
            connection.outputOffset = 0
            if connection.closeAfterResponse, case .reading = connection.state {
                startLingering(connection)
                return
            }
        }
        updateInterest(connection)
    }

    /// Registers for reads unless parked, and for writes while output is pending.
    private func updateInterest(_ connection: Connection) {
        var wanted: UInt32 = 0
        if !connection.peerClosed {
            let parked = connection.isAwaiting && connection.parser.bufferedByteCount >= Self.pipelineBufferLimit
            if !parked { wanted |= CSYSTEM_EPOLLIN }
        }
        if connection.hasPendingOutput { wanted |= CSYSTEM_EPOLLOUT }
        guard wanted != connection.interest else { return }
        connection.interest = wanted
        do {
            try control(CSYSTEM_EPOLL_CTL_MOD, connection.fd, wanted, connection.token)
        } catch {
            closeConnection(connection)
        }
    }

    // MARK: - Closing

    /// Half-closes and drains (RFC 9112 §9.6): closing with unread input makes the kernel
    /// send a reset, which can destroy the response before the client has read it.
    private func startLingering(_ connection: Connection) {
        if connection.peerClosed {
            closeConnection(connection)
            return
        }
        shutdown(connection.fd, Int32(SHUT_WR))
        connection.state = .lingering(deadline: now + configuration.lingerTimeout.nanoseconds)
        updateInterest(connection)
    }

    private func drainWhileLingering(_ connection: Connection) {
        for _ in 0..<4 {
            let result = drainScratch.withUnsafeMutableBytes { try? Socket.read(connection.fd, into: $0) }
            switch result {
            case .done(let count)? where count > 0: continue
            case .wouldBlock?: return
            default:
                closeConnection(connection)
                return
            }
        }
    }

    private func closeConnection(_ connection: Connection) {
        guard connections[connection.fd] === connection else { return }
        connections[connection.fd] = nil
        close(connection.fd)
        shared.openConnections.subtract(1, ordering: .relaxed)
    }

    // MARK: - Messages from other threads

    private func drainMailbox() {
        _ = csystem_eventfd_drain(wakeFD)
        let messages = mailbox.withLock { box in
            let taken = box
            box.removeAll(keepingCapacity: true)
            return taken
        }
        for message in messages {
            switch message {
            case .response(let token, let serial, let response):
                complete(token: token, serial: serial, response)
            case .shutdown(let deadline):
                beginShutdown(deadline: deadline)
            }
        }
    }

    /// The client address of the connection with `token` (for `RequestContext.peer`, on
    /// this loop's thread).
    func peer(ofConnection token: UInt64) -> SocketAddress? {
        guard let connection = connections[Int32(truncatingIfNeeded: token & 0xFFFF_FFFF)], connection.token == token,
              let peer = connection.peer else { return nil }
        return SocketAddress(peer)
    }

    private func complete(token: UInt64, serial: UInt64, _ response: HTTPResponse) {
        let fd = Int32(truncatingIfNeeded: token & 0xFFFF_FFFF)
        guard let connection = connections[fd], connection.token == token,
              connection.isAwaiting, connection.requestSerial == serial else { return }
        if connection.peerClosed { connection.closeAfterResponse = true }
        write(response, to: connection, keepAliveHTTP10: connection.keepAliveHTTP10)
        // Requests the client pipelined behind this one are already buffered.
        process(connection)
        flush(connection)
    }

    private func beginShutdown(deadline: UInt64) {
        stopping = true
        shutdownDeadline = deadline
        if listening {
            try? control(CSYSTEM_EPOLL_CTL_DEL, listenFD, 0, 0)
            listening = false
        }
        for connection in Array(connections.values) where connection.isIdle {
            closeConnection(connection)
        }
    }

    // MARK: - Deadlines

    /// Checks every connection's deadline. Runs every `timerResolution`, which keeps the
    /// per-request path free of timer bookkeeping.
    private func sweep() {
        if !listening && !stopping && now >= acceptPausedUntil {
            if (try? control(CSYSTEM_EPOLL_CTL_ADD, listenFD, CSYSTEM_EPOLLIN, Self.listenerToken)) != nil {
                listening = true
            }
        }
        let configuration = self.configuration
        for connection in Array(connections.values) {
            if stopping && now >= shutdownDeadline {
                closeConnection(connection)
                continue
            }
            switch connection.state {
            case .lingering(let deadline):
                if now >= deadline { closeConnection(connection) }
                continue
            case .awaiting:
                continue
            case .reading:
                break
            }
            if connection.hasPendingOutput {
                if now - connection.lastWriteProgress > configuration.writeTimeout.nanoseconds {
                    logger.debug("closing a connection whose client stopped reading")
                    closeConnection(connection)
                }
                continue
            }
            if connection.parser.isBetweenRequests {
                let (since, limit) = connection.requestsServed == 0
                    ? (connection.acceptedAt, configuration.headerReadTimeout)
                    : (connection.idleSince, configuration.keepAliveTimeout)
                if stopping || now - since > limit.nanoseconds { closeConnection(connection) }
            } else if connection.bodyStartedAt != 0 {
                if now - connection.bodyStartedAt > configuration.bodyReadTimeout.nanoseconds {
                    respondWithError(connection, status: 408, detail: "The request body did not arrive within \(configuration.bodyReadTimeout).")
                    flush(connection)
                }
            } else if now - connection.requestStartedAt > configuration.headerReadTimeout.nanoseconds {
                respondWithError(connection, status: 408, detail: "The request head did not arrive within \(configuration.headerReadTimeout).")
                flush(connection)
            }
        }
    }

    // MARK: - Helpers

    /// Bytes a pipelining client may queue behind a pending response before reads pause.
    private static let pipelineBufferLimit = 64 * 1024

    private func control(_ op: Int32, _ fd: Int32, _ events: UInt32, _ token: UInt64) throws(SystemError) {
        _ = try syscallValue("epoll_ctl") { csystem_epoll_ctl(epollFD, op, fd, events, token) }
    }
}
