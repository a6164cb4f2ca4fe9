import Foundation
import TestSupport
import Testing

/// Issue 12: the README's copy-paste example for each verification scheme, run as written
/// (bash, curl, openssl signing as the provider would) against a real gatewayd, so the
/// documented commands are proven to work.
@Suite("README provider webhook examples")
struct ProviderExamplesTests {
    static let openssl = ["/usr/bin/openssl", "/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The first ```sh block of the README's "Provider webhooks" section.
    static func examples() throws -> String {
        let readme = try String(contentsOf: OpenAPIContract.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "## Provider webhooks"))
        let start = try #require(readme.range(of: "```sh\n", range: section.upperBound..<readme.endIndex))
        let end = try #require(readme.range(of: "```\n", range: start.upperBound..<readme.endIndex))
        return String(readme[start.upperBound..<end.lowerBound])
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"),
          .enabled(if: Capabilities.curl != nil, "no curl here (apt-get install curl)"),
          .enabled(if: Self.openssl != nil, "no openssl here (apt-get install openssl)"))
    func everySchemesExampleIsAcceptedAsWritten() async throws {
        let directory = NSTemporaryDirectory() + "provider-examples-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try CrashTests.Daemon(binary: try #require(CrashTests.gatewayd), dataDirectory: directory)
        defer { _ = ChildExit.stop(daemon.process) }
        let script = try Self.examples().replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(daemon.port)")
        let output = try await offThePool { () throws -> String in
            let bash = Process()
            bash.executableURL = URL(fileURLWithPath: "/bin/bash")
            bash.arguments = ["-euo", "pipefail", "-c", script]
            var environment = ProcessInfo.processInfo.environment
            environment["GATEWAY_ADMIN_TOKEN"] = CrashTests.Daemon.adminToken
            bash.environment = environment
            let pipe = Pipe()
            bash.standardOutput = pipe
            bash.standardError = pipe
            try bash.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            _ = ChildExit.wait(for: bash)
            return text
        }
        // Slack's url_verification is answered with its challenge.
        #expect(output.contains(#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#), "\(output)")
        #expect(!output.contains(#""status":4"#), "no example was refused: \(output)")
        let listed = try HTTPTestClient.request(port: daemon.port, "GET", "/v1/events?limit=100", token: CrashTests.Daemon.adminToken)
        let events = try #require(listed.json["events"] as? [[String: Any]])
        let stored = Set(events.compactMap { event -> String? in
            guard let source = event["source"] as? String, let type = event["type"] as? String else { return nil }
            return source + " " + type
        })
        #expect(stored == [
            "github github.push", "stripe stripe.payment_intent.succeeded", "shopify shopify.orders.create",
            "gitlab gitlab.push_hook", "billing billing.invoice.paid", "ci ci.build.finished", "legacy legacy.order.shipped",
        ], "\(output)")
    }
}
