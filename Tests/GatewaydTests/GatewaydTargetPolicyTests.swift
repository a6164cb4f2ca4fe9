import TestSupport
import Foundation
import Testing

/// gatewayd wires the delivery side's SSRF policy into subscription creation.
@Suite("gatewayd target policy")
struct GatewaydTargetPolicyTests {
    static let loopback = #"{"url":"http://127.0.0.1:9/hook","eventTypes":["*"]}"#

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func loopbackTargetsAreRefusedUnlessAllowed() throws {
        let binary = try #require(CrashTests.gatewayd)
        for (arguments, expected) in [([String](), 422), (["--allow-private-targets"], 201), (["--allow-target", "127.0.0.0/8"], 201)] {
            let directory = NSTemporaryDirectory() + "target-policy-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let daemon = try CrashTests.Daemon(binary: binary, dataDirectory: directory, extraArguments: arguments)
            defer { daemon.kill9() }
            let response = try HTTPTestClient.request(port: daemon.port, "POST", "/v1/subscriptions", token: CrashTests.Daemon.adminToken, body: Self.loopback)
            #expect(response.status == expected, "\(arguments): \(response.text)")
            if expected == 422 {
                #expect(response.text.contains("loopback") && response.text.contains("--allow-private-targets"))
            }
        }
    }
}
