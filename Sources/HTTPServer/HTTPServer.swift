#if canImport(Glibc)
import Runtime
import Glibc
#endif
import Logging
import Synchronization

/// An HTTP/1.1 server on POSIX sockets: `eventLoopCount` threads, each with its own epoll
/// loop and its own `SO_REUSEPORT` listening socket, so the kernel spreads new connections
/// across loops and no loop wakes for another's accept.
public final class HTTPServer: Sendable {
    private struct Running: @unchecked Sendable {
        var loops: [EventLoop]
        var threads: [pthread_t]
        var listenFDs: [Int32]
        var address: SocketAddress
    }

    private let shared: ServerShared
    private let running = Mutex<Running?>(nil)

    public init(configuration: HTTPServerConfiguration, responder: some HTTPResponder, logger: Logger) {
        shared = ServerShared(configuration: configuration, responder: responder, logger: logger)
    }

    /// The bound address, with the real port when port 0 was asked for.
    public var localAddress: SocketAddress? {
        running.withLock { $0?.address }
    }

    /// Binds and starts the loops; returns the address actually bound.
    @discardableResult
    public func start() throws(SystemError) -> SocketAddress {
        // A peer that resets while we write must produce EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        let configuration = shared.configuration
        var listenFDs: [Int32] = []
        var loops: [EventLoop] = []
        do {
            var address = configuration.address
            if address.port != 0 { try Socket.checkAvailable(address) }
            for _ in 0..<max(1, configuration.eventLoopCount) {
                let fd = try Socket.listen(on: address, backlog: configuration.backlog, reusePort: true)
                listenFDs.append(fd)
                // Port 0: every later socket joins the port the first one was given.
                address = try Socket.localAddress(of: fd)
                loops.append(try EventLoop(shared: shared, listenFD: fd))
            }
            var threads: [pthread_t] = []
            for (index, loop) in loops.enumerated() {
                threads.append(try spawnThread(name: "http-loop-\(index)") { loop.run() })
            }
            running.withLock { $0 = Running(loops: loops, threads: threads, listenFDs: listenFDs, address: address) }
            shared.logger.info("listening", metadata: ["address": "\(address)", "event-loops": "\(loops.count)"])
            return address
        } catch {
            listenFDs.forEach { close($0) }
            throw error
        }
    }

    /// Begins a graceful shutdown and returns at once: loops stop accepting, close idle
    /// connections, let in-flight requests finish (each answered with `Connection: close`),
    /// and close whatever is left when `gracePeriod` ends. `wait()` returns when all is done.
    public func shutdown(gracePeriod: Duration = .seconds(10)) {
        let deadline = monotonicNanoseconds() + gracePeriod.nanoseconds
        let loops = running.withLock { $0?.loops ?? [] }
        for loop in loops { loop.enqueue(.shutdown(deadline: deadline)) }
    }

    /// Blocks until every loop has stopped, then releases the listening sockets.
    public func wait() {
        guard let state = running.withLock({ $0 }) else { return }
        for thread in state.threads { pthread_join(thread, nil) }
        running.withLock { current in
            guard current != nil else { return }
            current!.listenFDs.forEach { close($0) }
            current = nil
        }
    }

    /// Connections currently open across all loops.
    public var openConnectionCount: Int { shared.openConnections.load(ordering: .relaxed) }
}
