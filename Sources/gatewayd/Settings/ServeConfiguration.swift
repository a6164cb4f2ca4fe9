import Gateway
import HTTPServer
import Logging
import Runtime
import TargetPolicy

/// The `serve` settings, parsed and checked. Every failure names the setting and where its
/// value came from (`SettingError`), so a bad value is found in one look.
struct ServeConfiguration {
    var listen: SocketAddress
    var dataDir: String
    var adminToken: String?
    /// Cluster mode's database; nil runs on the embedded journal.
    var databaseURL: String?
    var nodeID: String?
    var leaseDuration: Duration
    var eventLoops: Int?
    var maxConnections: Int
    var maxBodySize: Int
    var maxHeaderSize: Int
    var headerTimeout: Duration
    var bodyTimeout: Duration
    var keepAliveTimeout: Duration
    var writeTimeout: Duration
    var shutdownGrace: Duration
    var requireEventTypes: Bool
    var idempotencyWindow: Duration
    var maxBatchEvents: Int
    var tenantDefaults: TenantDefaults
    var segmentSize: Int
    var retention: RetentionPolicy
    var targets: TargetAddressPolicy
    var logLevel: Logger.Level
    var logFormat: LogFormat
    /// The values as given, with their sources, for `config print` and error messages.
    let raw: RawSettings

    /// A body becomes one journal record, whose limit is 16 MiB.
    static let largestBody = 16 * 1024 * 1024 - 4096

    init(_ raw: RawSettings) throws(SettingError) {
        self.raw = raw
        let read = SettingParser(raw: raw)
        let listenText = try read.text("listen")
        do {
            listen = try SocketAddress(parsing: listenText)
        } catch {
            throw read.error("listen", "'\(listenText)' is not HOST:PORT or [IPV6]:PORT (\(error))")
        }
        dataDir = try read.text("data-dir")
        guard !dataDir.isEmpty else { throw read.error("data-dir", "must not be empty") }
        adminToken = read.optionalText("admin-token")
        databaseURL = read.optionalText("database-url").flatMap { $0.isEmpty ? nil : $0 }
        nodeID = read.optionalText("node-id").flatMap { $0.isEmpty ? nil : $0 }
        leaseDuration = try read.duration("lease-duration")
        if databaseURL != nil, adminToken?.isEmpty ?? true {
            throw read.error("database-url", "cluster mode needs --admin-token (or GATEWAY_ADMIN_TOKEN): every node must accept the same one")
        }
        eventLoops = try read.text("event-loops") == "auto" ? nil : read.integer("event-loops", atLeast: 1)
        maxConnections = try read.integer("max-connections", atLeast: 1)
        maxBodySize = try read.size("max-body-size", atMost: Self.largestBody)
        maxHeaderSize = try read.size("max-header-size", atLeast: 1024)
        headerTimeout = try read.duration("header-timeout")
        bodyTimeout = try read.duration("body-timeout")
        keepAliveTimeout = try read.duration("keep-alive-timeout")
        writeTimeout = try read.duration("write-timeout")
        shutdownGrace = try read.duration("shutdown-grace")
        requireEventTypes = try read.boolean("require-event-types")
        idempotencyWindow = try read.duration("idempotency-window")
        maxBatchEvents = try read.integer("max-batch-events", atLeast: 1)
        tenantDefaults = TenantDefaults(maxSubscriptions: try read.integer("tenant-max-subscriptions", atLeast: 0))
        if read.optionalText("tenant-delivery-rate-limit") != nil {
            tenantDefaults.deliveryRateLimit = try read.integer("tenant-delivery-rate-limit", atLeast: 1)
        }
        segmentSize = try read.size("segment-size", atLeast: 64 * 1024)
        var policy = RetentionPolicy()
        policy.retention = try read.duration("retention")
        policy.deadLetterRetention = try read.duration("dead-letter-retention")
        if read.optionalText("retention-bytes") != nil { policy.retentionBytes = try read.size("retention-bytes") }
        retention = policy
        if databaseURL != nil, policy.retentionBytes != nil {
            throw read.error("retention-bytes", "applies to the embedded journal only; in cluster mode retention is by time (--retention), partition by partition")
        }
        let allowPrivate = try read.boolean("allow-private-targets")
        do {
            targets = try TargetAddressPolicy(allowPrivate: allowPrivate, allowing: read.list("allow-target"))
        } catch {
            throw read.error("allow-target", "\(error)")
        }
        logLevel = Logger.Level(rawValue: try read.choice("log-level")) ?? .info
        logFormat = LogFormat(rawValue: try read.choice("log-format")) ?? .logfmt
    }

    /// Where a setting's value came from, for messages about it after start (port in use).
    func source(of name: String) -> SettingSource? { raw[name]?.source }
}

/// Parses raw setting values by kind, with one message per kind of mistake.
private struct SettingParser {
    let raw: RawSettings

    func error(_ name: String, _ reason: String) -> SettingError {
        SettingError(setting: name, source: raw[name]?.source, reason: reason)
    }

    func optionalText(_ name: String) -> String? {
        guard case .text(let text)? = raw[name]?.value else { return nil }
        return text
    }

    func text(_ name: String) throws(SettingError) -> String {
        guard let text = optionalText(name) else { throw error(name, "is required") }
        return text
    }

    func list(_ name: String) -> [String] {
        switch raw[name]?.value {
        case .list(let texts)?: texts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case .text(let text)?: [text]
        case nil: []
        }
    }

    func integer(_ name: String, atLeast minimum: Int) throws(SettingError) -> Int {
        let given = try text(name)
        guard let value = Int(given), value >= minimum else {
            throw error(name, "'\(given)' is not a whole number of at least \(minimum)")
        }
        return value
    }

    func duration(_ name: String) throws(SettingError) -> Duration {
        let given = try text(name)
        guard let value = HumanUnits.duration(given) else {
            throw error(name, "'\(given)' is not a duration such as 250ms, 30s, 10m, 36h or 7d")
        }
        return value
    }

    func size(_ name: String, atLeast minimum: Int = 1, atMost maximum: Int = .max) throws(SettingError) -> Int {
        let given = try text(name)
        guard let value = HumanUnits.size(given) else {
            throw error(name, "'\(given)' is not a size such as 4096, 32KiB, 64MiB or 10GiB")
        }
        guard value >= minimum, value <= maximum else {
            let bounds = maximum == .max ? "at least \(minimum) bytes" : "at most \(maximum) bytes"
            throw error(name, "'\(given)' must be \(bounds)")
        }
        return value
    }

    func boolean(_ name: String) throws(SettingError) -> Bool {
        let given = try text(name)
        switch given.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw error(name, "'\(given)' is not true or false")
        }
    }

    func choice(_ name: String) throws(SettingError) -> String {
        let given = try text(name)
        guard case .choice(let choices) = ServeSettings.named(name).kind, choices.contains(given) else {
            if case .choice(let choices) = ServeSettings.named(name).kind {
                throw error(name, "'\(given)' is not one of \(choices.joined(separator: ", "))")
            }
            preconditionFailure("\(name) is not a choice")
        }
        return given
    }
}
