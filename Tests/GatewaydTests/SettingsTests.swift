import Foundation
@testable import gatewayd
import TestSupport
import Testing

/// Settings: flag > GATEWAY_* > config file > default, every value read by one parser, and
/// every bad value refused with the setting's name and where it came from.
@Suite("gatewayd settings")
struct SettingsTests {
    final class Scratch {
        let path = NSTemporaryDirectory() + "gatewayd-settings-" + UUID().uuidString
        init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func file(_ name: String, _ text: String) -> String {
            let file = path + "/" + name
            FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
            return file
        }
    }

    private func settings(_ arguments: [String] = [], environment: [String: String] = [:]) throws -> ServeConfiguration {
        try Serve.loadSettings(try ServeOptions.parse(arguments), environment: environment)
    }

    private func refusal(_ arguments: [String] = [], environment: [String: String] = [:]) -> SettingError? {
        do {
            _ = try settings(arguments, environment: environment)
            return nil
        } catch let error as SettingError {
            return error
        } catch {
            Issue.record("not a SettingError: \(error)")
            return nil
        }
    }

    /// Cluster mode: every node must take the same admin token (none is generated per node),
    /// retention is by time only, and the URL (which may hold a password) is a secret.
    @Test func clusterModeSettingsAreCheckedAtStart() throws {
        let cluster = try settings(["--database-url", "postgresql://gw:pw@db/gateway", "--admin-token", "t", "--node-id", "n1"])
        #expect(cluster.databaseURL == "postgresql://gw:pw@db/gateway" && cluster.nodeID == "n1")
        #expect(cluster.leaseDuration == .seconds(45))
        #expect(refusal(["--database-url", "postgresql://db/gateway"])?.description.contains("needs --admin-token") == true)
        #expect(refusal(["--database-url", "postgresql://db/gateway", "--admin-token", "t", "--retention-bytes", "1GiB"])?
            .description.contains("embedded journal only") == true)
        #expect(ServeSettings.named("database-url").isSecret)
    }

    @Test func defaultsAreTheDocumentedOnes() throws {
        let defaults = try settings()
        #expect(defaults.listen.description == "127.0.0.1:8080" && defaults.dataDir == "./data")
        #expect(defaults.maxBodySize == 1 << 20 && defaults.maxHeaderSize == 32 << 10 && defaults.segmentSize == 64 << 20)
        #expect(defaults.headerTimeout == .seconds(10) && defaults.idempotencyWindow == .seconds(86_400))
        #expect(defaults.retention.retention == .seconds(7 * 86_400) && defaults.retention.retentionBytes == nil)
        #expect(defaults.retention.deadLetterRetention == .seconds(14 * 86_400))
        #expect(defaults.eventLoops == nil && defaults.adminToken == nil && defaults.logFormat == .logfmt)
        for setting in ServeSettings.all {
            #expect(defaults.source(of: setting.name) == (setting.defaultValue == nil ? nil : .defaultValue), "\(setting.name)")
        }
    }

    @Test func aFlagBeatsTheEnvironmentWhichBeatsTheFileWhichBeatsTheDefault() throws {
        let scratch = Scratch()
        let file = scratch.file("gatewayd.json", #"{"retention": "1d", "max-connections": 7, "shutdown-grace": "3s", "allow-target": ["10.0.0.0/8"]}"#)
        let environment = ["GATEWAY_CONFIG": file, "GATEWAY_RETENTION": "2d", "GATEWAY_MAX_CONNECTIONS": "8"]
        let resolved = try settings(["--retention", "3d"], environment: environment)
        #expect(resolved.retention.retention == .seconds(3 * 86_400))
        #expect(resolved.source(of: "retention") == .flag("retention"))
        #expect(resolved.maxConnections == 8)
        #expect(resolved.source(of: "max-connections") == .environment("GATEWAY_MAX_CONNECTIONS"))
        #expect(resolved.shutdownGrace == .seconds(3))
        #expect(resolved.source(of: "shutdown-grace") == .file(path: file, key: "shutdown-grace"))
        #expect(resolved.targets.allowList.count == 1)
        #expect(resolved.writeTimeout == .seconds(30) && resolved.source(of: "write-timeout") == .defaultValue)
        // --config beats GATEWAY_CONFIG.
        let other = scratch.file("other.json", #"{"shutdown-grace": "4s"}"#)
        #expect(try settings(["--config", other], environment: environment).shutdownGrace == .seconds(4))
    }

    @Test func booleansListsAndTheirNegations() throws {
        let environment = ["GATEWAY_ALLOW_PRIVATE_TARGETS": "true", "GATEWAY_ALLOW_TARGET": "10.0.0.0/8, 192.168.0.0/16"]
        let fromEnvironment = try settings(environment: environment)
        #expect(fromEnvironment.targets.allowPrivate && fromEnvironment.targets.allowList.count == 2)
        let overridden = try settings(["--no-allow-private-targets", "--allow-target", "172.16.0.0/12"], environment: environment)
        #expect(!overridden.targets.allowPrivate && overridden.targets.allowList.count == 1)
        #expect(try settings(["--require-event-types"]).requireEventTypes)
    }

    @Test func humanUnitsEverywhere() throws {
        let resolved = try settings([
            "--max-body-size", "512KiB", "--max-header-size", "8192", "--segment-size", "1MiB", "--header-timeout", "1500ms",
            "--idempotency-window", "36h", "--retention-bytes", "10GiB", "--dead-letter-retention", "90s", "--event-loops", "3",
        ])
        #expect(resolved.maxBodySize == 512 << 10 && resolved.maxHeaderSize == 8192 && resolved.segmentSize == 1 << 20)
        #expect(resolved.headerTimeout == .milliseconds(1500) && resolved.idempotencyWindow == .seconds(36 * 3600))
        #expect(resolved.retention.retentionBytes == 10 << 30 && resolved.retention.deadLetterRetention == .seconds(90))
        #expect(resolved.eventLoops == 3)
    }

    /// Each kind of mistake, from each kind of source: the message names the setting and
    /// where the value came from.
    @Test(arguments: [
        (["--retention", "7"], [:], "retention (from --retention): '7' is not a duration"),
        ([], ["GATEWAY_HEADER_TIMEOUT": "soon"], "header-timeout (from environment variable GATEWAY_HEADER_TIMEOUT): 'soon' is not a duration"),
        (["--max-body-size", "lots"], [:], "max-body-size (from --max-body-size): 'lots' is not a size"),
        (["--max-body-size", "1GiB"], [:], "max-body-size (from --max-body-size): '1GiB' must be at most"),
        (["--max-connections", "0"], [:], "max-connections (from --max-connections): '0' is not a whole number of at least 1"),
        ([], ["GATEWAY_REQUIRE_EVENT_TYPES": "maybe"], "require-event-types (from environment variable GATEWAY_REQUIRE_EVENT_TYPES): 'maybe' is not true or false"),
        (["--log-format", "xml"], [:], "log-format (from --log-format): 'xml' is not one of logfmt, json"),
        (["--listen", "localhost"], [:], "listen (from --listen): 'localhost' is not HOST:PORT"),
        (["--allow-target", "10.0.0.0/33"], [:], "allow-target (from --allow-target):"),
        (["--config", "/nonexistent/gatewayd.json"], [:], "config (from --config): /nonexistent/gatewayd.json: no such file"),
    ] as [([String], [String: String], String)])
    func badValuesNameTheSettingAndItsSource(_ arguments: [String], _ environment: [String: String], _ expected: String) {
        let error = refusal(arguments, environment: environment)
        #expect(error?.description.hasPrefix(expected) == true, "\(String(describing: error))")
    }

    @Test func theConfigFileIsReadStrictly() throws {
        let scratch = Scratch()
        let cases: [(String, String)] = [
            (#"{"retension": "3d"}"#, #"retension (from "retension" in FILE): unknown setting (did you mean "retention"?)"#),
            (#"{"maxConnections": 5}"#, #"maxConnections (from "maxConnections" in FILE): unknown setting (did you mean "max-connections"?)"#),
            ("{\n  \"retention\": \"3d\",\n}", "config (from --config): FILE:3:1: not valid JSON"),
            (#"{"retention": "3d", "retention": "4d"}"#, "config (from --config): FILE:1:21: not valid JSON: duplicate key"),
            (#"["listen"]"#, "config (from --config): FILE: must be a JSON object of settings"),
            (#"{"listen": {"host": "x"}}"#, #"listen (from "listen" in FILE): must be a string, number or boolean"#),
            (#"{"allow-target": [1]}"#, #"allow-target (from "allow-target" in FILE): must be a string or an array of strings"#),
            (#"{"retention": 7}"#, #"retention (from "retention" in FILE): '7' is not a duration"#),
        ]
        for (index, (text, expected)) in cases.enumerated() {
            let file = scratch.file("case\(index).json", text)
            let error = refusal(["--config", file])
            let wanted = expected.replacingOccurrences(of: "FILE", with: file)
            #expect(error?.description.hasPrefix(wanted) == true, "\(text): \(String(describing: error))")
        }
    }

    @Test func configPrintShowsSourcesAndRedactsSecrets() throws {
        let scratch = Scratch()
        let file = scratch.file("gatewayd.json", #"{"admin-token": "adm_from_file_secret", "retention": "2d"}"#)
        let resolved = try settings(["--config", file, "--listen", "0.0.0.0:9000"], environment: ["GATEWAY_SEGMENT_SIZE": "8MiB"])
        let text = ConfigCommand.Print.render(resolved.raw, format: .text)
        #expect(!text.contains("adm_from_file_secret"))
        // Names are padded to the longest one, whatever that is.
        let lines = text.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("admin-token ") && $0.contains(" = <redacted>") })
        #expect(lines.contains { $0.hasPrefix("listen ") && $0.contains(" = 0.0.0.0:9000") && $0.contains("# --listen") })
        #expect(text.contains("# environment variable GATEWAY_SEGMENT_SIZE"))
        #expect(text.contains("# \"retention\" in \(file)"))
        // The JSON form is a config file that reproduces the same settings, minus secrets.
        let json = ConfigCommand.Print.render(resolved.raw, format: .json)
        #expect(!json.contains("adm_from_file_secret"))
        let again = try settings(["--config", scratch.file("printed.json", json)])
        #expect(again.listen.description == "0.0.0.0:9000" && again.segmentSize == 8 << 20)
        #expect(again.retention.retention == .seconds(2 * 86_400) && again.adminToken == nil)
    }

    @Test func everySettingIsDocumentedInHelpWithItsDefaultAndVariable() {
        let help = Serve.helpMessage(columns: 1000)
        for setting in ServeSettings.all {
            #expect(help.contains("--\(setting.name)"), "\(setting.name)")
            #expect(help.contains("env \(setting.environmentName)"), "\(setting.name)")
            #expect(help.contains("default: \(setting.defaultValue ?? "none")"), "\(setting.name)")
        }
    }

    @Test func theREADMESettingsTableIsTheGeneratedOne() throws {
        let root = OpenAPIContract.packageRoot
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let begin = try #require(readme.range(of: "<!-- settings:begin -->\n"))
        let end = try #require(readme.range(of: "<!-- settings:end -->"))
        #expect(String(readme[begin.upperBound..<end.lowerBound]) == ConfigCommand.Reference.markdown,
                "README.md's settings table differs from `gatewayd config reference`: paste its output between the markers")
    }
}
