#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import TestSupport
import Testing

/// The real `gatewayd listen` binary as a child process: what it answers and what it prints,
/// and a real `gatewayd serve` delivering to it.
@Suite("gatewayd listen, live", .serialized)
struct ListenTests {
    static let vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let otherSecret = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()
    /// The Standard Webhooks reference vector's headers (its signature computed by the
    /// spec's libraries, not by us).
    static let vectorHeaders = [
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330"),
        ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    ]
    static let vectorBody = #"{"test": 2432232314}"#
    /// The vector is from 2021: a tolerance of 3000 days lets its timestamp pass.
    static let vectorTolerance = ["--tolerance", "3000d"]

    /// A `gatewayd listen` child on 127.0.0.1, its port read from the banner on standard
    /// error, its standard output collected by a thread of its own. Unchecked: `Process` is
    /// not `Sendable`, and is only used here for its pid and to wait for its exit.
    final class Listener: @unchecked Sendable {
        let process: Process
        let port: UInt16
        private let collected = Mutex<[UInt8]>([])

        init(binary: String, _ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["listen", "--port", "0"] + arguments
            let output = Pipe()
            let errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let banner = Banner.firstLine(of: errors.fileHandleForReading)
            guard let port = Banner.port(in: banner) else {
                process.terminate()
                throw RawClient.Failure(description: "gatewayd listen did not report its port: \(banner)")
            }
            self.process = process
            self.port = port
            let reader = output.fileHandleForReading
            // Ends at end of file, when the child exits.
            Thread.detachNewThread { [self] in
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { return }
                    collected.withLock { $0 += chunk }
                }
            }
        }

        var output: String { collected.withLock { String(decoding: $0, as: UTF8.self) } }

        /// The complete JSON lines printed so far (`--json`), parsed by Foundation.
        var reports: [[String: Any]] {
            output.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
            }
        }

        func waitForReports(_ count: Int) async -> [[String: Any]] {
            _ = await eventually { reports.count >= count }
            return reports
        }

        /// SIGTERM, then its exit status.
        func stop() -> Int32 {
            ChildExit.stop(process) ?? -1
        }
    }

    static func start(_ arguments: [String]) async throws -> Listener {
        let binary = try #require(CrashTests.gatewayd)
        // Reading the banner blocks: off the test pool.
        return try await offThePool { try Listener(binary: binary, arguments) }
    }

    static func post(_ port: UInt16, _ path: String = "/hook", headers: [(String, String)] = [], body: String) async throws -> TestResponse {
        try await offThePool { try HTTPTestClient.request(port: port, "POST", path, headers: headers, body: body) }
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func signedAndUnsignedRequestsAreVerifiedAndReported() async throws {
        let listener = try await Self.start(["--json", "--secret", Self.otherSecret + "," + Self.vectorSecret] + Self.vectorTolerance)
        defer { _ = listener.stop() }
        #expect(try await Self.post(listener.port, headers: Self.vectorHeaders, body: Self.vectorBody).status == 204)
        #expect(try await Self.post(listener.port, headers: Self.vectorHeaders, body: #"{"test": 2432232315}"#).status == 204)
        #expect(try await Self.post(listener.port, "/other/path?q=1", body: #"{"unsigned": true}"#).status == 204)
        let reports = await listener.waitForReports(3)
        try #require(reports.count == 3)

        #expect(reports[0]["signature"] as? String == "valid")
        #expect(reports[0]["verification"] as? String == "valid (v1, key 2)")
        #expect(reports[0]["key"] as? Int == 2)
        #expect(reports[0]["target"] as? String == "/hook")
        #expect((reports[0]["body"] as? [String: Any])?["test"] as? Int == 2_432_232_314)
        #expect((reports[0]["headers"] as? [String: String])?["webhook-signature"] == "v1,g0hM9SsE…")
        #expect(reports[0]["seen"] as? Int == 1)

        #expect(reports[1]["signature"] as? String == "invalid")
        #expect(reports[1]["verification"] as? String == "INVALID (no v1 signature matches)")
        #expect(reports[1]["seen"] as? Int == 2, "the same webhook-id again is counted")

        #expect(reports[2]["signature"] as? String == "invalid")
        #expect(reports[2]["verification"] as? String == "INVALID (no webhook-id header)")
        #expect(reports[2]["target"] as? String == "/other/path?q=1")
        #expect(reports.allSatisfy { $0["status"] as? Int == 204 && $0["reason"] as? String == "ok" })

        // Neither the secret nor a whole signature is ever printed.
        #expect(!listener.output.contains("MfKQ9r8G"))
        #expect(!listener.output.contains("g0hM9SsE+OTPJTGt"))
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func theReadableFormShowsEachDelivery() async throws {
        let listener = try await Self.start(["--secret", Self.vectorSecret] + Self.vectorTolerance)
        defer { _ = listener.stop() }
        var headers = Self.vectorHeaders
        headers.append(("X-Team", "billing"))
        #expect(try await Self.post(listener.port, headers: headers, body: Self.vectorBody).status == 204)
        #expect(await eventually { listener.output.contains("→ 204 No Content\n\n") })
        let output = listener.output
        for expected in [
            "#1  POST /hook  ", "  webhook-id         msg_p5jXN8AQM9LWM0D4loKWxJek\n", "  webhook-signature  v1,g0hM9SsE…\n",
            "  x-team             billing\n", "  signature          valid (v1, key 1)\n", "  body               20 bytes of JSON\n",
            "  {\n    \"test\": 2432232314\n  }\n",
        ] {
            #expect(output.contains(expected), "missing \(expected.debugDescription) in:\n\(output)")
        }
        #expect(!output.contains("\u{1B}["), "no colours when standard output is a pipe")
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func failuresAreAnsweredAsAsked() async throws {
        let failing = try await Self.start(["--json", "--fail-rate", "1.0"])
        defer { _ = failing.stop() }
        for n in 0..<5 {
            let response = try await Self.post(failing.port, body: "{\"n\":\(n)}")
            #expect(response.status == 500)
            #expect(response.header("Content-Type") == "application/problem+json")
            #expect(response.json["status"] as? Int == 500)
        }
        #expect(await failing.waitForReports(5).allSatisfy { $0["status"] as? Int == 500 && $0["reason"] as? String == "fail-rate" })

        let unavailable = try await Self.start(["--json", "--status", "503", "--retry-after", "7s"])
        defer { _ = unavailable.stop() }
        let throttled = try await Self.post(unavailable.port, body: "{}")
        #expect(throttled.status == 503)
        #expect(throttled.header("Retry-After") == "7")
        #expect(await unavailable.waitForReports(1).first?["reason"] as? String == "status")

        let never = try await Self.start(["--fail-rate", "0", "--status", "503"])
        defer { _ = never.stop() }
        for _ in 0..<3 { #expect(try await Self.post(never.port, body: "{}").status == 204) }
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func aDelayHoldsEachAnswerButNotTheOthers() async throws {
        let listener = try await Self.start(["--json", "--delay", "1s"])
        defer { _ = listener.stop() }
        let port = listener.port
        let started = ContinuousClock.now
        let answers = try await concurrently(2) { _ -> (Int, Duration) in
            let begun = ContinuousClock.now
            let response = try HTTPTestClient.request(port: port, "POST", "/slow", body: "{}")
            return (response.status, ContinuousClock.now - begun)
        }
        let total = ContinuousClock.now - started
        #expect(answers.allSatisfy { $0.0 == 204 && $0.1 >= .milliseconds(990) })
        let reports = await listener.waitForReports(2)
        #expect(reports.allSatisfy { $0["delayMs"] as? Int == 1000 })
        // Had the delay blocked the loop, the second request would be read only once the
        // first was answered, a second later. The listener's own receipt times say it, where
        // the total wall time also counts how long a loaded machine took to schedule us.
        let received = reports.compactMap { ($0["receivedAt"] as? String).flatMap(Self.instant) }
        try #require(received.count == 2)
        #expect(abs(received[0] - received[1]) < 0.9,
                "the second request was read \(abs(received[0] - received[1])) s after the first (total \(total)): the delay blocked the loop")
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func aBadOptionIsOneLineAndAFailingExit() async throws {
        let binary = try #require(CrashTests.gatewayd)
        let (status, errors) = try await offThePool { () throws -> (Int32, String) in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["listen", "--fail-rate", "2"]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return (ChildExit.wait(for: process) ?? -1, text)
        }
        #expect(status != 0)
        #expect(errors == "Error: --fail-rate: '2' is not a probability from 0 to 1 (0.3 fails 30% of requests)\n")
    }

    /// The walkthrough in miniature: a real gateway with a subscription to the listener,
    /// one event published, and the listener reports it signed and valid.
    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func theGatewayDeliversToTheListenerSignedAndValid() async throws {
        let binary = try #require(CrashTests.gatewayd)
        let listener = try await Self.start(["--json", "--secret", Self.vectorSecret])
        defer { _ = listener.stop() }
        let listenerPort = listener.port
        // The gateway child and its blocking client: off the test pool.
        let (subscribed, published, eventID) = try await offThePool { () throws -> (Int, Int, String?) in
            let directory = NSTemporaryDirectory() + "listen-e2e-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let daemon = try CrashTests.Daemon(binary: binary, dataDirectory: directory, extraArguments: ["--allow-private-targets"])
            defer { daemon.kill9() }
            let token = CrashTests.Daemon.adminToken
            let subscription = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/subscriptions", token: token, body: """
                {"url":"http://127.0.0.1:\(listenerPort)/hook","eventTypes":["order.*"],"secret":"\(Self.vectorSecret)"}
                """)
            let event = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/events", token: token,
                                                   body: #"{"type":"order.created","data":{"order":"o-1","amount":12.50}}"#)
            // Keep the gateway up until the delivery has been made.
            _ = CrashTests.waitUntil(timeout: 5) { listener.output.contains("\n") }
            return (subscription.status, event.status, event.json["id"] as? String)
        }
        #expect(subscribed == 201)
        #expect(published == 202)
        let id = try #require(eventID)

        let report = try #require(await listener.waitForReports(1).first)
        #expect((report["headers"] as? [String: String])?["webhook-id"] == id)
        #expect(report["signature"] as? String == "valid")
        #expect(report["verification"] as? String == "valid (v1, key 1)")
        #expect(report["target"] as? String == "/hook")
        #expect(report["status"] as? Int == 204)
        let envelope = try #require(report["body"] as? [String: Any])
        #expect(envelope["id"] as? String == id)
        #expect(envelope["type"] as? String == "order.created")
        // The producer's exact bytes, as the gateway promises subscribers.
        #expect(listener.output.contains(#""data":{"order":"o-1","amount":12.50}"#))
    }

    /// Seconds into the day of an RFC 3339 UTC time as the listener reports it
    /// (`2026-12-06T03:28:01.727908Z` → 12481.727908).
    static func instant(_ text: String) -> Double? {
        guard let clock = text.split(separator: "T").last?.dropLast() else { return nil }
        let parts = clock.split(separator: ":").compactMap { Double($0) }
        guard parts.count == 3 else { return nil }
        return parts[0] * 3600 + parts[1] * 60 + parts[2]
    }
}
