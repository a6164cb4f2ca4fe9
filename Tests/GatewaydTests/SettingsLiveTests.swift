import Foundation
import TestSupport
import Testing

/// The real binary with bad settings: exit 78 (EX_CONFIG) and one line on stderr naming the
/// setting and its source — no usage dump, no stack trace. And its log lines: the chosen
/// format, never a credential.
@Suite("gatewayd settings, live", .serialized)
struct SettingsLiveTests {
    struct Outcome {
        let status: Int32
        let standardError: String
    }

    /// Runs gatewayd until it exits (bad settings exit at once); 10 s at most.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CrashTests.gatewayd!)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GATEWAY_") }.merging(environment) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let status = ChildExit.wait(for: process, timeout: 10) ?? ChildExit.stop(process) ?? -1
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return Outcome(status: status, standardError: text)
    }

    static let scratch = NSTemporaryDirectory() + "gatewayd-settings-live-" + UUID().uuidString

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func badSettingsExitWithOneLineNamingTheSettingAndSource() throws {
        let configFile = Self.scratch + "-config.json"
        FileManager.default.createFile(atPath: configFile, contents: Data(#"{"listen": "127.0.0.1:0", "rentention": "1d"}"#.utf8))
        defer { try? FileManager.default.removeItem(atPath: configFile) }
        let cases: [([String], [String: String], String)] = [
            (["serve", "--data-dir", "/proc/gatewayd-cannot-be-here"], [:],
             "gatewayd: data-dir (from --data-dir): cannot create /proc/gatewayd-cannot-be-here"),
            (["serve"], ["GATEWAY_RETENTION": "forever"],
             "gatewayd: retention (from environment variable GATEWAY_RETENTION): 'forever' is not a duration"),
            (["serve", "--config", configFile], [:],
             #"gatewayd: rentention (from "rentention" in \#(configFile)): unknown setting (did you mean "retention"?)"#),
        ]
        for (arguments, environment, expected) in cases {
            let outcome = try Self.run(arguments, environment: environment)
            #expect(outcome.status == 78, "\(arguments)")
            #expect(outcome.standardError.hasPrefix(expected), "\(outcome.standardError)")
            #expect(outcome.standardError.split(separator: "\n").count == 1, "\(outcome.standardError)")
        }
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func aPortInUseIsNamedNotShared() throws {
        let directory = Self.scratch + "-port"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try CrashTests.Daemon(binary: CrashTests.gatewayd!, dataDirectory: directory + "/a")
        defer { ChildExit.stop(first.process) }
        let outcome = try Self.run(["serve", "--data-dir", directory + "/b"], environment: ["GATEWAY_LISTEN": "127.0.0.1:\(first.port)"])
        #expect(outcome.status == 78)
        #expect(outcome.standardError.contains(
            "gatewayd: listen (from environment variable GATEWAY_LISTEN): cannot listen on 127.0.0.1:\(first.port): Address already in use"),
            "\(outcome.standardError)")
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
    func jsonLogLinesCarryNoCredential() throws {
        let directory = Self.scratch + "-logs"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CrashTests.gatewayd!)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--data-dir", directory, "--log-format", "json", "--log-level", "debug"]
        process.environment = ["GATEWAY_ADMIN_TOKEN": "adm_never_in_a_log_line"]
        let errors = Pipe(), output = Pipe()
        process.standardError = errors
        process.standardOutput = output
        try process.run()
        let banner = Banner.firstLine(of: output.fileHandleForReading)
        let port = try #require(Banner.port(in: banner), "\(banner)")
        // A refused request and an accepted one, with credentials in the headers.
        let client = try RawClient(port: port)
        for token in ["adm_wrong_token_value", "adm_never_in_a_log_line"] {
            try client.sendBlocking(Array("GET /v1/subscriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n\r\n".utf8))
            #expect(client.readResponseBlocking() != nil)
        }
        ChildExit.stop(process)
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let lines = log.split(separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let parsed = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(parsed?["msg"] is String && parsed?["level"] is String && parsed?["time"] is String, "\(line)")
        }
        #expect(!log.contains("adm_never_in_a_log_line") && !log.contains("adm_wrong_token_value"))
        // At debug, each request has its line, with the id its response carried.
        let requestLines = lines.filter { $0.contains(#""msg":"request""#) && $0.contains(#""path":"/v1/subscriptions""#) }
        #expect(requestLines.count == 2 && requestLines.allSatisfy { $0.contains(#""request-id":""#) }, "\(log)")
    }
}
