import JSON

/// A change to one subscription that names only what changes: fields from a `PATCH`, a pause
/// or resume, a secret rotation. It is journaled as such and applied to the subscription as
/// it stands when it is folded in, so concurrent changes of different fields both stick —
/// unlike a whole copy read before the change and written back after it.
public struct SubscriptionChange: Sendable, Equatable {
    /// A new signing secret; the one signing when the change is applied keeps signing too
    /// until `previousExpiresAt`.
    public struct Rotation: Sendable, Equatable {
        public var secret: String
        /// Microseconds since the epoch.
        public var previousExpiresAt: Int64
    }

    public var subscriptionID: String
    /// API fields to set (`SubscriptionInput.apiFields`), already validated, as JSON.
    public var fields: JSONValue?
    public var paused: Bool?
    /// Clears a 410 disable (`resume`).
    public var enable = false
    public var rotation: Rotation?

    public init(subscriptionID: String, fields: JSONValue? = nil, paused: Bool? = nil, enable: Bool = false, rotation: Rotation? = nil) {
        self.subscriptionID = subscriptionID
        self.fields = fields
        self.paused = paused
        self.enable = enable
        self.rotation = rotation
    }

    /// Applies the change as of `timestamp` (the record's commit time).
    func apply(to subscription: inout Subscription, at timestamp: Int64) throws(SubscriptionInput.Invalid) {
        if let fields { try SubscriptionInput(fields, partial: true).apply(to: &subscription) }
        if let paused { subscription.paused = paused }
        if enable { subscription.disabledReason = nil }
        if let rotation {
            let previous = subscription.activeSecrets(at: timestamp).first.map {
                Subscription.Secret(value: $0, expiresAt: rotation.previousExpiresAt)
            }
            subscription.secrets = [Subscription.Secret(value: rotation.secret, expiresAt: nil)] + (previous.map { [$0] } ?? [])
        }
    }

    /// The journal form: a JSON object.
    func encode() -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = [("id", .string(subscriptionID))]
        if let fields { members.append(("set", fields)) }
        if let paused { members.append(("paused", .bool(paused))) }
        if enable { members.append(("enable", .bool(true))) }
        if let rotation {
            members.append(("rotate", .object([
                ("secret", .string(rotation.secret)), ("previousExpiresAt", .number(Double(rotation.previousExpiresAt))),
            ])))
        }
        return JSONParser.serialize(.object(members))
    }

    static func decode(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> SubscriptionChange {
        guard let value = try? JSONParser.parse(payload), case .string(let id)? = value["id"] else { throw BinaryReader.Malformed() }
        var change = SubscriptionChange(subscriptionID: id, fields: value["set"])
        if case .bool(let paused)? = value["paused"] { change.paused = paused }
        if case .bool(true)? = value["enable"] { change.enable = true }
        if let rotate = value["rotate"] {
            guard case .string(let secret)? = rotate["secret"], case .number(let expiry)? = rotate["previousExpiresAt"] else {
                throw BinaryReader.Malformed()
            }
            change.rotation = Rotation(secret: secret, previousExpiresAt: Int64(expiry))
        }
        return change
    }
}
