import Runtime
import JSON

/// A subscriber webhook: where matching events go and how they are delivered.
public struct Subscription: Sendable, Equatable {
    public struct Secret: Sendable, Equatable {
        /// `whsec_` + base64 of the key, as the subscriber configures it.
        public var value: String
        /// After rotation the old secret keeps signing until then (microseconds since epoch).
        public var expiresAt: Int64?
    }

    /// Per-subscription overrides of the gateway's retry policy.
    public struct RetryOverrides: Sendable, Equatable {
        public var maxAttempts: Int?
        /// Seconds after the first attempt past which an event is dead-lettered.
        public var maxAgeSeconds: Int?
    }

    public var id: String
    /// The tenant that owns it, nil for the admin's own. Fixed at creation.
    public var tenantID: String?
    public var url: String
    public var eventTypes: [EventTypePattern]
    public var description: String = ""
    public var filter: SubscriptionFilter?
    /// The filter as the operator wrote it, for display.
    public var filterJSON: JSONValue?
    /// Newest first; more than one only during a rotation's overlap.
    public var secrets: [Secret]
    public var headers: [(name: String, value: String)] = []
    public var ordered = false
    public var maxInFlight = 10
    /// Events per second, if limited.
    public var rateLimit: Int?
    public var retry = RetryOverrides()
    public var paused = false
    /// Set when the subscriber answered 410 Gone; cleared by resume.
    public var disabledReason: String?
    public var createdAt: Int64 = 0
    public var updatedAt: Int64 = 0

    /// Field by field; the compiled filter follows from `filterJSON`.
    public static func == (lhs: Subscription, rhs: Subscription) -> Bool {
        lhs.id == rhs.id && lhs.tenantID == rhs.tenantID && lhs.url == rhs.url && lhs.eventTypes == rhs.eventTypes && lhs.description == rhs.description
            && lhs.filterJSON == rhs.filterJSON && lhs.secrets == rhs.secrets
            && sameHeaderFields(lhs.headers, rhs.headers)
            && lhs.ordered == rhs.ordered && lhs.maxInFlight == rhs.maxInFlight && lhs.rateLimit == rhs.rateLimit
            && lhs.retry == rhs.retry && lhs.paused == rhs.paused && lhs.disabledReason == rhs.disabledReason
            && lhs.createdAt == rhs.createdAt && lhs.updatedAt == rhs.updatedAt
    }

    /// Whether an event of `type` with `data` goes to this subscription. `data` is parsed
    /// only when a filter needs it.
    func matches(type: String, data: () -> JSONValue?) -> Bool {
        guard eventTypes.contains(where: { $0.matches(type) }) else { return false }
        guard let filter else { return true }
        guard let value = data() else { return false }
        return filter.matches(value)
    }

    /// `whsec_` + base64 of 32 random bytes: a Standard Webhooks signing secret.
    public static func generateSecret() -> String {
        WebhookSecret.generate().serialized
    }

    /// The secrets that sign a delivery made at `now`.
    public func activeSecrets(at now: Int64) -> [String] {
        secrets.filter { ($0.expiresAt ?? .max) > now }.map(\.value)
    }
}

// MARK: - JSON form (journal record and API)

extension Subscription {
    /// The stored form: everything, secrets included (the journal is the gateway's own,
    /// protected data; the API never shows old secrets).
    func storedJSON() -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(id)), ("url", .string(url)),
            ("eventTypes", .array(eventTypes.map { .string($0.text) })),
            ("description", .string(description)),
            ("secrets", .array(secrets.map { secret in
                .object([("value", .string(secret.value)), ("expiresAt", secret.expiresAt.map { .number(Double($0)) } ?? .null)])
            })),
            ("headers", .object(headers.map { ($0.name, JSONValue.string($0.value)) })),
            ("ordered", .bool(ordered)), ("maxInFlight", .number(Double(maxInFlight))),
            ("rateLimit", rateLimit.map { .number(Double($0)) } ?? .null),
            ("retry", .object([
                ("maxAttempts", retry.maxAttempts.map { .number(Double($0)) } ?? .null),
                ("maxAgeSeconds", retry.maxAgeSeconds.map { .number(Double($0)) } ?? .null),
            ])),
            ("paused", .bool(paused)),
            ("disabledReason", disabledReason.map { .string($0) } ?? .null),
            ("createdAt", .number(Double(createdAt))),
        ]
        if let filterJSON { members.append(("filter", filterJSON)) }
        if let tenantID { members.append(("tenantId", .string(tenantID))) }
        return .object(members)
    }

    /// Reads the stored form back. Throws only on a record this build cannot understand.
    static func fromStored(_ value: JSONValue) throws(SubscriptionInput.Invalid) -> Subscription {
        let input = try SubscriptionInput(value, partial: false, stored: true)
        guard case .string(let id)? = value["id"] else { throw .init("stored subscription has no id") }
        var subscription = try input.build(id: id, defaultSecret: "")
        if case .array(let stored)? = value["secrets"] {
            subscription.secrets = stored.compactMap { item in
                guard case .string(let secret)? = item["value"] else { return nil }
                var expiry: Int64?
                if case .number(let at)? = item["expiresAt"] { expiry = Int64(at) }
                return Secret(value: secret, expiresAt: expiry)
            }
        }
        if case .bool(let paused)? = value["paused"] { subscription.paused = paused }
        if case .string(let reason)? = value["disabledReason"] { subscription.disabledReason = reason }
        if case .number(let created)? = value["createdAt"] { subscription.createdAt = Int64(created) }
        if case .string(let tenant)? = value["tenantId"] { subscription.tenantID = tenant }
        return subscription
    }

    /// What the API shows: the current secret only.
    func apiJSON(now: Int64) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("id", string: id)
        json.add("tenantId", raw: tenantID.map { JSONFragment.string($0).bytes } ?? Array("null".utf8))
        json.add("url", string: url)
        json.add("eventTypes", raw: JSONParser.serialize(.array(eventTypes.map { .string($0.text) })))
        json.add("description", string: description)
        json.add("filter", raw: filterJSON.map(JSONParser.serialize) ?? Array("null".utf8))
        json.add("secret", string: secrets.first?.value ?? "")
        json.add("headers", raw: JSONParser.serialize(.object(headers.map { ($0.name, JSONValue.string($0.value)) })))
        json.add("ordered", bool: ordered)
        json.add("maxInFlight", number: maxInFlight)
        json.add("rateLimit", raw: rateLimit.map { Array(String($0).utf8) } ?? Array("null".utf8))
        json.add("retry", raw: JSONParser.serialize(.object([
            ("maxAttempts", retry.maxAttempts.map { .number(Double($0)) } ?? .null),
            ("maxAgeSeconds", retry.maxAgeSeconds.map { .number(Double($0)) } ?? .null),
        ])))
        json.add("status", string: disabledReason != nil ? "disabled" : (paused ? "paused" : "active"))
        if let disabledReason { json.add("disabledReason", string: disabledReason) }
        json.add("createdAt", string: Timestamp.format(microseconds: createdAt))
        json.add("updatedAt", string: Timestamp.format(microseconds: updatedAt))
        return json.finish()
    }
}

/// A subscription as submitted (`POST`, or the fields of a `PATCH`), validated field by field.
struct SubscriptionInput {
    struct Invalid: Error, Sendable {
        let detail: String
        init(_ detail: String) { self.detail = detail }
    }

    var url: String?
    var eventTypes: [EventTypePattern]?
    var description: String?
    /// `.some(nil)` clears the filter in a PATCH.
    var filter: (SubscriptionFilter, JSONValue)??
    var secret: String?
    var headers: [(name: String, value: String)]?
    var ordered: Bool?
    var maxInFlight: Int?
    var rateLimit: Int??
    var retry: Subscription.RetryOverrides?

    static let reservedHeaders: Set<String> = [
        "content-type", "content-length", "host", "user-agent", "webhook-id", "webhook-timestamp",
        "webhook-signature", "connection", "transfer-encoding", "expect",
        // Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection, not the webhook.
        "keep-alive", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection",
    ]

    static let apiFields: Set<String> = ["url", "eventTypes", "description", "filter", "secret", "headers", "ordered",
                                         "maxInFlight", "rateLimit", "retry"]
    /// The journal's form also carries what only the gateway sets.
    static let storedFields = apiFields.union(["id", "tenantId", "secrets", "paused", "disabledReason", "createdAt"])

    init(_ value: JSONValue, partial: Bool, stored: Bool = false) throws(Invalid) {
        guard case .object(let members) = value else { throw Invalid("The subscription must be a JSON object.") }
        let known = stored ? Self.storedFields : Self.apiFields
        if let unknown = members.first(where: { !known.contains($0.key) }) {
            throw Invalid("Unknown field '\(unknown.key)'.")
        }
        if let value = value["url"] {
            guard case .string(let text) = value else { throw Invalid("'url' must be a string.") }
            url = try Self.checkURL(text)
        } else if !partial {
            throw Invalid("'url' is required.")
        }
        if let value = value["eventTypes"] {
            guard case .array(let items) = value, !items.isEmpty, items.count <= 100 else {
                throw Invalid("'eventTypes' must be an array of 1 to 100 patterns such as \"order.*\".")
            }
            eventTypes = try items.map { (item) throws(Invalid) -> EventTypePattern in
                guard case .string(let text) = item, let pattern = EventTypePattern(text) else {
                    throw Invalid("'eventTypes' holds an invalid pattern: use dotted lowercase segments, '*' for any (\"order.*\", \"*\").")
                }
                return pattern
            }
        } else if !partial {
            throw Invalid("'eventTypes' is required, e.g. [\"order.*\"].")
        }
        if let value = value["description"] {
            guard case .string(let text) = value, text.utf8.count <= 1024 else { throw Invalid("'description' must be a string of at most 1024 bytes.") }
            description = text
        }
        if let value = value["filter"] {
            if value == .null {
                filter = .some(nil)
            } else {
                do {
                    filter = .some((try SubscriptionFilter(value), value))
                } catch {
                    throw Invalid("'filter' is not valid: \(error).")
                }
            }
        }
        if let value = value["secret"] {
            guard case .string(let text) = value, Self.isValidSecret(text) else {
                throw Invalid("'secret' must be 'whsec_' followed by the base64 of 24 to 64 random bytes.")
            }
            secret = text
        }
        if let value = value["headers"] {
            guard case .object(let fields) = value, fields.count <= 20 else { throw Invalid("'headers' must be an object of at most 20 header fields.") }
            guard Set(fields.map { $0.key.lowercased() }).count == fields.count else {
                throw Invalid("'headers' names a header twice (header names ignore case).")
            }
            headers = try fields.map { (field) throws(Invalid) -> (name: String, value: String) in
                guard Self.isToken(field.key) else { throw Invalid("'headers' has an invalid header name '\(field.key)'.") }
                guard !Self.reservedHeaders.contains(field.key.lowercased()) else {
                    throw Invalid("'headers' may not set '\(field.key)'; the gateway sets it.")
                }
                guard case .string(let text) = field.value, !text.utf8.contains(where: { ($0 < 0x20 && $0 != 9) || $0 == 0x7F }) else {
                    throw Invalid("The header '\(field.key)' must have a string value without control characters.")
                }
                return (field.key, text)
            }
        }
        if let value = value["ordered"] {
            guard case .bool(let flag) = value else { throw Invalid("'ordered' must be true or false.") }
            ordered = flag
        }
        if let value = value["maxInFlight"] {
            guard value.isInteger, case .number(let number) = value, (1...1000).contains(number) else {
                throw Invalid("'maxInFlight' must be an integer from 1 to 1000.")
            }
            maxInFlight = Int(number)
        }
        if let value = value["rateLimit"] {
            if value == .null {
                rateLimit = .some(nil)
            } else {
                guard value.isInteger, case .number(let number) = value, (1...100_000).contains(number) else {
                    throw Invalid("'rateLimit' must be events per second, an integer from 1 to 100000, or null.")
                }
                rateLimit = .some(Int(number))
            }
        }
        if let value = value["retry"] {
            if value == .null {
                retry = Subscription.RetryOverrides()
            }
            guard value == .null || { if case .object = value { return true } else { return false } }() else {
                throw Invalid("'retry' must be an object with maxAttempts and/or maxAgeSeconds, or null.")
            }
            if case .object(let fields) = value, let unknown = fields.first(where: { $0.key != "maxAttempts" && $0.key != "maxAgeSeconds" }) {
                throw Invalid("Unknown field 'retry.\(unknown.key)'.")
            }
            var overrides = Subscription.RetryOverrides()
            if let attempts = value["maxAttempts"], attempts != .null {
                guard attempts.isInteger, case .number(let number) = attempts, (1...100).contains(number) else {
                    throw Invalid("'retry.maxAttempts' must be an integer from 1 to 100.")
                }
                overrides.maxAttempts = Int(number)
            }
            if let age = value["maxAgeSeconds"], age != .null {
                guard age.isInteger, case .number(let number) = age, (1...(30 * 86_400)).contains(number) else {
                    throw Invalid("'retry.maxAgeSeconds' must be an integer from 1 to 2592000 (30 days).")
                }
                overrides.maxAgeSeconds = Int(number)
            }
            retry = overrides
        }
    }

    /// A new subscription from a complete input.
    func build(id: String, defaultSecret: String) throws(Invalid) -> Subscription {
        guard let url, let eventTypes else { throw Invalid("'url' and 'eventTypes' are required.") }
        var subscription = Subscription(id: id, url: url, eventTypes: eventTypes, secrets: [.init(value: secret ?? defaultSecret, expiresAt: nil)])
        apply(to: &subscription)
        return subscription
    }

    /// Applies the given fields onto `subscription` (a PATCH).
    func apply(to subscription: inout Subscription) {
        if let url { subscription.url = url }
        if let eventTypes { subscription.eventTypes = eventTypes }
        if let description { subscription.description = description }
        if let filter {
            subscription.filter = filter?.0
            subscription.filterJSON = filter?.1
        }
        if let secret, subscription.secrets.first?.value != secret { subscription.secrets = [.init(value: secret, expiresAt: nil)] }
        if let headers { subscription.headers = headers }
        if let ordered { subscription.ordered = ordered }
        if let maxInFlight { subscription.maxInFlight = maxInFlight }
        if let rateLimit { subscription.rateLimit = rateLimit }
        if let retry { subscription.retry = retry }
    }

    /// http(s) with a host, no credentials in the URL; where it may point is checked by the
    /// gateway's target policy separately.
    static func checkURL(_ text: String) throws(Invalid) -> String {
        let lower = text.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw Invalid("'url' must be an http:// or https:// URL.")
        }
        guard text.utf8.count <= 2048, !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw Invalid("'url' must be at most 2048 bytes without spaces or control characters.")
        }
        let rest = text.drop { $0 != ":" }.dropFirst(3)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@") else { throw Invalid("'url' must not carry credentials; use 'headers' for authorization.") }
        // The host is what precedes an optional :port (an IPv6 literal is bracketed).
        let host = authority.hasPrefix("[") ? authority.prefix { $0 != "]" } : authority.prefix { $0 != ":" }
        guard !host.isEmpty, host != "[" else { throw Invalid("'url' has no host.") }
        return text
    }

    /// The serialized form only (`whsec_` required, unlike `WebhookSecret(parsing:)`, which
    /// also takes bare base64 from a receiver's configuration).
    static func isValidSecret(_ text: String) -> Bool {
        text.hasPrefix(WebhookSecret.prefix) && (try? WebhookSecret(parsing: text)) != nil
    }

    private static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
