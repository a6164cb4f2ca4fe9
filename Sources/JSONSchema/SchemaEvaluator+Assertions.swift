import JSON
/// Keywords that look at the instance itself rather than its members: `type`, `enum`,
/// `const`, and the number and string node.keywords.
extension SchemaEvaluator {
    mutating func evaluateAssertions(_ node: SchemaNode, _ instance: JSONValue) -> Bool {
        var valid = true
        if let types = node.keywords.types, !types.admits(instance) {
            report("type", "must be \(types.description), got \(Self.describeType(of: instance))")
            valid = false
            if !collecting { return false }
        }
        if let values = node.keywords.enumValues, !values.contains(where: { $0.isSchemaEqual(to: instance) }) {
            report("enum", "must be one of \(SchemaMessageFormat.quote(.array(values))), got \(SchemaMessageFormat.quote(instance))")
            valid = false
            if !collecting { return false }
        }
        if let constant = node.keywords.constValue, !constant.isSchemaEqual(to: instance) {
            report("const", "must be \(SchemaMessageFormat.quote(constant)), got \(SchemaMessageFormat.quote(instance))")
            valid = false
            if !collecting { return false }
        }
        switch instance {
        case .number(let number):
            return evaluateNumber(node, number) && valid
        case .string(let string):
            return evaluateString(node, string) && valid
        default:
            return valid
        }
    }

    /// `number 1.5`, `string "x"`, `object`: the value where it is short enough to help.
    private static func describeType(of instance: JSONValue) -> String {
        switch instance {
        case .null, .array, .object: SchemaMessageFormat.typeName(of: instance)
        default: SchemaMessageFormat.typed(instance)
        }
    }

    /// Number checks are cheap, so they all run even when only validity is wanted.
    private mutating func evaluateNumber(_ node: SchemaNode, _ number: Double) -> Bool {
        var valid = true
        if let minimum = node.keywords.minimum, number < minimum {
            report("minimum", "must be >= \(SchemaMessageFormat.number(minimum)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        if let maximum = node.keywords.maximum, number > maximum {
            report("maximum", "must be <= \(SchemaMessageFormat.number(maximum)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        if let bound = node.keywords.exclusiveMinimum, number <= bound {
            report("exclusiveMinimum", "must be > \(SchemaMessageFormat.number(bound)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        if let bound = node.keywords.exclusiveMaximum, number >= bound {
            report("exclusiveMaximum", "must be < \(SchemaMessageFormat.number(bound)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        if let multipleOf = node.keywords.multipleOf, !multipleOf.admits(number) {
            report("multipleOf", "must be a multiple of \(SchemaMessageFormat.number(multipleOf.divisor)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        return valid
    }

    private mutating func evaluateString(_ node: SchemaNode, _ string: String) -> Bool {
        var valid = true
        if node.keywords.minLength != nil || node.keywords.maxLength != nil {
            // Lengths count Unicode code points (2020-12 validation §6.3.1), not UTF-16 units
            // or bytes: "💩" is one character, not two.
            let length = string.unicodeScalars.count
            if let minimum = node.keywords.minLength, length < minimum {
                report("minLength", "must be at least \(minimum) characters long, got \(length)")
                valid = false
                if !collecting { return false }
            }
            if let maximum = node.keywords.maxLength, length > maximum {
                report("maxLength", "must be at most \(maximum) characters long, got \(length)")
                valid = false
                if !collecting { return false }
            }
        }
        if let pattern = node.keywords.pattern, !pattern.matches(string) {
            report("pattern", "must match pattern \(SchemaMessageFormat.quote(pattern.source)), got \(SchemaMessageFormat.quote(string))")
            valid = false
        }
        return valid
    }
}
