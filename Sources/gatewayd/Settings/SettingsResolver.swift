import Configuration
import Foundation
import Synchronization

/// A setting's value before it is parsed: text, or several texts for a list.
enum SettingValue: Sendable, Equatable {
    case text(String)
    case list([String])

    var configValue: ConfigValue {
        switch self {
        case .text(let text): ConfigValue(.string(text), isSecret: false)
        case .list(let texts): ConfigValue(.stringArray(texts), isSecret: false)
        }
    }
}

/// Where a setting's value came from, named the way a user would look for it.
enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    case flag(String)
    case environment(String)
    case file(path: String, key: String)
    case defaultValue

    var description: String {
        switch self {
        case .flag(let name): "--\(name)"
        case .environment(let variable): "environment variable \(variable)"
        case .file(let path, let key): "\"\(key)\" in \(path)"
        case .defaultValue: "the default"
        }
    }
}

/// A setting that cannot be used, said in one line: which setting, from where, and why.
struct SettingError: Error, CustomStringConvertible, Equatable {
    let setting: String
    let source: SettingSource?
    let reason: String

    var description: String {
        guard let source else { return "\(setting): \(reason)" }
        return "\(setting) (from \(source)): \(reason)"
    }
}

/// Every setting's raw value and where it came from, before parsing.
struct RawSettings: Sendable {
    var values: [String: (value: SettingValue, source: SettingSource)] = [:]
    /// Where the config file was read from, if one was.
    var configFile: String?

    subscript(name: String) -> (value: SettingValue, source: SettingSource)? { values[name] }
}

/// Layers the sources with swift-configuration: flags over `GATEWAY_*` variables over the
/// config file over the defaults. The file is read by `ConfigFile` (our strict JSON parser,
/// so an unknown key or a duplicate is refused with its line) and handed over in memory.
enum SettingsResolver {
    static func resolve(
        flags: [String: SettingValue], configFlag: String?, environment: [String: String]
    ) throws(SettingError) -> RawSettings {
        var raw = RawSettings()
        var fileValues: [String: SettingValue] = [:]
        let configPath = configFlag ?? environment["GATEWAY_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        if let configPath {
            let source: SettingSource = configFlag != nil ? .flag("config") : .environment("GATEWAY_CONFIG")
            fileValues = try ConfigFile.read(path: configPath, source: source)
            raw.configFile = configPath
        }
        let secrets = Set(ServeSettings.all.filter(\.isSecret).map(\.environmentName))
        let providers: [any ConfigProvider] = [
            InMemoryProvider(name: Layer.flags, values: keyed(flags)),
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(secrets))
                .prefixKeys(with: "gateway"),
            InMemoryProvider(name: Layer.file, values: keyed(fileValues)),
        ]
        let recorder = SourceRecorder()
        let reader = ConfigReader(providers: providers, accessReporter: recorder)
        for setting in ServeSettings.all {
            let key = ConfigKey([setting.name])
            let value: SettingValue?
            if case .list = setting.kind {
                value = reader.stringArray(forKey: key, isSecret: setting.isSecret).map(SettingValue.list)
            } else {
                value = reader.string(forKey: key, isSecret: setting.isSecret).map(SettingValue.text)
            }
            guard let value else {
                if let fallback = setting.defaultValue { raw.values[setting.name] = (.text(fallback), .defaultValue) }
                continue
            }
            let source: SettingSource
            switch recorder.lastAnswer {
            case (Layer.flags, _)?: source = .flag(setting.name)
            case (Layer.file, _)?: source = .file(path: configPath ?? "", key: setting.name)
            case (_, let encodedKey)?: source = .environment(encodedKey)
            case nil: source = .defaultValue
            }
            raw.values[setting.name] = (value, source)
        }
        return raw
    }

    private enum Layer {
        static let flags = "flags"
        static let file = "config file"
    }

    private static func keyed(_ values: [String: SettingValue]) -> [AbsoluteConfigKey: ConfigValue] {
        Dictionary(uniqueKeysWithValues: values.map { (AbsoluteConfigKey([$0.key]), $0.value.configValue) })
    }
}

/// Notes which provider answered the last lookup: swift-configuration reports every access
/// with each provider's result, which is how a value's source is known.
private final class SourceRecorder: AccessReporter, Sendable {
    private let answer = Mutex<(provider: String, encodedKey: String)?>(nil)

    var lastAnswer: (provider: String, encodedKey: String)? {
        answer.withLock { last in
            defer { last = nil }
            guard let found = last else { return nil }
            // InMemoryProvider names itself "InMemoryProvider[name]".
            for layer in ["flags", "config file"] where found.provider.contains("[\(layer)]") {
                return (layer, found.encodedKey)
            }
            return found
        }
    }

    func report(_ event: AccessEvent) {
        let found = event.providerResults.first { result in
            if case .success(let lookup) = result.result { return lookup.value != nil }
            return false
        }
        guard let found, case .success(let lookup) = found.result else { return }
        answer.withLock { $0 = (found.providerName, lookup.encodedKey) }
    }
}
