import JSON
/// How violations and schema errors quote values: short, JSON-looking, and bounded, since
/// messages end up in HTTP answers and logs and an instance can be megabytes.
enum SchemaMessageFormat {
    static let maximumQuoteLength = 60

    /// `5` rather than `5.0` for integral values, which is how they were written in the JSON.
    static func number(_ value: Double) -> String {
        if value.isFinite, value.rounded(.towardZero) == value, abs(value) < 1e15 {
            return String(Int64(value))
        }
        return String(value)
    }

    static func typeName(of value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// A value as compact JSON, cut at `maximumQuoteLength` characters.
    static func quote(_ value: JSONValue) -> String {
        var output = ""
        write(value, into: &output)
        guard output.count > maximumQuoteLength else { return output }
        return String(output.prefix(maximumQuoteLength)) + "…"
    }

    static func quote(_ string: String) -> String {
        quote(.string(string))
    }

    /// The type and value, for schema errors: `string "x"`.
    static func typed(_ value: JSONValue) -> String {
        "\(typeName(of: value)) \(quote(value))"
    }

    private static func write(_ value: JSONValue, into output: inout String) {
        // Stop early: the result is truncated anyway, and the value may be huge.
        guard output.count <= maximumQuoteLength else { return }
        switch value {
        case .null: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .number(let number): output += Self.number(number)
        case .string(let string): writeString(string, into: &output)
        case .array(let elements):
            output += "["
            for (offset, element) in elements.enumerated() {
                if offset > 0 { output += "," }
                write(element, into: &output)
                if output.count > maximumQuoteLength { return }
            }
            output += "]"
        case .object(let members):
            output += "{"
            for (offset, member) in members.enumerated() {
                if offset > 0 { output += "," }
                writeString(member.key, into: &output)
                output += ":"
                write(member.value, into: &output)
                if output.count > maximumQuoteLength { return }
            }
            output += "}"
        }
    }

    private static func writeString(_ string: String, into output: inout String) {
        output += "\""
        for scalar in string.unicodeScalars.prefix(maximumQuoteLength + 1) {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                output += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
