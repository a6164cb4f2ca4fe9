extension JSONParser {
    /// Compact RFC 8259 text for `value`: no whitespace, object members in stored order,
    /// strings escaped minimally (quote, backslash, control characters; everything else as
    /// UTF-8). Integral numbers below 2^53 print as integers (`3`, not `3.0`), other numbers
    /// in the shortest form that parses back to the same Double. JSON has no infinity or NaN:
    /// those (which the parser never produces) print as `null`, as JavaScript does.
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        JSONSerializer.write(value, into: &out)
        return out
    }
}

enum JSONSerializer {
    /// Recursive: a tree deep enough to matter would already have hit the parser's depth
    /// limit, and values built in code are shallow (releasing a tree recurses anyway).
    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let flag):
            out.append(contentsOf: flag ? "true".utf8 : "false".utf8)
        case .number(let number):
            writeNumber(number, into: &out)
        case .string(let string):
            writeString(string, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeNumber(_ number: Double, into out: inout [UInt8]) {
        guard number.isFinite else {
            out.append(contentsOf: "null".utf8)
            return
        }
        if number == 0 {
            // Keep the sign of zero: `-0` is valid JSON and parses back to -0.0.
            out.append(contentsOf: number.sign == .minus ? "-0".utf8 : "0".utf8)
        } else if number.magnitude < 0x1p53 && number.rounded(.towardZero) == number {
            out.append(contentsOf: String(Int64(number)).utf8)
        } else {
            // Swift's description is the shortest round-trip form, and always JSON grammar for
            // finite values ("1e-05", "1.5e+300", "0.1"), except that it may end in ".0".
            var text = number.description
            if text.hasSuffix(".0") { text.removeLast(2) }
            out.append(contentsOf: text.utf8)
        }
    }

    static func writeString(_ string: String, into out: inout [UInt8]) {
        appendJSONString(string, to: &out)
    }
}
