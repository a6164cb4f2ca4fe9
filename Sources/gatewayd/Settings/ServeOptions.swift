import ArgumentParser

/// The `serve` settings as flags. Every one is optional: a flag left out falls through to
/// `GATEWAY_*`, then the config file, then the default (`SettingsResolver`). Values stay
/// text here so that a flag, a variable and a file entry are read by the same parser and
/// fail with the same message.
struct ServeOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "A JSON config file whose keys are the setting names below (env GATEWAY_CONFIG).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp(ServeSettings.help("listen"), valueName: "host:port")) var listen: String?
    @Option(help: ArgumentHelp(ServeSettings.help("data-dir"), valueName: "path")) var dataDir: String?
    @Option(help: ArgumentHelp(ServeSettings.help("database-url"), valueName: "url")) var databaseUrl: String?
    @Option(help: ArgumentHelp(ServeSettings.help("node-id"), valueName: "name")) var nodeId: String?
    @Option(help: ArgumentHelp(ServeSettings.help("lease-duration"), valueName: "duration")) var leaseDuration: String?
    @Option(help: ArgumentHelp(ServeSettings.help("admin-token"), valueName: "token")) var adminToken: String?
    @Option(help: ArgumentHelp(ServeSettings.help("event-loops"), valueName: "count")) var eventLoops: String?
    @Option(help: ArgumentHelp(ServeSettings.help("max-connections"), valueName: "count")) var maxConnections: String?
    @Option(help: ArgumentHelp(ServeSettings.help("max-body-size"), valueName: "size")) var maxBodySize: String?
    @Option(help: ArgumentHelp(ServeSettings.help("max-header-size"), valueName: "size")) var maxHeaderSize: String?
    @Option(help: ArgumentHelp(ServeSettings.help("header-timeout"), valueName: "duration")) var headerTimeout: String?
    @Option(help: ArgumentHelp(ServeSettings.help("body-timeout"), valueName: "duration")) var bodyTimeout: String?
    @Option(help: ArgumentHelp(ServeSettings.help("keep-alive-timeout"), valueName: "duration")) var keepAliveTimeout: String?
    @Option(help: ArgumentHelp(ServeSettings.help("write-timeout"), valueName: "duration")) var writeTimeout: String?
    @Option(help: ArgumentHelp(ServeSettings.help("shutdown-grace"), valueName: "duration")) var shutdownGrace: String?
    @Flag(inversion: .prefixedNo, help: ArgumentHelp(ServeSettings.help("require-event-types"))) var requireEventTypes: Bool?
    @Option(help: ArgumentHelp(ServeSettings.help("idempotency-window"), valueName: "duration")) var idempotencyWindow: String?
    @Option(help: ArgumentHelp(ServeSettings.help("max-batch-events"), valueName: "count")) var maxBatchEvents: String?
    @Option(help: ArgumentHelp(ServeSettings.help("tenant-max-subscriptions"), valueName: "count")) var tenantMaxSubscriptions: String?
    @Option(help: ArgumentHelp(ServeSettings.help("tenant-delivery-rate-limit"), valueName: "per-second")) var tenantDeliveryRateLimit: String?
    @Option(help: ArgumentHelp(ServeSettings.help("segment-size"), valueName: "size")) var segmentSize: String?
    @Option(help: ArgumentHelp(ServeSettings.help("retention"), valueName: "duration")) var retention: String?
    @Option(help: ArgumentHelp(ServeSettings.help("retention-bytes"), valueName: "size")) var retentionBytes: String?
    @Option(help: ArgumentHelp(ServeSettings.help("dead-letter-retention"), valueName: "duration")) var deadLetterRetention: String?
    @Flag(inversion: .prefixedNo, help: ArgumentHelp(ServeSettings.help("allow-private-targets"))) var allowPrivateTargets: Bool?
    @Option(name: .customLong("allow-target"), help: ArgumentHelp(ServeSettings.help("allow-target"), valueName: "cidr"))
    var allowTargets: [String] = []
    @Option(help: ArgumentHelp(ServeSettings.help("log-level"), valueName: "level")) var logLevel: String?
    @Option(help: ArgumentHelp(ServeSettings.help("log-format"), valueName: "format")) var logFormat: String?

    /// The flags given, by setting name.
    var given: [String: SettingValue] {
        var values: [String: SettingValue] = [:]
        let texts: [(String, String?)] = [
            ("listen", listen), ("data-dir", dataDir), ("database-url", databaseUrl), ("node-id", nodeId),
            ("lease-duration", leaseDuration), ("admin-token", adminToken), ("event-loops", eventLoops),
            ("max-connections", maxConnections), ("max-body-size", maxBodySize), ("max-header-size", maxHeaderSize),
            ("header-timeout", headerTimeout), ("body-timeout", bodyTimeout), ("keep-alive-timeout", keepAliveTimeout),
            ("write-timeout", writeTimeout), ("shutdown-grace", shutdownGrace), ("idempotency-window", idempotencyWindow),
            ("max-batch-events", maxBatchEvents), ("tenant-max-subscriptions", tenantMaxSubscriptions),
            ("tenant-delivery-rate-limit", tenantDeliveryRateLimit), ("segment-size", segmentSize), ("retention", retention),
            ("retention-bytes", retentionBytes), ("dead-letter-retention", deadLetterRetention),
            ("log-level", logLevel), ("log-format", logFormat),
        ]
        for case let (name, value?) in texts { values[name] = .text(value) }
        if let requireEventTypes { values["require-event-types"] = .text(String(requireEventTypes)) }
        if let allowPrivateTargets { values["allow-private-targets"] = .text(String(allowPrivateTargets)) }
        if !allowTargets.isEmpty { values["allow-target"] = .list(allowTargets) }
        return values
    }
}
