import JSON
import TargetPolicy

/// What a source needs to take provider webhooks at `/in/{source}` (issue 12): how requests
/// are verified, how their event type is found, and from where they may come. A source
/// without it publishes with its bearer token only.
public struct InboundConfiguration: Sendable, Equatable {
    public var verification: VerificationSettings
    public var eventType: TypeMapping
    /// Client networks allowed to post; empty for any. Checked before anything else.
    public var allowedNetworks: [CIDR] = []

    public init(verification: VerificationSettings, eventType: TypeMapping, allowedNetworks: [CIDR] = []) {
        self.verification = verification
        self.eventType = eventType
        self.allowedNetworks = allowedNetworks
    }

    public func allows(_ address: IPAddress) -> Bool {
        allowedNetworks.isEmpty || allowedNetworks.contains { $0.contains(address) }
    }
}

/// Where an inbound event's type comes from, and the prefix put before it.
public struct TypeMapping: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// What the provider names (GitHub's event and action, Stripe's `type`, ...).
        case provider
        case fixed(String)
        /// A request header's value.
        case header(String)
        /// A JSON pointer (RFC 6901) into the body.
        case pointer(String)
    }

    public var source: Source
    public var prefix: String
    /// When the source gives nothing: the provider sent no type, the header or member is
    /// missing.
    public static let fallback = "webhook"

    public init(source: Source, prefix: String) {
        self.source = source
        self.prefix = prefix
    }

    /// The event type of a verified request: the prefix and the value, normalized
    /// (`EventTypeName.normalize`).
    func type(of request: InboundRequest, verified: VerifiedRequest, body: JSONValue?) -> String {
        let raw: String?
        switch source {
        case .provider: raw = verified.providerType
        case .fixed(let text): raw = text
        case .header(let name): raw = request.values(name).first
        case .pointer(let pointer):
            if case .string(let text)? = body.flatMap({ JSONPointer.resolve(pointer, in: $0) }) { raw = text } else { raw = nil }
        }
        return EventTypeName.normalize(prefix + (raw.flatMap { $0.isEmpty ? nil : $0 } ?? Self.fallback))
    }
}

extension EventTypeName {
    /// A provider's type made valid for us, predictably: lowercase ASCII; `/`, `:` and
    /// whitespace become `.` or `_` (`orders/create` → `orders.create`, `Push Hook` →
    /// `push_hook`); any other character not allowed becomes `_`; empty segments are dropped;
    /// cut to `maxLength` (at a segment's end when one is near).
    public static func normalize(_ text: String) -> String {
        var bytes: [UInt8] = []
        for byte in text.lowercased().utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                bytes.append(byte)
            case UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"):
                bytes.append(UInt8(ascii: "."))
            default:
                bytes.append(UInt8(ascii: "_"))
            }
        }
        let segments = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: true)
        var joined = segments.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
        if joined.utf8.count > maxLength {
            joined = String(decoding: joined.utf8.prefix(maxLength), as: UTF8.self)
            while joined.hasSuffix(".") { joined.removeLast() }
        }
        return joined.isEmpty ? TypeMapping.fallback : joined
    }
}

/// RFC 6901 JSON pointers, for type mapping.
enum JSONPointer {
    static func resolve(_ pointer: String, in value: JSONValue) -> JSONValue? {
        guard !pointer.isEmpty else { return value }
        guard pointer.hasPrefix("/") else { return nil }
        var current = value
        for token in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object: guard let next = current[key] else { return nil }; current = next
            case .array(let items):
                guard let index = Int(key), index >= 0, index < items.count, key == String(index) else { return nil }
                current = items[index]
            default: return nil
            }
        }
        return current
    }
}

// MARK: - JSON form (`POST /v1/sources` and the journal)

extension InboundConfiguration {
    struct Invalid: Error, Sendable {
        let detail: String
        init(_ detail: String) { self.detail = detail }
    }

    /// Schemes whose provider names the event type: their default prefix is the scheme.
    static let providerSchemes: Set<VerificationScheme> = [.github, .stripe, .shopify, .slack, .gitlab]

    /// Reads `{verification, eventType?, allowedIps?}` as the API takes it (one `secret`, or
    /// `password` for basic) or as the journal keeps it (`secrets` with their expiry).
    init(_ body: JSONValue, sourceName: String, stored: Bool = false) throws(Invalid) {
        guard case .object(let verificationMembers)? = body["verification"] else {
            throw Invalid("'verification' must be an object such as {\"scheme\": \"github\", \"secret\": \"...\"}.")
        }
        let known: Set<String> = ["scheme", "secret", "secrets", "password", "tolerance", "publicKey", "header", "algorithm",
                                  "encoding", "prefix", "timestampHeader", "username"]
        if let unknown = verificationMembers.first(where: { !known.contains($0.key) }) {
            throw Invalid("Unknown field 'verification.\(unknown.key)'.")
        }
        let value = body["verification"]!
        func text(_ name: String, max: Int = 512) throws(Invalid) -> String? {
            guard let member = value[name], member != .null else { return nil }
            guard case .string(let string) = member, !string.isEmpty, string.utf8.count <= max else {
                throw Invalid("'verification.\(name)' must be a string of 1 to \(max) bytes.")
            }
            return string
        }
        let schemes = VerificationScheme.allCases.map(\.rawValue).joined(separator: ", ")
        guard let schemeText = try text("scheme"), let scheme = VerificationScheme(rawValue: schemeText) else {
            throw Invalid("'verification.scheme' must be one of \(schemes) ('none' only when chosen on purpose).")
        }
        var settings = VerificationSettings(scheme: scheme)
        if stored {
            if case .array(let items)? = value["secrets"] {
                settings.secrets = items.compactMap { item in
                    guard case .string(let secret)? = item["value"] else { return nil }
                    var expiry: Int64?
                    if case .number(let at)? = item["expiresAt"] { expiry = Int64(at) }
                    return SourceSecret(value: secret, expiresAt: expiry)
                }
            }
        } else if let secret = try text(scheme == .basic ? "password" : "secret") {
            settings.secrets = [SourceSecret(value: secret)]
        }
        if let tolerance = value["tolerance"], tolerance != .null {
            guard tolerance.isInteger, case .number(let seconds) = tolerance, (1...86_400).contains(seconds) else {
                throw Invalid("'verification.tolerance' must be seconds, an integer from 1 to 86400.")
            }
            settings.tolerance = Int(seconds)
        }
        if let key = try text("publicKey") { settings.publicKeys = [key] }
        settings.header = try text("header", max: 128)
        settings.prefix = try text("prefix", max: 64)
        settings.timestampHeader = try text("timestampHeader", max: 128)
        settings.username = try text("username", max: 256)
        if let name = try text("algorithm", max: 16) {
            guard let algorithm = VerificationSettings.Algorithm(rawValue: name) else {
                throw Invalid("'verification.algorithm' must be sha256, sha512 or sha1.")
            }
            settings.algorithm = algorithm
        }
        if let name = try text("encoding", max: 16) {
            guard let encoding = VerificationSettings.Encoding(rawValue: name) else {
                throw Invalid("'verification.encoding' must be hex or base64.")
            }
            settings.encoding = encoding
        }
        try Self.check(settings, stored: stored)
        let mapping = try Self.mapping(body["eventType"], scheme: scheme, sourceName: sourceName)
        var networks: [CIDR] = []
        if let list = body["allowedIps"], list != .null {
            guard case .array(let items) = list, items.count <= 100 else {
                throw Invalid("'allowedIps' must be an array of at most 100 CIDR ranges such as \"192.30.252.0/22\".")
            }
            for item in items {
                guard case .string(let range) = item else { throw Invalid("'allowedIps' must hold CIDR ranges as strings.") }
                do {
                    networks.append(try CIDR(parsing: range))
                } catch {
                    throw Invalid("'allowedIps': \(error)")
                }
            }
        }
        self.init(verification: settings, eventType: mapping, allowedNetworks: networks)
    }

    /// What each scheme needs configured.
    private static func check(_ settings: VerificationSettings, stored: Bool) throws(Invalid) {
        let hasSecret = !settings.secrets.isEmpty
        switch settings.scheme {
        case .github, .stripe, .shopify, .slack, .gitlab:
            if !hasSecret { throw Invalid("'verification.secret' is required for \(settings.scheme.rawValue): the signing secret (token for gitlab) the provider was given.") }
        case .standardWebhooks:
            if !hasSecret && settings.publicKeys.isEmpty {
                throw Invalid("'verification.secret' (a whsec_ secret, for v1) or 'verification.publicKey' (Ed25519, for v1a) is required for standard-webhooks.")
            }
        case .hmac:
            if !hasSecret { throw Invalid("'verification.secret' is required for hmac.") }
            if settings.header == nil { throw Invalid("'verification.header' is required for hmac: the header that carries the signature.") }
        case .basic:
            if settings.username == nil || !hasSecret { throw Invalid("'verification.username' and 'verification.password' are required for basic.") }
        case .none:
            break
        }
        if settings.scheme != .hmac, settings.header != nil || settings.prefix != nil || settings.timestampHeader != nil {
            throw Invalid("'verification.header', 'prefix' and 'timestampHeader' are for the hmac scheme only.")
        }
        // What the verifiers themselves could not use (a secret that is no whsec_ key, a
        // public key that is no Ed25519 key, ...). A stored configuration was checked when
        // it was saved.
        if !stored, let problem = settings.configurationProblem { throw Invalid("'verification': \(problem)") }
    }

    private static func mapping(_ value: JSONValue?, scheme: VerificationScheme, sourceName: String) throws(Invalid) -> TypeMapping {
        let defaultPrefix = providerSchemes.contains(scheme) ? scheme.rawValue + "." : sourceName + "."
        guard let value, value != .null else { return TypeMapping(source: .provider, prefix: defaultPrefix) }
        guard case .object(let members) = value else {
            throw Invalid("'eventType' must be an object such as {\"from\": \"header\", \"value\": \"X-Event\", \"prefix\": \"acme.\"}.")
        }
        if let unknown = members.first(where: { !["from", "value", "prefix"].contains($0.key) }) {
            throw Invalid("Unknown field 'eventType.\(unknown.key)'.")
        }
        var prefix = defaultPrefix
        if let given = value["prefix"] {
            guard case .string(let text) = given, text.utf8.count <= 64 else { throw Invalid("'eventType.prefix' must be a string of at most 64 bytes.") }
            prefix = text
        }
        var parameter: String?
        if let given = value["value"] {
            guard case .string(let text) = given, !text.isEmpty, text.utf8.count <= 256 else {
                throw Invalid("'eventType.value' must be a string of 1 to 256 bytes.")
            }
            parameter = text
        }
        guard case .string(let from)? = value["from"] else {
            throw Invalid("'eventType.from' must be provider, fixed, header or pointer.")
        }
        switch (from, parameter) {
        case ("provider", nil): return TypeMapping(source: .provider, prefix: prefix)
        case ("fixed", let type?):
            guard EventTypeName.isValid(EventTypeName.normalize(prefix + type)) else { throw Invalid("'eventType.value' does not make a valid type.") }
            return TypeMapping(source: .fixed(type), prefix: prefix)
        case ("header", let name?): return TypeMapping(source: .header(name), prefix: prefix)
        case ("pointer", let pointer?):
            guard pointer.isEmpty || pointer.hasPrefix("/") else { throw Invalid("'eventType.value' must be a JSON pointer such as /type.") }
            return TypeMapping(source: .pointer(pointer), prefix: prefix)
        case ("provider", _): throw Invalid("'eventType.value' is not used with from: provider.")
        default: throw Invalid("'eventType' needs 'value' (a type, a header name or a JSON pointer) for from: fixed, header or pointer.")
        }
    }

    /// The journal's form: everything, secrets included with their expiry. `showingSecrets:
    /// false` is what the API shows: no secret at all, only how many are active.
    func json(showingSecrets: Bool, now: Int64 = 0) -> JSONValue {
        let settings = verification
        var members: [(key: String, value: JSONValue)] = [("scheme", .string(settings.scheme.rawValue))]
        if showingSecrets {
            members.append(("secrets", .array(settings.secrets.map { secret in
                .object([("value", .string(secret.value)), ("expiresAt", secret.expiresAt.map { .number(Double($0)) } ?? .null)])
            })))
        } else {
            members.append(("activeSecrets", .number(Double(settings.activeSecrets(at: now).count))))
        }
        members.append(("tolerance", .number(Double(settings.tolerance))))
        if let key = settings.publicKeys.first { members.append(("publicKey", .string(key))) }
        if let header = settings.header { members.append(("header", .string(header))) }
        if settings.scheme == .hmac {
            members.append(("algorithm", .string(settings.algorithm.rawValue)))
            members.append(("encoding", .string(settings.encoding.rawValue)))
        }
        if let prefix = settings.prefix { members.append(("prefix", .string(prefix))) }
        if let header = settings.timestampHeader { members.append(("timestampHeader", .string(header))) }
        if let username = settings.username { members.append(("username", .string(username))) }
        let from: (String, String?)
        switch eventType.source {
        case .provider: from = ("provider", nil)
        case .fixed(let type): from = ("fixed", type)
        case .header(let name): from = ("header", name)
        case .pointer(let pointer): from = ("pointer", pointer)
        }
        var mapping: [(key: String, value: JSONValue)] = [("from", .string(from.0))]
        if let parameter = from.1 { mapping.append(("value", .string(parameter))) }
        mapping.append(("prefix", .string(eventType.prefix)))
        return .object([
            ("verification", .object(members)),
            ("eventType", .object(mapping)),
            ("allowedIps", .array(allowedNetworks.map { .string($0.description) })),
        ])
    }
}
