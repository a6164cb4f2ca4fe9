import Foundation
import HTTPServer
import Logging
import Synchronization
import Testing

/// Kill -9 at random moments while several clients publish, restart, and check that every
/// event that got a 202 is there with its exact data (DESIGN.md invariant 1).
///
/// `swift test` runs a few rounds; `make crash-test` runs many (`CRASH_ROUNDS`).
@Suite("Crash safety", .serialized)
struct CrashTests {
    /// The gatewayd binary of this build, next to the test bundle.
    static var gatewayd: String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for configuration in ["debug", "release"] {
            let path = root.appendingPathComponent(".build/\(configuration)/gatewayd").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    final class Daemon {
        let process = Process()
        let port: UInt16

        init(binary: String, dataDirectory: String, extraArguments: [String] = []) throws {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDirectory,
                                 "--admin-token", GatewayHarness.adminToken, "--log-level", "error", "--event-loops", "1"]
                + extraArguments
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            // The banner names the port actually bound.
            var line = ""
            let handle = output.fileHandleForReading
            while !line.contains("\n") {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                line += String(decoding: chunk, as: UTF8.self)
            }
            guard let range = line.range(of: "http://127.0.0.1:"),
                  let port = UInt16(line[range.upperBound...].prefix { $0.isNumber }) else {
                process.terminate()
                throw HTTPTestClient.Failure(reason: "gatewayd did not report its port: \(line)")
            }
            self.port = port
        }

        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func everyAcknowledgedEventSurvivesKill9() throws {
        guard let binary = Self.gatewayd else {
            print("skipping the crash test: no gatewayd binary in .build (run `swift build` first)")
            return
        }
        let rounds = Int(ProcessInfo.processInfo.environment["CRASH_ROUNDS"] ?? "") ?? 4
        let directory = NSTemporaryDirectory() + "crash-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let acknowledged = Mutex<[String: String]>([:])
        var checked = 0
        for round in 0..<rounds {
            let daemon = try Daemon(binary: binary, dataDirectory: directory)
            // Everything acknowledged in earlier rounds must be there after the restart.
            checked += try verify(acknowledged.withLock { $0 }, port: daemon.port, round: round)

            let stop = Atomic<Bool>(false)
            let group = DispatchGroup()
            let port = daemon.port
            for client in 0..<4 {
                DispatchQueue.global().async(group: group) {
                    var sequence = 0
                    while !stop.load(ordering: .relaxed) {
                        sequence += 1
                        let data = "{\"round\":\(round),\"client\":\(client),\"n\":\(sequence),\"pad\":\"\(String(repeating: "p", count: sequence % 97))\"}"
                        let body = "{\"type\":\"crash.test\",\"data\":\(data)}"
                        guard let response = try? HTTPTestClient.request(port: port, "POST", "/v1/events", token: GatewayHarness.adminToken, body: body),
                              response.status == 202,
                              let id = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["id"] as? String
                        else { continue }
                        acknowledged.withLock { $0[id] = data }
                    }
                }
            }
            Thread.sleep(forTimeInterval: Double.random(in: 0.2...0.8))
            daemon.kill9()
            stop.store(true, ordering: .relaxed)
            group.wait()
        }
        let daemon = try Daemon(binary: binary, dataDirectory: directory)
        defer { daemon.kill9() }
        checked += try verify(acknowledged.withLock { $0 }, port: daemon.port, round: rounds)
        let total = acknowledged.withLock { $0.count }
        print("crash test: \(rounds) kill -9 rounds, \(total) acknowledged events, \(checked) reads checked, none lost")
        #expect(total > 0)
    }

    /// Fan-out under kill -9: every event that got a 202 reaches the subscriber at least once,
    /// whatever moment the gateway died at (duplicates are allowed: at-least-once).
    @Test func everyAcknowledgedEventIsDeliveredDespiteKill9() throws {
        guard let binary = Self.gatewayd else {
            print("skipping the fan-out crash test: no gatewayd binary in .build")
            return
        }
        let rounds = Int(ProcessInfo.processInfo.environment["CRASH_ROUNDS"] ?? "") ?? 3
        let received = Mutex<[String: Int]>([:])
        var router = Router()
        router.post("/hook") { request, _ in
            if let id = request.headers["webhook-id"] { received.withLock { $0[id, default: 0] += 1 } }
            return .response(HTTPResponse(status: 200))
        }
        var configuration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
        configuration.eventLoopCount = 1
        let receiver = HTTPServer(configuration: configuration, responder: router, logger: Logger(label: "receiver") { _ in SwiftLogNoOpLogHandler() })
        let receiverPort = try receiver.start().port
        defer {
            receiver.shutdown(gracePeriod: .milliseconds(100))
            receiver.wait()
        }
        let directory = NSTemporaryDirectory() + "fanout-crash-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let acknowledged = Mutex<Set<String>>([])
        for round in 0..<rounds {
            let daemon = try Daemon(binary: binary, dataDirectory: directory, extraArguments: ["--allow-private-targets"])
            if round == 0 {
                let created = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/subscriptions", token: GatewayHarness.adminToken,
                                                         body: "{\"url\":\"http://127.0.0.1:\(receiverPort)/hook\",\"eventTypes\":[\"*\"],\"maxInFlight\":32}")
                #expect(created.status == 201)
            }
            let stop = Atomic<Bool>(false)
            let group = DispatchGroup()
            let port = daemon.port
            for client in 0..<3 {
                DispatchQueue.global().async(group: group) {
                    var n = 0
                    while !stop.load(ordering: .relaxed) {
                        n += 1
                        let body = "{\"type\":\"crash.fanout\",\"data\":{\"round\":\(round),\"client\":\(client),\"n\":\(n)}}"
                        guard let response = try? HTTPTestClient.request(port: port, "POST", "/v1/events", token: GatewayHarness.adminToken, body: body),
                              response.status == 202,
                              let id = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["id"] as? String
                        else { continue }
                        acknowledged.withLock { _ = $0.insert(id) }
                    }
                }
            }
            Thread.sleep(forTimeInterval: Double.random(in: 0.2...0.6))
            daemon.kill9()
            stop.store(true, ordering: .relaxed)
            group.wait()
        }
        let daemon = try Daemon(binary: binary, dataDirectory: directory, extraArguments: ["--allow-private-targets"])
        defer { daemon.kill9() }
        let expected = acknowledged.withLock { $0 }
        let allArrived = Self.waitUntil(timeout: 30) { received.withLock { got in expected.allSatisfy { got[$0] != nil } } }
        let missing = received.withLock { got in expected.filter { got[$0] == nil } }
        #expect(allArrived, "\(missing.count) acknowledged events never reached the subscriber, e.g. \(missing.prefix(3))")
        let duplicates = received.withLock { $0.values.filter { $0 > 1 }.count }
        print("fan-out crash test: \(rounds) kill -9 rounds, \(expected.count) acknowledged events, all delivered, \(duplicates) delivered more than once")
        #expect(!expected.isEmpty)
    }

    static func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }

    /// Reads back every acknowledged event; returns how many were checked.
    private func verify(_ expected: [String: String], port: UInt16, round: Int) throws -> Int {
        for (id, data) in expected {
            let response = try HTTPTestClient.request(port: port, "GET", "/v1/events/\(id)", token: GatewayHarness.adminToken)
            #expect(response.status == 200, "round \(round): acknowledged event \(id) is missing")
            #expect(response.text.contains("\"data\":\(data)}"), "round \(round): event \(id) has different data")
        }
        return expected.count
    }
}
