import Foundation
import HTTPServer
import Logging
import Synchronization
import TestSupport
import Testing

/// Running out of space in a running gatewayd, made with a file-size limit (`RLIMIT_FSIZE`,
/// set on the child with `prlimit`): no tmpfs and no root needed. Writes past the limit fail
/// with EFBIG, which the journal treats like a full disk.
@Suite("gatewayd on a full disk", .serialized)
struct DiskFullTests {
    /// While full: ingest answers 503 with Retry-After, /readyz fails, and events already
    /// stored are still delivered (their attempt outcomes may find no space: that only means
    /// an attempt may be made again). Once the limit is lifted, without a restart, events are
    /// accepted again and /readyz passes.
    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"),
          .enabled(if: Capabilities.prlimit != nil, "no prlimit here (util-linux)"))
    func storedEventsAreDeliveredWhileFullAndIngestResumesOnceThereIsSpace() async throws {
        let binary = try #require(CrashTests.gatewayd)
        let prlimit = try #require(Capabilities.prlimit)
        // Blocking work off the test pool; the expectations here, where Swift Testing can
        // tell which test they belong to.
        let report = try await offThePool { try Self.fillDeliverAndRecover(binary: binary, prlimit: prlimit) }
        #expect(report.subscribed == 201)
        #expect(report.accepted > 10)
        let refusal = try #require(report.refusal)
        #expect(refusal.status == 503)
        #expect(refusal.header("retry-after") == "30")
        #expect((refusal.json["detail"] as? String)?.hasPrefix("The event was not stored: the disk is full") == true, "\(refusal.text)")
        let notReady = try #require(report.readyWhileFull)
        #expect(notReady.status == 503)
        // Both refusals are the ones openapi.yaml describes (status, problem, Retry-After).
        try OpenAPIContract.repository.verify("POST", "/v1/events", refusal)
        try OpenAPIContract.repository.verify("GET", "/readyz", notReady)
        #expect(report.undelivered == 0, "\(report.undelivered) of \(report.accepted) stored events not delivered while the disk was full")
        #expect(report.stillFull == 503)
        #expect(report.resumed == 202)
        #expect(report.readyAfter == 200)
        #expect(report.unreadable == 0)
    }

    struct Report: Sendable {
        var subscribed = 0
        var accepted = 0
        /// The first answer that was not a 202.
        var refusal: TestResponse?
        var readyWhileFull: TestResponse?
        /// Accepted events the receiver had not got 30 s after it started taking them.
        var undelivered = 0
        /// Ingest once everything was delivered, the disk still full.
        var stillFull = 0
        /// Ingest, and /readyz, once the limit was lifted.
        var resumed = 0
        var readyAfter = 0
        /// Accepted events that could not be read back at the end.
        var unreadable = 0
    }

    struct PrlimitFailed: Error, CustomStringConvertible {
        var description: String { "prlimit could not change gatewayd's file-size limit" }
    }

    private static func fillDeliverAndRecover(binary: String, prlimit: String) throws -> Report {
        // The receiver refuses (503, retry in a second) until the disk is full, so what was
        // stored is still owed then.
        let open = Atomic(false)
        let received = Mutex<Set<String>>([])
        let receiver = try CrashTests.Receiver { request in
            guard open.load(ordering: .relaxed) else { return HTTPResponse(status: 503, headers: ["Retry-After": "1"]) }
            if let id = request.headers["webhook-id"] { received.withLock { _ = $0.insert(id) } }
            return HTTPResponse(status: 200)
        }
        defer { receiver.stop() }
        let receiverPort = receiver.port
        let directory = NSTemporaryDirectory() + "disk-full-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let token = CrashTests.Daemon.adminToken
        let daemon = try CrashTests.Daemon(binary: binary, dataDirectory: directory, extraArguments: ["--allow-private-targets"])
        defer { daemon.kill9() }
        var report = Report()
        report.subscribed = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/subscriptions", token: token,
                                                       body: "{\"url\":\"http://127.0.0.1:\(receiverPort)/hook\",\"eventTypes\":[\"*\"]}").status
        let pid = String(daemon.process.processIdentifier)
        // Only the soft limit: lifting it again needs no privilege.
        guard Capabilities.run(prlimit, "--pid", pid, "--fsize=\(256 * 1024):unlimited") else { throw PrlimitFailed() }

        let padding = String(repeating: "x", count: 4000)
        let event = { (n: Int) in "{\"type\":\"disk.fill\",\"data\":{\"n\":\(n),\"pad\":\"\(padding)\"}}" }
        var accepted: [String] = []
        for n in 0..<500 where report.refusal == nil {
            let response = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/events", token: token, body: event(n))
            if response.status == 202, let id = response.json["id"] as? String {
                accepted.append(id)
            } else {
                report.refusal = response
            }
        }
        report.accepted = accepted.count
        report.readyWhileFull = try HTTPTestClient.request(port: daemon.port, "GET", "/readyz", token: nil)

        open.store(true, ordering: .relaxed)
        let expected = Set(accepted)
        _ = CrashTests.waitUntil(timeout: 30) { received.withLock { expected.isSubset(of: $0) } }
        report.undelivered = expected.subtracting(received.withLock { $0 }).count
        report.stillFull = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/events", token: token, body: event(-1)).status

        guard Capabilities.run(prlimit, "--pid", pid, "--fsize=unlimited:unlimited") else { throw PrlimitFailed() }
        report.resumed = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/events", token: token, body: event(-2)).status
        report.readyAfter = try HTTPTestClient.request(port: daemon.port, "GET", "/readyz", token: nil).status
        for id in accepted {
            let read = try HTTPTestClient.request(port: daemon.port, "GET", "/v1/events/\(id)", token: token)
            if read.status != 200 { report.unreadable += 1 }
        }
        return report
    }
}
