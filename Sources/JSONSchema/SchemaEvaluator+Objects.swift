import JSON
/// Object keywords: `properties`, `patternProperties`, `additionalProperties`,
/// `propertyNames`, `required`, `dependentRequired`, `minProperties`, `maxProperties`.
extension SchemaEvaluator {
    mutating func evaluateObject(_ node: SchemaNode, _ members: [(key: String, value: JSONValue)],
                                 _ annotations: inout EvaluatedLocations?) -> Bool {
        var valid = true
        if let minimum = node.keywords.minProperties, members.count < minimum {
            report("minProperties", "must have at least \(minimum) \(Self.properties(minimum)), got \(members.count)")
            valid = false
            if !collecting { return false }
        }
        if let maximum = node.keywords.maxProperties, members.count > maximum {
            report("maxProperties", "must have at most \(maximum) \(Self.properties(maximum)), got \(members.count)")
            valid = false
            if !collecting { return false }
        }
        for name in node.keywords.required where !Self.has(name, in: members) {
            report("required", "missing required property \(SchemaMessageFormat.quote(name))")
            valid = false
            if !collecting { return false }
        }
        for dependency in node.keywords.dependentRequired where Self.has(dependency.property, in: members) {
            for name in dependency.required where !Self.has(name, in: members) {
                report("dependentRequired", "missing property \(SchemaMessageFormat.quote(name)), "
                    + "required when \(SchemaMessageFormat.quote(dependency.property)) is present")
                valid = false
                if !collecting { return false }
            }
        }
        if let names = node.keywords.propertyNames {
            for member in members {
                var none: EvaluatedLocations? = nil
                guard !probe(names, .string(member.key), &none) else { continue }
                // A name is not a value with a pointer of its own, so the violation sits on the
                // object and carries the nested reasons in its message.
                if collecting {
                    let reasons = messages(of: names, for: .string(member.key))
                    report("propertyNames", "property name \(SchemaMessageFormat.quote(member.key)) is invalid: \(reasons)")
                }
                valid = false
                if !collecting { return false }
            }
        }
        let appliesToMembers = !node.keywords.properties.isEmpty || !node.keywords.patternProperties.isEmpty
            || node.keywords.additionalProperties != nil
        if appliesToMembers, !evaluateMembers(node, members, &annotations) {
            valid = false
        }
        return valid
    }

    /// Whether the object has a member `name`. A scan: objects in events are small, and
    /// building a set per object would cost more than it saves.
    static func has(_ name: String, in members: [(key: String, value: JSONValue)]) -> Bool {
        members.contains { $0.key.isCodePointEqual(to: name) }
    }

    /// `properties`, `patternProperties` and `additionalProperties`, which share one pass
    /// over the members: `additionalProperties` applies to exactly the members the other
    /// two did not match (2020-12 core §10.3.2.3).
    private mutating func evaluateMembers(_ node: SchemaNode, _ members: [(key: String, value: JSONValue)],
                                          _ annotations: inout EvaluatedLocations?) -> Bool {
        var valid = true
        for member in members {
            var matched = false
            if let id = node.keywords.properties.schema(for: member.key) {
                matched = true
                if !apply(id, to: member.value, at: .key(member.key), keyword: "properties",
                          rejection: "property \(SchemaMessageFormat.quote(member.key)) is not allowed") {
                    valid = false
                    if !collecting { return false }
                }
            }
            for entry in node.keywords.patternProperties where entry.pattern.matches(member.key) {
                matched = true
                if !apply(entry.schema, to: member.value, at: .key(member.key), keyword: "patternProperties",
                          rejection: "property \(SchemaMessageFormat.quote(member.key)) is not allowed") {
                    valid = false
                    if !collecting { return false }
                }
            }
            if !matched, let additional = node.keywords.additionalProperties {
                matched = true
                if !apply(additional, to: member.value, at: .key(member.key), keyword: "additionalProperties",
                          rejection: "property \(SchemaMessageFormat.quote(member.key)) is not allowed") {
                    valid = false
                    if !collecting { return false }
                }
            }
            if matched {
                annotations?.properties.insert(CodePointKey(member.key))
            }
        }
        return valid
    }

    /// `unevaluatedItems` and `unevaluatedProperties`: they apply to what no other keyword
    /// of this node or its in-place subschemas evaluated successfully, hence they run last.
    mutating func evaluateUnevaluated(_ node: SchemaNode, _ instance: JSONValue,
                                      _ annotations: inout EvaluatedLocations?) -> Bool {
        var evaluated = annotations ?? EvaluatedLocations()
        var valid = true
        switch instance {
        case .array(let elements):
            guard let unevaluated = node.keywords.unevaluatedItems else { return true }
            for (index, element) in elements.enumerated() where !evaluated.evaluated(item: index) {
                if !apply(unevaluated, to: element, at: .index(index), keyword: "unevaluatedItems",
                          rejection: "item \(index) is not allowed (no other keyword accepts it)") {
                    valid = false
                    if !collecting { return false }
                }
            }
            evaluated.allItems = true
        case .object(let members):
            guard let unevaluated = node.keywords.unevaluatedProperties else { return true }
            for member in members where !evaluated.properties.contains(CodePointKey(member.key)) {
                if !apply(unevaluated, to: member.value, at: .key(member.key), keyword: "unevaluatedProperties",
                          rejection: "property \(SchemaMessageFormat.quote(member.key)) is not allowed (no other keyword accepts it)") {
                    valid = false
                    if !collecting { return false }
                }
                evaluated.properties.insert(CodePointKey(member.key))
            }
        default:
            return true
        }
        annotations = evaluated
        return valid
    }

    private static func properties(_ count: Int) -> String {
        count == 1 ? "property" : "properties"
    }
}
