import Gateway
import HTTPServer
import Runtime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Answers every request, whatever its path or method: verifies it, prints its report, and
/// answers as the policy says. Runs on the event loop, so nothing here waits: a `--delay`
/// answer is a pending response completed by a sleeping task, and the loop goes on
/// accepting and answering other requests meanwhile.
final class ListenResponder: HTTPResponder {
    /// Distinct webhook-ids remembered for "delivery N of this id"; past it the memory starts
    /// over, so a long run stays small.
    static let rememberedIDs = 100_000

    private let settings: ListenSettings
    private let policy: ListenAnswerPolicy
    private let verifier: WebhookVerifier?
    private let output: ListenOutput
    private let style: ListenReport.Style
    private let received = Atomic<Int>(0)
    private let sightings = Mutex<[String: (count: Int, lastAt: Int64)]>([:])

    init(settings: ListenSettings, output: ListenOutput, style: ListenReport.Style) {
        self.settings = settings
        policy = ListenAnswerPolicy(settings.answers)
        verifier = settings.secrets.isEmpty ? nil : WebhookVerifier(secrets: settings.secrets, tolerance: settings.tolerance)
        self.output = output
        self.style = style
    }

    /// Requests received so far.
    var count: Int { received.load(ordering: .relaxed) }

    func respond(to request: HTTPRequest, context: RequestContext) -> Reply {
        let number = received.add(1, ordering: .relaxed).newValue
        let now = wallClockMicroseconds()
        let answer = policy.answer(toRequest: number)
        let report = ReceivedRequest(
            number: number, receivedAt: now, method: request.method.rawValue, target: request.target,
            headers: request.headers, body: request.body,
            verification: .init(checking: request.headers, body: request.body, with: verifier, now: Int(now / 1_000_000)),
            sighting: sighting(of: request.headers["webhook-id"] ?? request.headers["svix-id"], at: now),
            answer: answer, failRate: settings.answers.failRate)
        output.write(settings.json ? ListenReport.jsonLine(report) : Array(ListenReport.text(report, style: style).utf8))

        let response = Self.response(answer)
        guard let delay = answer.delay else { return .response(response) }
        let pending = context.makePending()
        Task.detached {
            try? await Task.sleep(for: delay)
            pending.complete(response)
        }
        return .pending(pending)
    }

    private func sighting(of id: String?, at now: Int64) -> ReceivedRequest.Sighting? {
        guard let id, !id.isEmpty else { return nil }
        return sightings.withLock { seen in
            if seen.count >= Self.rememberedIDs, seen[id] == nil { seen.removeAll(keepingCapacity: true) }
            let previous = seen[id]
            seen[id] = ((previous?.count ?? 0) + 1, now)
            return ReceivedRequest.Sighting(count: (previous?.count ?? 0) + 1,
                                            microsecondsSincePrevious: previous.map { now - $0.lastAt })
        }
    }

    /// A success has no body; a failure is a problem document that says it was asked for,
    /// so whoever reads the gateway's attempt log knows the receiver failed on purpose.
    static func response(_ answer: ListenAnswerPolicy.Answer) -> HTTPResponse {
        guard answer.reason != .success else { return HTTPResponse(status: answer.status) }
        var headers = HTTPHeaders()
        if let retryAfter = answer.retryAfterSeconds { headers.add(name: "Retry-After", value: String(retryAfter)) }
        let why = answer.reason == .failRate ? "--fail-rate" : "--status"
        if (200..<300).contains(answer.status) {
            return HTTPResponse(status: answer.status, headers: headers)
        }
        return .problem(status: answer.status, detail: "gatewayd listen answered \(answer.status) as asked (\(why)).",
                        headers: headers)
    }
}

/// Standard output, one whole report per `write` sequence: reports from concurrent requests
/// never interleave, and each is out of the process at once (no buffering), so a pipe
/// reader sees it as soon as it is printed.
final class ListenOutput: Sendable {
    private let descriptor: Int32
    private let lock = Mutex<Void>(())

    init(descriptor: Int32 = STDOUT_FILENO) {
        self.descriptor = descriptor
    }

    func write(_ bytes: [UInt8]) {
        lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                guard let base = buffer.baseAddress else { return }
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(descriptor, base + offset, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return  // stdout closed or full disk: the listener keeps answering regardless
                    }
                }
            }
        }
    }

    func write(_ text: String) { write(Array(text.utf8)) }
}
