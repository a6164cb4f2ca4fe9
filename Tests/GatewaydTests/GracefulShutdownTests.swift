#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing

/// SIGTERM and SIGINT end gatewayd gracefully — it stops, exit status 0 — whichever of its
/// threads the kernel picks for the signal. They are blocked before any thread starts; a
/// thread started earlier would take the signal with its default action and the process
/// would die of it (exit by signal), skipping the graceful shutdown.
@Suite("gatewayd graceful shutdown", .serialized)
struct GracefulShutdownTests {
    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"),
          arguments: [SIGTERM, SIGINT])
    func aShutdownSignalStopsItCleanlyUnderLoad(_ signal: Int32) async throws {
        let binary = try #require(CrashTests.gatewayd)
        let outcome = try await offThePool { () throws -> (Process.TerminationReason, Int32, Int) in
            let directory = NSTemporaryDirectory() + "graceful-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let daemon = try CrashTests.Daemon(binary: binary, dataDirectory: directory)
            var accepted = 0
            for n in 0..<20 {
                let response = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/events", token: CrashTests.Daemon.adminToken,
                                                          body: "{\"type\":\"a.b\",\"data\":\(n)}")
                if response.status == 202 { accepted += 1 }
            }
            kill(daemon.process.processIdentifier, signal)
            daemon.process.waitUntilExit()
            return (daemon.process.terminationReason, daemon.process.terminationStatus, accepted)
        }
        #expect(outcome.2 == 20)
        #expect(outcome.0 == .exit, "gatewayd died of the signal instead of stopping")
        #expect(outcome.1 == 0)
    }
}
