/// Keywords that look at the instance itself rather than its members: `type`, `enum`,
/// `const`, and the number and string keywords.
extension SchemaEvaluator {
    mutating func evaluateAssertions(_ keywords: SchemaNode.Keywords, _ instance: JSONValue) -> Bool {
        var valid = true
        if let types = keywords.types, !types.admits(instance) {
            report("type", "must be \(types.description), got \(Self.describeType(of: instance))")
            valid = false
            if !collecting { return false }
        }
        if let values = keywords.enumValues, !values.contains(where: { $0.isSchemaEqual(to: instance) }) {
            report("enum", "must be one of \(SchemaMessageFormat.quote(.array(values))), got \(SchemaMessageFormat.quote(instance))")
            valid = false
            if !collecting { return false }
        }
        if let constant = keywords.constValue, !constant.isSchemaEqual(to: instance) {
            report("const", "must be \(SchemaMessageFormat.quote(constant)), got \(SchemaMessageFormat.quote(instance))")
            valid = false
            if !collecting { return false }
        }
        switch instance {
        case .number(let number):
            return evaluateNumber(keywords, number) && valid
        case .string(let string):
            return evaluateString(keywords, string) && valid
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
    private mutating func evaluateNumber(_ keywords: SchemaNode.Keywords, _ number: Double) -> Bool {
        var valid = true
        if let minimum = keywords.minimum, number < minimum {
            report("minimum", "must be >= \(SchemaMessageFormat.number(minimum)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        if let maximum = keywords.maximum, number > maximum {
            report("maximum", "must be <= \(SchemaMessageFormat.number(maximum)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        if let bound = keywords.exclusiveMinimum, number <= bound {
            report("exclusiveMinimum", "must be > \(SchemaMessageFormat.number(bound)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        if let bound = keywords.exclusiveMaximum, number >= bound {
            report("exclusiveMaximum", "must be < \(SchemaMessageFormat.number(bound)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        if let divisor = keywords.multipleOf, !Self.isMultiple(number, of: divisor) {
            report("multipleOf", "must be a multiple of \(SchemaMessageFormat.number(divisor)), got \(SchemaMessageFormat.number(number))")
            valid = false
        }
        return valid
    }

    /// Binary floating point cannot represent most decimal divisors, so 0.0075 / 0.0001 comes
    /// out as 74.99999999999999. The quotient carries about three roundings (value, divisor,
    /// division), each within half an ulp; a quotient within a few ulps of an integer is
    /// taken as that integer. Too narrow to blur real decimal differences (0.00751 / 0.0001
    /// is 75.1), and an overflowing quotient (1e308 / 0.123) is not a multiple.
    static func isMultiple(_ value: Double, of divisor: Double) -> Bool {
        if value == 0 { return true }
        let quotient = value / divisor
        guard quotient.isFinite else { return false }
        let tolerance = max(1, abs(quotient)) * (Double.ulpOfOne * 16)
        return abs(quotient - quotient.rounded()) <= tolerance
    }

    private mutating func evaluateString(_ keywords: SchemaNode.Keywords, _ string: String) -> Bool {
        var valid = true
        if keywords.minLength != nil || keywords.maxLength != nil {
            // Lengths count Unicode code points (2020-12 validation §6.3.1), not UTF-16 units
            // or bytes: "💩" is one character, not two.
            let length = string.unicodeScalars.count
            if let minimum = keywords.minLength, length < minimum {
                report("minLength", "must be at least \(minimum) characters long, got \(length)")
                valid = false
                if !collecting { return false }
            }
            if let maximum = keywords.maxLength, length > maximum {
                report("maxLength", "must be at most \(maximum) characters long, got \(length)")
                valid = false
                if !collecting { return false }
            }
        }
        if let pattern = keywords.pattern, !pattern.matches(string) {
            report("pattern", "must match pattern \(SchemaMessageFormat.quote(pattern.source)), got \(SchemaMessageFormat.quote(string))")
            valid = false
        }
        return valid
    }
}
