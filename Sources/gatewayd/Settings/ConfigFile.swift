import Foundation
import JSON

/// The optional config file: one JSON object whose keys are setting names, e.g.
/// `{"listen": "0.0.0.0:8080", "retention": "3d", "allow-target": ["10.0.0.0/8"]}`.
/// Read strictly: a key that names no setting, a duplicate key or a value of the wrong shape
/// stops the start, with the file, line and key — a typo must not silently fall back to a
/// default.
enum ConfigFile {
    static func read(path: String, source: SettingSource) throws(SettingError) -> [String: SettingValue] {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            let reason = (error as NSError).code == NSFileReadNoSuchFileError ? "no such file" : "cannot be read"
            throw SettingError(setting: "config", source: source, reason: "\(path): \(reason)")
        }
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes, rejectDuplicateKeys: true)
        } catch {
            let (line, column) = position(of: error.offset, in: bytes)
            throw SettingError(setting: "config", source: source,
                               reason: "\(path):\(line):\(column): not valid JSON: \(error.message)")
        }
        guard case .object(let members) = document else {
            throw SettingError(setting: "config", source: source, reason: "\(path): must be a JSON object of settings")
        }
        var values: [String: SettingValue] = [:]
        for (key, value) in members {
            guard let setting = ServeSettings.all.first(where: { $0.name == key }) else {
                let hint = closestName(to: key).map { " (did you mean \"\($0)\"?)" } ?? ""
                throw SettingError(setting: key, source: .file(path: path, key: key), reason: "unknown setting\(hint)")
            }
            values[key] = try settingValue(value, for: setting, path: path)
        }
        return values
    }

    private static func settingValue(_ value: JSONValue, for setting: Setting, path: String) throws(SettingError) -> SettingValue {
        let wrongShape = SettingError(
            setting: setting.name, source: .file(path: path, key: setting.name),
            reason: {
                if case .list = setting.kind { return "must be a string or an array of strings" }
                return "must be a string, number or boolean"
            }())
        switch value {
        case .string(let text):
            if case .list = setting.kind { return .list(text.split(separator: ",").map(String.init)) }
            return .text(text)
        case .bool(let flag): return .text(String(flag))
        case .number(let number) where value.isInteger && abs(number) < 9e15: return .text(String(Int64(number)))
        case .number(let number): return .text(String(number))
        case .array(let elements):
            guard case .list = setting.kind else { throw wrongShape }
            var texts: [String] = []
            for element in elements {
                guard case .string(let text) = element else { throw wrongShape }
                texts.append(text)
            }
            return .list(texts)
        case .null, .object: throw wrongShape
        }
    }

    /// 1-based line and column of a byte offset, for an error a person can find.
    private static func position(of offset: Int, in bytes: [UInt8]) -> (Int, Int) {
        var line = 1, column = 1
        for byte in bytes.prefix(offset) {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }

    /// The setting a misspelt key most likely meant: the same name with `_` or camelCase
    /// spelt the flag's way, or one edit away.
    private static func closestName(to key: String) -> String? {
        var normalized = ""
        for character in key {
            if character.isUppercase { normalized += "-" + character.lowercased() } else { normalized.append(character == "_" ? "-" : character) }
        }
        if ServeSettings.all.contains(where: { $0.name == normalized }) { return normalized }
        return ServeSettings.all.map(\.name).first { editDistance($0, normalized) <= 2 }
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
