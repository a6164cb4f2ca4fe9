import JSON

/// The small renderings `gatewayd listen`'s reports share: durations, header values that
/// must not be shown whole, and bodies made safe to print on a terminal.
enum ListenFormat {
    /// Most of a body shown; the rest is counted, not printed (a 1 MiB body would bury
    /// every other delivery).
    static let maxShownBodyBytes = 16 * 1024
    /// Longest header value shown whole.
    static let maxShownHeaderBytes = 200

    /// Whole seconds as people say them: `42s`, `7m`, `7m30s`, `2h5m`, `3d4h`.
    static func seconds(_ value: Int) -> String {
        let magnitude = value.magnitude
        let sign = value < 0 ? "-" : ""
        let units: [(size: UInt, name: String)] = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")]
        guard let major = units.firstIndex(where: { magnitude >= $0.size }), major < units.count - 1 else {
            return "\(sign)\(magnitude)s"
        }
        let whole = magnitude / units[major].size
        let minor = magnitude % units[major].size / units[major + 1].size
        return "\(sign)\(whole)\(units[major].name)" + (minor > 0 ? "\(minor)\(units[major + 1].name)" : "")
    }

    /// Microseconds as an interval between deliveries: `0.25s`, `5.0s`, then as `seconds`.
    static func interval(microseconds: Int64) -> String {
        if microseconds < 60_000_000 {
            let tenths = (microseconds + 50_000) / 100_000
            return microseconds < 1_000_000 ? "\(microseconds / 1000)ms" : "\(tenths / 10).\(tenths % 10)s"
        }
        return seconds(Int(microseconds / 1_000_000))
    }

    /// `webhook-signature` shortened: each entry's version and the first 8 characters of its
    /// MAC (enough to tell entries apart, useless for forging).
    static func shortSignature(_ header: String) -> String {
        header.split(separator: " ").map { entry -> String in
            guard let comma = entry.firstIndex(of: ",") else { return String(entry.prefix(8)) + "…" }
            let mac = entry[entry.index(after: comma)...]
            return String(entry[...comma]) + mac.prefix(8) + (mac.count > 8 ? "…" : "")
        }.joined(separator: " ")
    }

    /// Headers whose values are credentials: shown by their scheme only.
    static let credentialHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie", "x-api-key"]

    /// A header's value as shown: the signature shortened, credentials redacted, long
    /// values cut, control characters escaped.
    static func headerValue(name: String, _ value: String) -> String {
        if name == "webhook-signature" || name == "svix-signature" { return shortSignature(value) }
        if credentialHeaders.contains(name) {
            // `Bearer …`: the scheme says what kind of credential came, the rest stays hidden.
            let scheme = value.contains(" ") ? printable(String(value.prefix { $0 != " " }.prefix(20))) + " " : ""
            return scheme + "… (redacted, \(value.utf8.count) characters)"
        }
        return printable(cut(value, toBytes: maxShownHeaderBytes))
    }

    /// What a body is and how it reads, for a report.
    enum Body {
        case empty
        /// Valid JSON, re-laid out (pretty or compact); every token kept byte for byte.
        case json([UInt8])
        /// UTF-8 text (`notJSON` says why it is not JSON when it was declared JSON).
        case text(String, notJSON: String?)
        case binary(count: Int, head: [UInt8])
    }

    static func body(_ bytes: [UInt8], contentType: String?, pretty: Bool) -> Body {
        if bytes.isEmpty { return .empty }
        do {
            return .json(pretty ? try JSONLayout.pretty(bytes) : try JSONLayout.compact(bytes))
        } catch {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                return .binary(count: bytes.count, head: Array(bytes.prefix(16)))
            }
            let declaredJSON = contentType.map { $0.lowercased().contains("json") } ?? false
            return .text(text, notJSON: declaredJSON ? error.description : nil)
        }
    }

    /// At most `limit` bytes of `text`, cut at a character boundary, `…` marking the cut.
    static func cut(_ text: String, toBytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: limit)
        // Back off to the first byte of a scalar (continuation bytes are 10xxxxxx).
        while end > text.utf8.startIndex, UTF8.isContinuation(text.utf8[end]) { end = text.utf8.index(before: end) }
        return String(decoding: text.utf8[..<end], as: UTF8.self) + "…"
    }

    /// Escapes what a terminal would act on (ESC sequences, other C0 and C1 controls, DEL),
    /// keeping newlines and tabs: a body is untrusted input printed to someone's terminal.
    static func printable(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if scalar == "\n" || scalar == "\t" || (value >= 0x20 && value != 0x7F && !(0x80...0x9F).contains(value)) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{" + String(value, radix: 16) + "}"
            }
        }
        return out
    }
}
