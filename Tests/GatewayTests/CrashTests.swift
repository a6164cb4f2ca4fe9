import Foundation
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
