import JSON

/// The few members of a JSON body that name a provider's event: Stripe's `type` and `id`,
/// GitHub's `action`, Slack's `event.type`. Read only after the signature verified, and only
/// from a body that is one strict JSON object with unique top-level keys: for any other body
/// (form-encoded, malformed, `{"type":"a","type":"b"}`) every lookup is nil, so an
/// ambiguous body never names a type that a subscriber might read differently.
struct BodyFields {
    private let bytes: [UInt8]
    private let members: [JSONMember]

    init?(json bytes: [UInt8]) {
        guard let members = try? JSONParser.scanObject(bytes) else { return nil }
        self.bytes = bytes
        self.members = members
    }

    /// The member `key` when it is a string; nil when absent or of another kind.
    func string(_ key: String) -> String? {
        guard let member = member(key), member.kind == .string else { return nil }
        return try? JSONParser.decodeString(bytes, range: member.valueRange)
    }

    /// The member `key` when it is an object, to look into.
    func object(_ key: String) -> BodyFields? {
        guard let member = member(key), member.kind == .object else { return nil }
        return BodyFields(json: Array(bytes[member.valueRange]))
    }

    private func member(_ key: String) -> JSONMember? {
        members.first { $0.key.utf8.elementsEqual(key.utf8) }
    }
}
