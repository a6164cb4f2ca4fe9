import Foundation
import TestSupport
import Testing

/// `/readyz` on the real daemon names both parts it depends on.
@Suite("gatewayd readiness")
struct ReadinessLiveTests {
    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func readyzChecksTheJournalAndTheDeliveryEngine() throws {
        let directory = NSTemporaryDirectory() + "gatewayd-readyz-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try CrashTests.Daemon(binary: CrashTests.gatewayd!, dataDirectory: directory)
        defer { ChildExit.stop(daemon.process) }
        let ready = try HTTPTestClient.request(port: daemon.port, "GET", "/readyz", token: nil)
        #expect(ready.status == 200)
        #expect(ready.json["status"] as? String == "ready")
        #expect((ready.json["checks"] as? [String: String]) == ["journal": "ok", "delivery": "ok"], "\(ready.text)")
    }
}
