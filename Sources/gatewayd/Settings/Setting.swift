/// One `serve` setting: its name is the flag (`--max-connections`), the config file key
/// (`"max-connections"`) and, upper-cased with a `GATEWAY_` prefix, the environment variable
/// (`GATEWAY_MAX_CONNECTIONS`). One table, so `--help`, `config print`, the file check and the
/// README's reference cannot disagree about what exists.
struct Setting: Sendable {
    enum Kind: Sendable {
        case text, integer, duration, size, boolean, list
        /// A value from a fixed set, e.g. the log level.
        case choice([String])
    }

    let name: String
    let kind: Kind
    /// The value used when no flag, variable or file sets it, as a user would write it; nil
    /// when the absence means something (no size limit, generated admin token).
    let defaultValue: String?
    let help: String
    /// Never printed: `config print` shows `<redacted>`.
    var isSecret = false

    var environmentName: String { "GATEWAY_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }

    /// What `--help` shows after the description.
    var helpText: String {
        let shownDefault = defaultValue.map { "default: \($0)" } ?? "default: none"
        return "\(help) (\(shownDefault); env \(environmentName))"
    }
}

/// Every setting `gatewayd serve` reads, in `--help` order.
enum ServeSettings {
    static let all: [Setting] = [
        Setting(name: "listen", kind: .text, defaultValue: "127.0.0.1:8080",
                help: "Address to listen on: HOST:PORT or [IPV6]:PORT; port 0 picks a free port"),
        Setting(name: "data-dir", kind: .text, defaultValue: "./data",
                help: "Directory for the embedded storage; created if missing"),
        Setting(name: "database-url", kind: .text, defaultValue: nil,
                help: "Run as a node of a cluster on this PostgreSQL 15+ database (postgresql://USER:PASSWORD@HOST:PORT/DB or libpq keywords) instead of the embedded journal in --data-dir; needs --admin-token",
                isSecret: true),
        Setting(name: "node-id", kind: .text, defaultValue: nil,
                help: "This node's name in the cluster (logs, pg_stat_activity, the shard leases); default: host name and listen port"),
        Setting(name: "lease-duration", kind: .duration, defaultValue: "45s",
                help: "Cluster mode: how long a node's shards stay its own without a renewal; a stuck node's subscriptions move after this (a killed node's at once). Must exceed the 30s delivery timeout plus two 2s renewals"),
        Setting(name: "admin-token", kind: .text, defaultValue: nil,
                help: "The admin token; without one, a token is generated at first start, stored in DATA_DIR/admin-token (mode 0600) and printed once",
                isSecret: true),
        Setting(name: "event-loops", kind: .integer, defaultValue: "auto",
                help: "Event-loop threads; auto is one per CPU core"),
        Setting(name: "max-connections", kind: .integer, defaultValue: "10000",
                help: "Most open client connections; past it new clients get 503"),
        Setting(name: "max-body-size", kind: .size, defaultValue: "1MiB",
                help: "Largest request body; larger gets 413"),
        Setting(name: "max-header-size", kind: .size, defaultValue: "32KiB",
                help: "Largest request line plus headers; larger gets 431"),
        Setting(name: "header-timeout", kind: .duration, defaultValue: "10s",
                help: "Time a client has to send a request head before 408"),
        Setting(name: "body-timeout", kind: .duration, defaultValue: "30s",
                help: "Time a client has to send a request body before 408"),
        Setting(name: "keep-alive-timeout", kind: .duration, defaultValue: "60s",
                help: "How long an idle keep-alive connection stays open"),
        Setting(name: "write-timeout", kind: .duration, defaultValue: "30s",
                help: "How long a response may make no progress before the connection is dropped"),
        Setting(name: "shutdown-grace", kind: .duration, defaultValue: "10s",
                help: "Time in-flight requests get to finish after SIGTERM/SIGINT"),
        Setting(name: "require-event-types", kind: .boolean, defaultValue: "false",
                help: "Refuse events whose type is not registered (422); otherwise any valid type is accepted"),
        Setting(name: "idempotency-window", kind: .duration, defaultValue: "24h",
                help: "How long a repeated Idempotency-Key or producer id answers with the original event"),
        Setting(name: "max-batch-events", kind: .integer, defaultValue: "500",
                help: "Most events in one POST /v1/events/batch"),
        Setting(name: "tenant-max-subscriptions", kind: .integer, defaultValue: "50",
                help: "Most subscriptions a tenant may have, unless its quotas set its own"),
        Setting(name: "tenant-delivery-rate-limit", kind: .integer, defaultValue: nil,
                help: "Deliveries per second a tenant's subscriptions share, unless its quotas set their own (default: no shared limit)"),
        Setting(name: "segment-size", kind: .size, defaultValue: "64MiB",
                help: "Journal segment size; a full segment is sealed and a new one started"),
        Setting(name: "retention", kind: .duration, defaultValue: "7d",
                help: "How long events are kept; events still owed to a subscriber or dead-lettered are carried forward first"),
        Setting(name: "retention-bytes", kind: .size, defaultValue: nil,
                help: "Also delete the oldest sealed segments while the journal is larger than this (e.g. 10GiB)"),
        Setting(name: "dead-letter-retention", kind: .duration, defaultValue: "14d",
                help: "How long dead letters are kept before they are discarded"),
        Setting(name: "allow-private-targets", kind: .boolean, defaultValue: "false",
                help: "Allow subscriptions to loopback, private, link-local and other non-public addresses (SSRF protection off)"),
        Setting(name: "allow-target", kind: .list, defaultValue: nil,
                help: "CIDR ranges subscriptions may point at although not public (repeatable; comma-separated in the environment)"),
        Setting(name: "log-level", kind: .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]),
                defaultValue: "info", help: "Least severe log level written"),
        Setting(name: "log-format", kind: .choice(["logfmt", "json"]), defaultValue: "logfmt",
                help: "Log lines on stderr as logfmt or JSON"),
    ]

    static func named(_ name: String) -> Setting {
        guard let setting = all.first(where: { $0.name == name }) else { preconditionFailure("no setting \(name)") }
        return setting
    }

    /// `--help` text for a setting.
    static func help(_ name: String) -> String { named(name).helpText }
}
