import Gateway
import HTTPServer
import JSON

/// What `gatewayd listen` prints for each request: a block for people, or one JSON line for
/// scripts (`--json`). Never the secret, and never a whole signature or credential.
enum ListenReport {
    /// The headers a webhook is about, shown first and in this order; then every other
    /// header as received, except the transport's own.
    static let leadingHeaders = [
        "webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature",
        "content-type", "user-agent",
    ]
    static let hiddenHeaders: Set<String> = [
        "host", "content-length", "connection", "accept", "accept-encoding", "expect", "transfer-encoding", "te",
    ]

    /// ANSI colours when printing to a terminal; none otherwise (or with NO_COLOR set).
    struct Style: Sendable {
        var colours: Bool

        static let plain = Style(colours: false)

        func bold(_ text: String) -> String { paint(text, "1") }
        func dim(_ text: String) -> String { paint(text, "2") }
        func good(_ text: String) -> String { paint(text, "32") }
        func bad(_ text: String) -> String { paint(text, "31") }

        private func paint(_ text: String, _ code: String) -> String {
            colours ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
        }
    }

    /// The headers to show, names lowercased, values made safe to show.
    static func shownHeaders(_ headers: HTTPHeaders) -> [(name: String, value: String)] {
        let all = headers.map { (name: $0.name.lowercased(), value: $0.value) }
        let leading = leadingHeaders.flatMap { name in all.filter { $0.name == name } }
        let rest = all.filter { !leadingHeaders.contains($0.name) && !hiddenHeaders.contains($0.name) }
        return (leading + rest).map { (ListenFormat.printable($0.name), ListenFormat.headerValue(name: $0.name, $0.value)) }
    }

    // MARK: - For people

    static func text(_ request: ReceivedRequest, style: Style = .plain) -> String {
        var lines: [String] = []
        let target = ListenFormat.printable(request.target)
        lines.append(style.bold("#\(request.number)  \(request.method) \(target)")
            + "  " + style.dim(Timestamp.format(microseconds: request.receivedAt)))
        func field(_ name: String, _ value: String) {
            let padding = String(repeating: " ", count: max(1, 19 - name.count))
            lines.append("  " + name + padding + value)
        }
        for header in shownHeaders(request.headers) {
            field(header.name, header.value + annotation(for: header.name, request, style))
        }
        let verdict = request.verification.summary
        switch request.verification {
        case .valid: field("signature", style.good(verdict))
        case .invalid: field("signature", style.bad(verdict))
        case .unchecked: field("signature", style.dim(verdict))
        }
        lines.append(contentsOf: bodyLines(request))
        lines.append("  " + answerLine(request, style))
        return lines.joined(separator: "\n") + "\n\n"
    }

    /// `(delivery 3 of this id, +5.0s)` after `webhook-id`; `(2s ago)` after the timestamp.
    private static func annotation(for name: String, _ request: ReceivedRequest, _ style: Style) -> String {
        switch name {
        case "webhook-id", "svix-id":
            guard let sighting = request.sighting, sighting.count > 1 else { return "" }
            let since = sighting.microsecondsSincePrevious.map { ", +" + ListenFormat.interval(microseconds: $0) } ?? ""
            return "  " + style.dim("(delivery \(sighting.count) of this id\(since))")
        case "webhook-timestamp", "svix-timestamp":
            guard let text = request.headers[name], let sent = try? WebhookVerifier.parseTimestamp(text) else { return "" }
            let (age, overflow) = Int(request.receivedAt / 1_000_000).subtractingReportingOverflow(sent)
            guard !overflow else { return "" }
            let when = age >= 0 ? "\(ListenFormat.seconds(age)) ago" : "\(ListenFormat.seconds(-age)) in the future"
            return "  " + style.dim("(\(when))")
        default:
            return ""
        }
    }

    private static func bodyLines(_ request: ReceivedRequest) -> [String] {
        let size = "\(request.body.count) byte\(request.body.count == 1 ? "" : "s")"
        let rendered: String
        switch ListenFormat.body(request.body, contentType: request.headers["content-type"], pretty: true) {
        case .empty:
            return ["  body               (empty)"]
        case .binary(let count, let head):
            let hex = head.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            return ["  body               \(count) bytes, not UTF-8 text; starts \(hex)\(count > head.count ? " …" : "")"]
        case .json(let bytes):
            rendered = String(decoding: bytes, as: UTF8.self)
            return ["  body               \(size) of JSON"] + indented(rendered)
        case .text(let text, let notJSON):
            let why = notJSON.map { " (declared JSON, but: \($0))" } ?? ""
            return ["  body               \(size) of text\(why)"] + indented(ListenFormat.printable(text))
        }
    }

    /// Each line indented by two spaces, cut after `maxShownBodyBytes`.
    private static func indented(_ text: String) -> [String] {
        let limit = ListenFormat.maxShownBodyBytes
        let shown = ListenFormat.cut(text, toBytes: limit)
        var lines = shown.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
        if text.utf8.count > limit {
            let hidden = text.utf8.count - (shown.utf8.count - "…".utf8.count)
            lines.append("  (\(hidden) more bytes not shown)")
        }
        return lines
    }

    /// `→ 500 Internal Server Error (fail-rate 0.3), held 2s, Retry-After: 10`.
    private static func answerLine(_ request: ReceivedRequest, _ style: Style) -> String {
        let answer = request.answer
        var text = "→ \(answer.status) \(HTTPStatus.reasonPhrase(answer.status))"
        switch answer.reason {
        case .success: break
        case .failRate: text += " (fail-rate \(request.failRate.map { "\($0)" } ?? "?"))"
        case .status: text += " (--status)"
        }
        if let delay = answer.delay { text += ", held \(delayText(delay))" }
        if let retryAfter = answer.retryAfterSeconds { text += ", Retry-After: \(retryAfter)" }
        return (200..<300).contains(answer.status) ? style.good(text) : style.bad(text)
    }

    static func delayText(_ delay: Duration) -> String {
        let milliseconds = delayMilliseconds(delay)
        return milliseconds % 1000 == 0 ? ListenFormat.seconds(Int(milliseconds / 1000)) : "\(milliseconds)ms"
    }

    static func delayMilliseconds(_ delay: Duration) -> Int64 {
        let (seconds, attoseconds) = delay.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    // MARK: - For scripts

    /// One line of JSON, ending in a newline: `n`, `receivedAt`, `method`, `target`,
    /// `headers` (as shown), `seen` (deliveries of this webhook-id so far), `signature`
    /// (`valid`/`invalid`/`unchecked`) with `verification` (its reason) and `key` (1-based)
    /// when valid, `bodyBytes`, then `body` (the JSON, compacted) or `bodyText`, and the
    /// answer: `status`, `reason` (`ok`, `fail-rate`, `status`), `delayMs`.
    static func jsonLine(_ request: ReceivedRequest) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("n", number: request.number)
        json.add("receivedAt", string: Timestamp.format(microseconds: request.receivedAt))
        json.add("method", string: request.method)
        json.add("target", string: request.target)
        var headers = JSONObjectWriter()
        var seenNames: Set<String> = []
        for header in shownHeaders(request.headers) where seenNames.insert(header.name).inserted {
            headers.add(header.name, string: header.value)
        }
        json.add("headers", raw: headers.finish())
        if let sighting = request.sighting { json.add("seen", number: sighting.count) }
        json.add("signature", string: request.verification.verdict)
        json.add("verification", string: request.verification.summary)
        if case .valid(let match, _) = request.verification { json.add("key", number: match.secretIndex + 1) }
        json.add("bodyBytes", number: request.body.count)
        switch ListenFormat.body(request.body, contentType: request.headers["content-type"], pretty: false) {
        case .empty, .binary:
            break
        case .json(let compact):
            json.add("body", raw: compact)
        case .text(let text, _):
            json.add("bodyText", string: ListenFormat.cut(text, toBytes: ListenFormat.maxShownBodyBytes))
        }
        json.add("status", number: request.answer.status)
        json.add("reason", string: request.answer.reason.rawValue)
        if let delay = request.answer.delay { json.add("delayMs", number: Int(delayMilliseconds(delay))) }
        return json.finish() + [UInt8(ascii: "\n")]
    }
}
