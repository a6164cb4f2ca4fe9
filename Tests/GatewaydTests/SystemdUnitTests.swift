import Foundation
@testable import gatewayd
import TestSupport
import Testing

/// deploy/gatewayd.service and deploy/gatewayd.json: the unit is one systemd accepts, and the
/// config file it starts with is one gatewayd accepts.
@Suite("systemd unit")
struct SystemdUnitTests {
    static let root = OpenAPIContract.packageRoot
    static let analyzer = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test func theShippedConfigFileIsValid() throws {
        let file = Self.root.appendingPathComponent("deploy/gatewayd.json").path
        let settings = try Serve.loadSettings(try ServeOptions.parse(["--config", file]), environment: [:])
        #expect(settings.listen.description == "0.0.0.0:8080" && settings.logFormat == .json)
    }

    @Test func theUnitStartsServeWithTheConfigFileAndHardening() throws {
        let unit = try String(contentsOf: Self.root.appendingPathComponent("deploy/gatewayd.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/gatewayd serve --config /etc/gatewayd/gatewayd.json\n"))
        #expect(unit.contains("RestartPreventExitStatus=78\n"), "a bad setting (exit 78) must not restart in a loop")
        for option in ["NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes", "StateDirectory=gatewayd",
                       "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes"] {
            #expect(unit.contains(option), "\(option)")
        }
    }

    @Test(.enabled(if: SystemdUnitTests.analyzer != nil, "no systemd-analyze here"),
          .enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func systemdAnalyzeVerifiesTheUnit() throws {
        // verify checks that ExecStart's binary exists: point it at this build's.
        let unit = try String(contentsOf: Self.root.appendingPathComponent("deploy/gatewayd.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/gatewayd", with: CrashTests.gatewayd!)
        let path = NSTemporaryDirectory() + "gatewayd-\(UUID().uuidString).service"
        try unit.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.analyzer!)
        process.arguments = ["verify", path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0 && text.isEmpty, "\(text)")
    }
}
