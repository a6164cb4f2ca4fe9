import JSON
import Runtime

/// An owner of subscriptions: one customer of a team that sends webhooks to its customers.
/// A tenant's tokens manage only its own subscriptions, and events can be addressed to it.
public struct Tenant: Sendable, Equatable {
    /// Limits the admin sets on one tenant; nil takes the gateway's default
    /// (`TenantDefaults`).
    public struct Quotas: Sendable, Equatable {
        /// Most subscriptions the tenant may have.
        public var maxSubscriptions: Int?
        /// Deliveries per second shared by all the tenant's subscriptions.
        public var deliveryRateLimit: Int?

        public init(maxSubscriptions: Int? = nil, deliveryRateLimit: Int? = nil) {
            self.maxSubscriptions = maxSubscriptions
            self.deliveryRateLimit = deliveryRateLimit
        }
    }

    public var id: String
    public var name: String
    public var description = ""
    /// The admin's own labels (an account number, a plan), shown back as given.
    public var metadata: [String: String] = [:]
    public var quotas = Quotas()
    public var createdAt: Int64 = 0
    public var updatedAt: Int64 = 0

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// The gateway-wide quotas a tenant has unless the admin sets its own (`--tenant-…`).
public struct TenantDefaults: Sendable, Equatable {
    public var maxSubscriptions = 50
    /// Nil: no shared limit (each subscription's own `rateLimit` still applies).
    public var deliveryRateLimit: Int?

    public init(maxSubscriptions: Int = 50, deliveryRateLimit: Int? = nil) {
        self.maxSubscriptions = maxSubscriptions
        self.deliveryRateLimit = deliveryRateLimit
    }

    /// The limits in effect for `tenant`.
    public func effective(_ quotas: Tenant.Quotas) -> Tenant.Quotas {
        Tenant.Quotas(maxSubscriptions: quotas.maxSubscriptions ?? maxSubscriptions,
                      deliveryRateLimit: quotas.deliveryRateLimit ?? deliveryRateLimit)
    }
}

/// A bearer token of one tenant. Only its SHA-256 digest is kept; the token is shown once.
public struct TenantToken: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var digest: [UInt8]
    public var description: String
    /// Microseconds since the epoch; nil for a token that does not expire.
    public var expiresAt: Int64?
    public var createdAt: Int64

    public func isExpired(at now: Int64) -> Bool { (expiresAt ?? .max) <= now }
}

/// Tenant ids: the gateway's `ten_…`, or the admin's own (a customer number, a slug), so
/// producers can address events without keeping a mapping.
public enum TenantID {
    public static func isValid(_ id: String) -> Bool {
        let utf8 = id.utf8
        return !utf8.isEmpty && utf8.count <= 64 && utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
                || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":")
        }
    }
}

// MARK: - Input (`POST` and `PATCH /v1/tenants`)

/// A tenant as submitted, validated field by field; a `PATCH` names only what it changes.
/// It is also the journal's form of a tenant change (`TenantChangeRecord`).
public struct TenantInput: Sendable, Equatable {
    struct Invalid: Error, Sendable {
        let detail: String
        init(_ detail: String) { self.detail = detail }
    }

    var id: String?
    var name: String?
    var description: String?
    var metadata: [String: String]?
    /// Each quota: absent (unchanged), null (the default), or a value.
    var maxSubscriptions: Int??
    var deliveryRateLimit: Int??

    static let fields: Set<String> = ["id", "name", "description", "metadata", "quotas"]
    static let quotaFields: Set<String> = ["maxSubscriptions", "deliveryRateLimit"]

    init() {}

    init(_ value: JSONValue, partial: Bool) throws(Invalid) {
        guard case .object(let members) = value else { throw Invalid("The tenant must be a JSON object.") }
        if let unknown = members.first(where: { !Self.fields.contains($0.key) }) {
            throw Invalid("Unknown field '\(unknown.key)'.")
        }
        if let value = value["id"] {
            guard !partial else { throw Invalid("A tenant's 'id' cannot be changed.") }
            guard case .string(let text) = value, TenantID.isValid(text) else {
                throw Invalid("'id' must be 1 to 64 characters from letters, digits and '_-.:'.")
            }
            id = text
        }
        if let value = value["name"] {
            guard case .string(let text) = value, !text.isEmpty, text.utf8.count <= 256 else {
                throw Invalid("'name' must be a string of 1 to 256 bytes.")
            }
            name = text
        } else if !partial {
            throw Invalid("'name' is required.")
        }
        if let value = value["description"] {
            guard case .string(let text) = value, text.utf8.count <= 1024 else {
                throw Invalid("'description' must be a string of at most 1024 bytes.")
            }
            description = text
        }
        if let value = value["metadata"] {
            guard case .object(let entries) = value, entries.count <= 50,
                  Set(entries.map(\.key)).count == entries.count else {
                throw Invalid("'metadata' must be an object of at most 50 string values.")
            }
            var labels: [String: String] = [:]
            for entry in entries {
                guard !entry.key.isEmpty, entry.key.utf8.count <= 64, case .string(let text) = entry.value, text.utf8.count <= 512 else {
                    throw Invalid("'metadata.\(entry.key)' must be a string of at most 512 bytes under a name of 1 to 64 bytes.")
                }
                labels[entry.key] = text
            }
            metadata = labels
        }
        if let value = value["quotas"] {
            guard case .object(let entries) = value else {
                throw Invalid("'quotas' must be an object with maxSubscriptions and/or deliveryRateLimit.")
            }
            if let unknown = entries.first(where: { !Self.quotaFields.contains($0.key) }) {
                throw Invalid("Unknown field 'quotas.\(unknown.key)'.")
            }
            maxSubscriptions = try Self.quota(value["maxSubscriptions"], "quotas.maxSubscriptions", 0...100_000)
            deliveryRateLimit = try Self.quota(value["deliveryRateLimit"], "quotas.deliveryRateLimit", 1...100_000)
        }
    }

    private static func quota(_ value: JSONValue?, _ name: String, _ range: ClosedRange<Double>) throws(Invalid) -> Int?? {
        guard let value else { return .none }
        if value == .null { return .some(nil) }
        guard value.isInteger, case .number(let number) = value, range.contains(number) else {
            throw Invalid("'\(name)' must be an integer from \(Int(range.lowerBound)) to \(Int(range.upperBound)), or null for the gateway's default.")
        }
        return .some(Int(number))
    }

    /// Sets the given fields on `tenant`.
    func apply(to tenant: inout Tenant) {
        if let name { tenant.name = name }
        if let description { tenant.description = description }
        if let metadata { tenant.metadata = metadata }
        if let maxSubscriptions { tenant.quotas.maxSubscriptions = maxSubscriptions }
        if let deliveryRateLimit { tenant.quotas.deliveryRateLimit = deliveryRateLimit }
    }

    /// The JSON form: what the journal stores, and what `init(_:partial:)` reads back.
    func json() -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if let id { members.append(("id", .string(id))) }
        if let name { members.append(("name", .string(name))) }
        if let description { members.append(("description", .string(description))) }
        if let metadata {
            members.append(("metadata", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) })))
        }
        var quotas: [(key: String, value: JSONValue)] = []
        if let maxSubscriptions { quotas.append(("maxSubscriptions", maxSubscriptions.map { .number(Double($0)) } ?? .null)) }
        if let deliveryRateLimit { quotas.append(("deliveryRateLimit", deliveryRateLimit.map { .number(Double($0)) } ?? .null)) }
        if !quotas.isEmpty { members.append(("quotas", .object(quotas))) }
        return .object(members)
    }
}

// MARK: - API form

extension Tenant {
    /// What the API shows: the quotas as set (null: the default) and as in effect.
    func apiJSON(defaults: TenantDefaults, subscriptionCount: Int) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("id", string: id)
        json.add("name", string: name)
        json.add("description", string: description)
        json.add("metadata", raw: JSONParser.serialize(.object(metadata.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) })))
        func quotasJSON(_ quotas: Quotas) -> [UInt8] {
            var json = JSONObjectWriter()
            json.add("maxSubscriptions", raw: Self.number(quotas.maxSubscriptions))
            json.add("deliveryRateLimit", raw: Self.number(quotas.deliveryRateLimit))
            return json.finish()
        }
        json.add("quotas", raw: quotasJSON(quotas))
        json.add("quotasInEffect", raw: quotasJSON(defaults.effective(quotas)))
        json.add("subscriptionCount", number: subscriptionCount)
        json.add("createdAt", string: Timestamp.format(microseconds: createdAt))
        json.add("updatedAt", string: Timestamp.format(microseconds: updatedAt))
        return json.finish()
    }

    private static func number(_ value: Int?) -> [UInt8] {
        value.map { Array(String($0).utf8) } ?? Array("null".utf8)
    }
}

extension TenantToken {
    /// Never the token itself: only its id, what it is for and when it stops working.
    func apiJSON() -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("id", string: id)
        json.add("tenantId", string: tenantID)
        json.add("description", string: description)
        json.add("expiresAt", raw: expiresAt.map { JSONFragment.string(Timestamp.format(microseconds: $0)).bytes } ?? Array("null".utf8))
        json.add("createdAt", string: Timestamp.format(microseconds: createdAt))
        return json.finish()
    }
}
