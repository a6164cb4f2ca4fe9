import ArgumentParser
import Foundation
import JSON

/// `gatewayd config print`: the configuration `serve` would run with, given the same flags,
/// environment and config file — each value with where it came from, secrets redacted.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the effective configuration.",
        subcommands: [Print.self, Reference.self]
    )

    /// The settings table in README.md is this command's output; a test keeps them equal.
    struct Reference: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every serve setting as a Markdown table: flag, variable, default, meaning.")

        func run() { print(Self.markdown, terminator: "") }

        static var markdown: String {
            var table = "| flag / file key | environment | default | what it does |\n|---|---|---|---|\n"
            for setting in ServeSettings.all {
                let shownDefault = setting.defaultValue.map { "`\($0)`" } ?? "none"
                table += "| `--\(setting.name)` | `\(setting.environmentName)` | \(shownDefault) | \(setting.help) |\n"
            }
            return table
        }
    }

    struct Print: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every serve setting's effective value and its source (flag, environment, file, default); secrets are redacted.",
            discussion: "Takes the same flags as serve. With --format json the output is a config file (secrets left out)."
        )

        enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

        @Option(help: "text: one `name = value  # source` line per setting; json: a config file for --config.")
        var format: Format = .text

        @OptionGroup var options: ServeOptions

        func run() throws {
            let settings: ServeConfiguration
            do {
                settings = try Serve.loadSettings(options)
            } catch {
                throw Serve.refuse(error)
            }
            print(Self.render(settings.raw, format: format), terminator: "")
        }

        static func render(_ raw: RawSettings, format: Format) -> String {
            switch format {
            case .text:
                var lines = "# flag > GATEWAY_* environment > config file\(raw.configFile.map { " (\($0))" } ?? "") > default\n"
                let width = ServeSettings.all.map(\.name.count).max() ?? 0
                for setting in ServeSettings.all {
                    let name = setting.name.padding(toLength: width, withPad: " ", startingAt: 0)
                    guard let (value, source) = raw[setting.name] else {
                        lines += "\(name) = (unset)\n"
                        continue
                    }
                    let assignment = "\(name) = \(shown(value, secret: setting.isSecret))"
                    lines += assignment.padding(toLength: max(assignment.count, width + 20), withPad: " ", startingAt: 0)
                    lines += "  # \(source)\n"
                }
                return lines
            case .json:
                var writer = JSONObjectWriter()
                for setting in ServeSettings.all where !setting.isSecret {
                    switch raw[setting.name]?.value {
                    case .text(let text)?: writer.add(setting.name, string: text)
                    case .list(let texts)?:
                        writer.add(setting.name, array: texts.map { text -> [UInt8] in
                            var bytes: [UInt8] = []
                            appendJSONString(text, to: &bytes)
                            return bytes
                        })
                    case nil: continue
                    }
                }
                return String(decoding: writer.finish(), as: UTF8.self) + "\n"
            }
        }

        private static func shown(_ value: SettingValue, secret: Bool) -> String {
            if secret { return "<redacted>" }
            switch value {
            case .text(let text): return text
            case .list(let texts): return texts.joined(separator: ",")
            }
        }
    }
}
