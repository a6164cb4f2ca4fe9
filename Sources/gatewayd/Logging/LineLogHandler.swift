import Foundation
import JSON
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// How log lines are written: logfmt (`time=… level=info msg="…" key=value`) for people and
/// grep, or JSON lines for a log pipeline.
enum LogFormat: String, Sendable {
    case logfmt, json
}

/// A swift-log handler that writes one line per message to stderr, in one `write` so lines
/// from different threads never interleave. Metadata whose key names a credential (token,
/// secret, signature, authorization, password) is written as `[redacted]`: a log line must
/// never carry one, whoever added the metadata.
struct LineLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    /// Where lines go; stderr unless a test captures them.
    var output: @Sendable ([UInt8]) -> Void = LineLogHandler.writeToStandardError

    init(label: String, format: LogFormat, level: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let fields = merged.sorted { $0.key < $1.key }.map { key, value in
            (key, Self.isCredential(key) ? "[redacted]" : "\(value)")
        }
        output(Self.line(format: format, time: Date(), level: event.level, label: label,
                         message: "\(event.message)", fields: fields))
    }

    static func line(format: LogFormat, time: Date, level: Logger.Level, label: String,
                     message: String, fields: [(String, String)]) -> [UInt8] {
        let stamp = timestamp(time)
        var line: [UInt8] = []
        switch format {
        case .logfmt:
            var text = "time=\(stamp) level=\(level.rawValue) logger=\(logfmtValue(label)) msg=\(logfmtValue(message))"
            for (key, value) in fields { text += " \(logfmtKey(key))=\(logfmtValue(value))" }
            line = Array(text.utf8)
        case .json:
            var writer = JSONObjectWriter()
            writer.add("time", string: stamp)
            writer.add("level", string: level.rawValue)
            writer.add("logger", string: label)
            writer.add("msg", string: message)
            for (key, value) in fields where !["time", "level", "logger", "msg"].contains(key) {
                writer.add(key, string: value)
            }
            line = writer.finish()
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// Keys whose values are credentials, matched loosely (`admin-token`, `webhook-signature`).
    static func isCredential(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return ["token", "secret", "signature", "authorization", "password"].contains { lowered.contains($0) }
    }

    /// A bare word when it is one; otherwise quoted with `"` and `\` escaped and control
    /// characters written as escapes, so one message is always one line.
    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains {
            $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || $0.value < 0x20 || $0.value == 0x7F
        }
        guard needsQuotes else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                quoted += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// Keys are written bare; anything that would break the `key=value` shape becomes `_`.
    static func logfmtKey(_ key: String) -> String {
        String(key.map { $0 == " " || $0 == "=" || $0 == "\"" || $0.isNewline ? "_" : $0 })
    }

    /// RFC 3339 UTC with milliseconds: `2026-12-06T03:10:10.123Z`.
    static func timestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        let milliseconds = Int((seconds - Double(whole)) * 1000)
        var parts = tm()
        gmtime_r(&whole, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)Z"
    }

    @Sendable static func writeToStandardError(_ line: [UInt8]) {
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 { if errno == EINTR { continue }; return }
                offset += written
            }
        }
    }
}
