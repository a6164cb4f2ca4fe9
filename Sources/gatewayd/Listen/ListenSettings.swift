import Gateway
import HTTPServer
import Runtime

/// `gatewayd listen`'s options, read and checked. Every value arrives as text and is parsed
/// here rather than by ArgumentParser, so that every bad value gets the same one-line error
/// naming its option (ArgumentParser's own parse errors add the usage).
struct ListenSettings: Sendable {
    var address: SocketAddress
    /// In the order given; "key 1" in the output is the first.
    var secrets: [WebhookSecret]
    /// Seconds either way.
    var tolerance: Int
    var answers: ListenAnswerPolicy.Configuration
    var json: Bool

    struct Text {
        var host: String
        var port: String
        var secrets: [String]
        var failRate: String?
        var status: String?
        var delay: String?
        var retryAfter: String?
        var tolerance: String
        var seed: String?
        var json: Bool
    }

    init(_ text: Text) throws(ListenOptionError) {
        guard let port = UInt16(text.port) else {
            throw ListenOptionError("--port", "'\(text.port)' is not a port number from 0 to 65535 (0 picks a free one)")
        }
        do {
            address = try SocketAddress(host: text.host == "localhost" ? "127.0.0.1" : text.host, port: port)
        } catch {
            throw ListenOptionError("--host", "'\(text.host)' is not a numeric IPv4 or IPv6 address (or localhost)")
        }
        secrets = try Self.secrets(text.secrets)
        guard let tolerance = HumanUnits.duration(text.tolerance) else {
            throw ListenOptionError("--tolerance", "'\(text.tolerance)' is not a duration such as 30s, 5m or 1h")
        }
        self.tolerance = Int(tolerance.components.seconds)
        answers = try Self.answers(text)
        json = text.json
    }

    /// `--secret` may be repeated and each may hold several, comma-separated (rotation).
    /// A bad one is named by position, never echoed: it is a secret.
    private static func secrets(_ values: [String]) throws(ListenOptionError) -> [WebhookSecret] {
        let texts = values.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { String($0.trimmingOWS()) }
        var secrets: [WebhookSecret] = []
        for (index, text) in texts.enumerated() {
            do {
                secrets.append(try WebhookSecret(parsing: text))
            } catch {
                let which = texts.count > 1 ? "secret \(index + 1) of \(texts.count): " : ""
                throw ListenOptionError("--secret", which + error.description)
            }
        }
        return secrets
    }

    private static func answers(_ text: Text) throws(ListenOptionError) -> ListenAnswerPolicy.Configuration {
        var configuration = ListenAnswerPolicy.Configuration()
        if let rate = text.failRate {
            guard let value = Double(rate), value >= 0, value <= 1 else {
                throw ListenOptionError("--fail-rate", "'\(rate)' is not a probability from 0 to 1 (0.3 fails 30% of requests)")
            }
            configuration.failRate = value
        }
        if let status = text.status {
            guard let value = Int(status), (200...599).contains(value) else {
                throw ListenOptionError("--status", "'\(status)' is not an HTTP status from 200 to 599")
            }
            configuration.failureStatus = value
        }
        if let delay = text.delay {
            guard let value = HumanUnits.duration(delay) else {
                throw ListenOptionError("--delay", "'\(delay)' is not a duration such as 250ms, 2s or 1m")
            }
            configuration.delay = value
        }
        if let retryAfter = text.retryAfter {
            guard let value = HumanUnits.duration(retryAfter), value >= .seconds(1) else {
                throw ListenOptionError("--retry-after", "'\(retryAfter)' is not a duration of at least 1s, such as 10s or 2m")
            }
            // Retry-After is whole seconds (RFC 9110 §10.2.3); round up so it never says less.
            let (seconds, attoseconds) = value.components
            configuration.retryAfterSeconds = Int(seconds) + (attoseconds > 0 ? 1 : 0)
        }
        if let seed = text.seed {
            guard let value = UInt64(seed) else {
                throw ListenOptionError("--seed", "'\(seed)' is not a whole number from 0 to \(UInt64.max)")
            }
            configuration.seed = value
        }
        return configuration
    }
}

/// A bad option value: one line naming the option, then why. ArgumentParser prints it as
/// `Error: …` and exits 1.
struct ListenOptionError: Error, Equatable, CustomStringConvertible {
    let option: String
    let reason: String

    init(_ option: String, _ reason: String) {
        self.option = option
        self.reason = reason
    }

    var description: String { "\(option): \(reason)" }
}
