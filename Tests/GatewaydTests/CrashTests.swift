import Foundation
import HTTPServer
import Logging
import Synchronization
import TestSupport
import Testing

/// Kill -9 at random moments while several clients publish, restart, and check that every
/// event that got a 202 is there with its exact data (DESIGN.md invariant 1).
///
/// `swift test` runs a few rounds; `make crash-test` runs many (`CRASH_ROUNDS`).
@Suite("Crash safety", .serialized)
struct CrashTests {
    /// The gatewayd binary of this build, next to the test bundle.
    static var gatewayd: String? {
        let root = OpenAPIContract.packageRoot
        for configuration in ["debug", "release"] {
            let path = root.appendingPathComponent(".build/\(configuration)/gatewayd").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// A webhook receiver on 127.0.0.1 (a port of its own) for gatewayd children to deliver
    /// to: `answer` decides each response.
    final class Receiver {
        private let server: HTTPServer
        let port: UInt16

        init(answer: @escaping @Sendable (HTTPRequest) -> HTTPResponse) throws {
            var router = Router()
            router.post("/hook") { request, _ in .response(answer(request)) }
            var configuration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
            configuration.eventLoopCount = 1
            server = HTTPServer(configuration: configuration, responder: router, logger: Logger(label: "receiver") { _ in SwiftLogNoOpLogHandler() })
            port = try server.start().port
        }

        func stop() {
            server.shutdown(gracePeriod: .milliseconds(100))
            server.wait()
        }
    }

    /// A gatewayd child process on 127.0.0.1, its port read from its banner.
    final class Daemon {
        static let adminToken = "adm_test_token"
        let process = Process()
        let port: UInt16

        init(binary: String, dataDirectory: String, extraArguments: [String] = [], environment: [String: String] = [:]) throws {
            process.executableURL = URL(fileURLWithPath: binary)
            if !environment.isEmpty {
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            }
            process.arguments = ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDirectory,
                                 "--admin-token", Daemon.adminToken, "--log-level", "error", "--event-loops", "1"]
                + extraArguments
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            // The banner names the port actually bound.
            let line = Banner.firstLine(of: output.fileHandleForReading)
            guard let port = Banner.port(in: line) else {
                process.terminate()
                throw RawClient.Failure(description: "gatewayd did not report its port: \(line)")
            }
            self.port = port
        }

        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func everyAcknowledgedEventSurvivesKill9() async throws {
        let binary = try #require(Self.gatewayd)
        let rounds = Int(ProcessInfo.processInfo.environment["CRASH_ROUNDS"] ?? "") ?? 4
        // The rounds block (child processes, sleeps, blocking clients): off the test pool.
        let report = try await offThePool { try Self.publishThroughKills(binary: binary, rounds: rounds) }
        #expect(report.problems.isEmpty, "\(report.problems.count) problems, e.g. \(report.problems.prefix(3))")
        #expect(report.acknowledged > 0)
        print("crash test: \(rounds) kill -9 rounds, \(report.acknowledged) acknowledged events, \(report.checked) reads checked, \(report.problems.isEmpty ? "none lost" : "\(report.problems.count) problems")")
    }

    struct IngestReport: Sendable {
        var acknowledged = 0
        var checked = 0
        /// Acknowledged events missing or changed after a restart.
        var problems: [String] = []
    }

    /// Publishes from four clients, kills the daemon at a random moment, restarts it and reads
    /// back everything acknowledged so far; `rounds` times.
    private static func publishThroughKills(binary: String, rounds: Int) throws -> IngestReport {
        let directory = NSTemporaryDirectory() + "crash-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let acknowledged = Mutex<[String: String]>([:])
        var report = IngestReport()
        for round in 0..<rounds {
            let daemon = try Daemon(binary: binary, dataDirectory: directory)
            // Everything acknowledged in earlier rounds must be there after the restart.
            try verify(acknowledged.withLock { $0 }, port: daemon.port, round: round, into: &report)

            // Rebuilt for the check: the same round, client and number give the same data.
            let data = { @Sendable (client: Int, n: Int) in
                "{\"round\":\(round),\"client\":\(client),\"n\":\(n),\"pad\":\"\(String(repeating: "p", count: n % 97))\"}"
            }
            publishUntilKilled(daemon, clients: 4, killAfter: 0.2...0.8,
                               body: { client, n in "{\"type\":\"crash.test\",\"data\":\(data(client, n))}" },
                               acknowledged: { id, client, n in acknowledged.withLock { $0[id] = data(client, n) } })
        }
        let daemon = try Daemon(binary: binary, dataDirectory: directory)
        defer { daemon.kill9() }
        try verify(acknowledged.withLock { $0 }, port: daemon.port, round: rounds, into: &report)
        report.acknowledged = acknowledged.withLock { $0.count }
        return report
    }

    /// Fan-out under kill -9: every event that got a 202 reaches the subscriber at least once,
    /// whatever moment the gateway died at (duplicates are allowed: at-least-once).
    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func everyAcknowledgedEventIsDeliveredDespiteKill9() async throws {
        let binary = try #require(Self.gatewayd)
        let rounds = Int(ProcessInfo.processInfo.environment["CRASH_ROUNDS"] ?? "") ?? 3
        let report = try await offThePool { try Self.deliverThroughKills(binary: binary, rounds: rounds) }
        #expect(report.subscriptionStatus == 201)
        #expect(report.acknowledged > 0)
        #expect(report.missing.isEmpty, "\(report.missing.count) acknowledged events never reached the subscriber, e.g. \(report.missing.prefix(3))")
        print("fan-out crash test: \(rounds) kill -9 rounds, \(report.acknowledged) acknowledged events, \(report.missing.count) never delivered, \(report.duplicates) delivered more than once")
    }

    struct FanOutReport: Sendable {
        var subscriptionStatus = 0
        var acknowledged = 0
        /// Acknowledged events the subscriber never received.
        var missing: [String] = []
        var duplicates = 0
    }

    /// Publishes to a subscribed daemon, kills it at a random moment and restarts it, `rounds`
    /// times; then waits (30 s at most) for every acknowledged event to reach the receiver.
    private static func deliverThroughKills(binary: String, rounds: Int) throws -> FanOutReport {
        let received = Mutex<[String: Int]>([:])
        let receiver = try Receiver { request in
            if let id = request.headers["webhook-id"] { received.withLock { $0[id, default: 0] += 1 } }
            return HTTPResponse(status: 200)
        }
        defer { receiver.stop() }
        let receiverPort = receiver.port
        let directory = NSTemporaryDirectory() + "fanout-crash-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let acknowledged = Mutex<Set<String>>([])
        var report = FanOutReport()
        for round in 0..<rounds {
            let daemon = try Daemon(binary: binary, dataDirectory: directory, extraArguments: ["--allow-private-targets"])
            if round == 0 {
                let created = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/subscriptions", token: Daemon.adminToken,
                                                         body: "{\"url\":\"http://127.0.0.1:\(receiverPort)/hook\",\"eventTypes\":[\"*\"],\"maxInFlight\":32}")
                report.subscriptionStatus = created.status
            }
            publishUntilKilled(daemon, clients: 3, killAfter: 0.2...0.6,
                               body: { client, n in "{\"type\":\"crash.fanout\",\"data\":{\"round\":\(round),\"client\":\(client),\"n\":\(n)}}" },
                               acknowledged: { id, _, _ in acknowledged.withLock { _ = $0.insert(id) } })
        }
        let daemon = try Daemon(binary: binary, dataDirectory: directory, extraArguments: ["--allow-private-targets"])
        defer { daemon.kill9() }
        let expected = acknowledged.withLock { $0 }
        _ = waitUntil(timeout: 30) { received.withLock { got in expected.allSatisfy { got[$0] != nil } } }
        report.acknowledged = expected.count
        report.missing = received.withLock { got in expected.filter { got[$0] == nil } }
        report.duplicates = received.withLock { $0.values.filter { $0 > 1 }.count }
        return report
    }

    /// Publishes from `clients` threads until the daemon is killed, after a random pause
    /// (seconds) from `killAfter`; returns once every client has stopped. `body(client, n)` is
    /// a client's n-th event; `acknowledged(id, client, n)` runs for each that got a 202.
    private static func publishUntilKilled(
        _ daemon: Daemon, clients: Int, killAfter: ClosedRange<Double>,
        body: @escaping @Sendable (_ client: Int, _ n: Int) -> String,
        acknowledged: @escaping @Sendable (_ id: String, _ client: Int, _ n: Int) -> Void
    ) {
        let stop = Atomic<Bool>(false)
        let group = DispatchGroup()
        let port = daemon.port
        for client in 0..<clients {
            DispatchQueue.global().async(group: group) {
                var n = 0
                while !stop.load(ordering: .relaxed) {
                    n += 1
                    guard let response = try? HTTPTestClient.request(port: port, "POST", "/v1/events", token: Daemon.adminToken, body: body(client, n)),
                          response.status == 202,
                          let id = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["id"] as? String
                    else { continue }
                    acknowledged(id, client, n)
                }
            }
        }
        Thread.sleep(forTimeInterval: Double.random(in: killAfter))
        daemon.kill9()
        stop.store(true, ordering: .relaxed)
        group.wait()
    }

    static func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }

    /// Reads back every acknowledged event, noting each one missing or changed.
    private static func verify(_ expected: [String: String], port: UInt16, round: Int, into report: inout IngestReport) throws {
        for (id, data) in expected {
            let response = try HTTPTestClient.request(port: port, "GET", "/v1/events/\(id)", token: Daemon.adminToken)
            if response.status != 200 {
                report.problems.append("round \(round): acknowledged event \(id) is missing (\(response.status))")
            } else if !response.text.contains("\"data\":\(data)}") {
                report.problems.append("round \(round): event \(id) has different data")
            }
        }
        report.checked += expected.count
    }
}
