#if canImport(Glibc)
import Glibc
#endif
@testable import Delivery
import HTTPServer
import Logging
import TestSupport
import Synchronization
import Testing

/// A webhook receiver on our own HTTPServer, 127.0.0.1, port 0:
/// - `POST /hook`: 200 `ok`
/// - `POST /echo`: 200 with the request body, and its `x-tag` header as `x-tag`
/// - `POST /status/{code}`: that status; 429 and 503 carry `Retry-After: 120`
/// - `POST /big`: 200 with 5000 bytes (`0`…`9` repeated)
/// - `POST /slow`: 200, two seconds later, from another thread
/// - `POST /hold`: no answer until `answerHeld()` or `stop()`
/// Every request is recorded, in arrival order.
final class Receiver: Sendable {
    private final class Log: Sendable {
        let requests = Mutex<[HTTPRequest]>([])
        let held = Mutex<[PendingResponse]>([])
    }

    static let bigBody: [UInt8] = (0..<5000).map { UInt8(ascii: "0") + UInt8($0 % 10) }

    private let log = Log()
    private let server: HTTPServer
    let port: UInt16

    init() throws {
        let log = self.log
        var router = Router()
        router.post("/hook") { request, _ in
            log.requests.withLock { $0.append(request) }
            return .response(HTTPResponse(status: 200, body: Array("ok".utf8)))
        }
        router.post("/echo") { request, _ in
            log.requests.withLock { $0.append(request) }
            return .response(HTTPResponse(status: 200, headers: ["x-tag": request.headers["x-tag"] ?? ""], body: request.body))
        }
        router.post("/status/{code}") { request, _ in
            log.requests.withLock { $0.append(request) }
            let status = Int(request.pathParameters["code"] ?? "") ?? 500
            let headers: HTTPHeaders = status == 429 || status == 503 ? ["Retry-After": "120"] : [:]
            return .response(HTTPResponse(status: status, headers: headers, body: Array("status \(status)".utf8)))
        }
        router.post("/big") { request, _ in
            log.requests.withLock { $0.append(request) }
            return .response(HTTPResponse(status: 200, body: Receiver.bigBody))
        }
        router.post("/slow") { request, context in
            log.requests.withLock { $0.append(request) }
            let pending = context.makePending()
            afterDelay(.seconds(2)) { pending.complete(HTTPResponse(status: 200)) }
            return .pending(pending)
        }
        router.post("/hold") { request, context in
            let pending = context.makePending()
            // Held before it is recorded, so whoever sees the request can rely on the hold.
            log.held.withLock { $0.append(pending) }
            log.requests.withLock { $0.append(request) }
            return .pending(pending)
        }
        var configuration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
        configuration.eventLoopCount = 1
        server = HTTPServer(configuration: configuration, responder: router, logger: Logger(label: "test-receiver"))
        port = try server.start().port
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    var requests: [HTTPRequest] { log.requests.withLock { $0 } }
    var requestCount: Int { log.requests.withLock { $0.count } }

    /// Answers every held request with 200.
    func answerHeld() {
        for pending in log.held.withLock({ $0 }) { pending.complete(HTTPResponse(status: 200)) }
    }

    /// Answers held requests, then stops the server.
    func stop() {
        answerHeld()
        server.shutdown(gracePeriod: .milliseconds(200))
        server.wait()
    }
}

/// Gathers the engine's results as they arrive, on the engine thread.
final class ResultCollector: Sendable {
    private let results = Mutex<[DeliveryResult]>([])

    func add(_ batch: [DeliveryResult]) {
        results.withLock { $0.append(contentsOf: batch) }
    }

    var all: [DeliveryResult] { results.withLock { $0 } }

    /// Waits until `count` results have arrived (or `timeout` passes) and returns them.
    func wait(for count: Int, timeout: Duration = .seconds(5)) async -> [DeliveryResult] {
        _ = await eventually(timeout: timeout) { all.count >= count }
        return all
    }
}
