import TestSupport
/// Random JSON documents for differential testing, and mutations of them that land near the
/// edges of the grammar: valid documents exercise values, mutants exercise every rejection.
struct JSONDocumentFuzzer {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    /// A valid document (as far as the generator knows: lone surrogate escapes, duplicate
    /// keys and out-of-range numbers are produced on purpose, now and then).
    mutating func document() -> [UInt8] {
        var out: [UInt8] = []
        whitespace(&out)
        if chance(1, in: 2) { object(&out, depth: 1) } else { value(&out, depth: 0) }
        whitespace(&out)
        return out
    }

    /// `document` changed in one to three places.
    mutating func mutate(_ document: [UInt8]) -> [UInt8] {
        var bytes = document
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let position = Int.random(in: 0...bytes.count, using: &random)
            switch Int.random(in: 0..<9, using: &random) {
            case 0 where position < bytes.count:
                bytes.remove(at: position)
            case 1:
                bytes.insert(pick(Self.interestingBytes), at: position)
            case 2 where position < bytes.count:
                bytes[position] = pick(Self.interestingBytes)
            case 3:
                bytes.insert(UInt8(ascii: ","), at: position)
            case 4 where position < bytes.count:
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &random))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            case 5:
                bytes.removeSubrange(position...)
            case 6 where position + 1 < bytes.count:
                bytes.swapAt(position, position + 1)
            case 7:
                bytes.insert(contentsOf: pick(Self.utf8EdgeSequences), at: position)
            default:
                bytes.insert(contentsOf: pick(Self.interestingSnippets).utf8, at: position)
            }
        }
        return bytes
    }

    static let interestingBytes: [UInt8] = Array(",:[]{}\"\\/' \t\n\r0129-+.eEantfuxN".utf8)
        + [0x00, 0x0B, 0x0C, 0x1F, 0x7F, 0x80, 0xA0, 0xA9, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0x90, 0xFF]
    /// Well-formed and malformed sequences on each boundary of RFC 3629's table: the
    /// mutations above need luck to build one of these a byte at a time.
    static let utf8EdgeSequences: [[UInt8]] = [
        [0xC2, 0x80], [0xDF, 0xBF], [0xC0, 0x80], [0xC1, 0xBF],
        [0xE0, 0xA0, 0x80], [0xE0, 0x9F, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0x9F, 0xBF], [0xED, 0xA0, 0x80],
        [0xED, 0xBF, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF], [0xE2, 0x82],
        [0xF0, 0x90, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
        [0xF5, 0x80, 0x80, 0x80], [0xF0, 0x9F, 0x98],
    ]
    static let interestingSnippets = [
        "//", "/*x*/", "\\u", "\\uD800", "\\uDC00", "\\ud83d\\ude00", "01", "1e400", "-", "1.", ".5", "NaN",
        "Infinity", "true", "null", ",]", ",}", "\"\":", "[[", "]]", "{\"a\":1}", "\u{FEFF}", "é", "\\x",
    ]

    // MARK: Values

    private mutating func value(_ out: inout [UInt8], depth: Int) {
        let containers = depth < 6 ? 3 : 0
        switch Int.random(in: 0..<(7 + containers), using: &random) {
        case 0: out += Array("null".utf8)
        case 1: out += Array((chance(1, in: 2) ? "true" : "false").utf8)
        case 2, 3: number(&out)
        case 4, 5, 6: string(&out, keyPool: false)
        case 7: array(&out, depth: depth + 1)
        default: object(&out, depth: depth + 1)
        }
    }

    private mutating func array(_ out: inout [UInt8], depth: Int) {
        out.append(UInt8(ascii: "["))
        whitespace(&out)
        let count = Int.random(in: 0...4, using: &random)
        for index in 0..<count {
            if index > 0 {
                out.append(UInt8(ascii: ","))
                whitespace(&out)
            }
            value(&out, depth: depth)
            whitespace(&out)
        }
        out.append(UInt8(ascii: "]"))
    }

    private mutating func object(_ out: inout [UInt8], depth: Int) {
        out.append(UInt8(ascii: "{"))
        whitespace(&out)
        let count = Int.random(in: 0...5, using: &random)
        for index in 0..<count {
            if index > 0 {
                out.append(UInt8(ascii: ","))
                whitespace(&out)
            }
            string(&out, keyPool: true)
            whitespace(&out)
            out.append(UInt8(ascii: ":"))
            whitespace(&out)
            value(&out, depth: depth)
            whitespace(&out)
        }
        out.append(UInt8(ascii: "}"))
    }

    private mutating func number(_ out: inout [UInt8]) {
        let forms = [
            "0", "-0", "1", "-1", "42", "1234567", "-987654321", "0.5", "-0.25", "3.14159", "1e5", "1E-5", "2.5e+10",
            "-1.5E300", "6.02214076e23", "1e308", "1.7976931348623157e308", "1e309", "-1e400", "4.9e-324", "1e-400",
            "9007199254740993", "123456789012345678901234567890", "0.1000000000000000055511151231257827", "0e0",
            "100000000000000000000000", "0.000001",
        ]
        if chance(1, in: 3) {
            out += Array(pick(forms).utf8)
            return
        }
        if chance(1, in: 4) { out.append(UInt8(ascii: "-")) }
        out += Array(String(Int.random(in: 0...1_000_000_000, using: &random)).utf8)
        if chance(1, in: 2) {
            out.append(UInt8(ascii: "."))
            out += Array(String(Int.random(in: 0...99999, using: &random)).utf8)
        }
        if chance(1, in: 3) {
            out.append(pick(Array("eE".utf8)))
            if chance(1, in: 2) { out.append(pick(Array("+-".utf8))) }
            out += Array(String(Int.random(in: 0...330, using: &random)).utf8)
        }
    }

    private mutating func string(_ out: inout [UInt8], keyPool: Bool) {
        out.append(UInt8(ascii: "\""))
        if keyPool && chance(3, in: 4) {
            // A small pool, so objects repeat keys, sometimes spelled differently.
            out += Array(pick(["type", "data", "a", "b", "\\u0061", "id", "é", "e\\u0301", "\\u00e9", ""]).utf8)
        } else {
            let pieces = [
                "a", "b", "Z", " ", "0", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0000", "\\u001F",
                "\\u00e9", "\\u20AC", "\\uFFFF", "\\uD83D\\uDE00", "\\uDBFF\\uDFFF", "é", "€", "😀", "\u{10FFFF}",
                "\u{7F}", "\u{2028}", "abcdefghijkl",
            ]
            for _ in 0..<Int.random(in: 0...6, using: &random) { out += Array(pick(pieces).utf8) }
            if chance(1, in: 40) { out += Array(pick(["\\uD800", "\\uDC00", "\\udbff"]).utf8) }
        }
        out.append(UInt8(ascii: "\""))
    }

    private mutating func whitespace(_ out: inout [UInt8]) {
        if chance(2, in: 3) { return }
        out += Array(pick([" ", "\n", "\t", "\r\n", "  ", " \t "]).utf8)
    }

    private mutating func chance(_ numerator: Int, in denominator: Int) -> Bool {
        Int.random(in: 0..<denominator, using: &random) < numerator
    }

    private mutating func pick<T>(_ choices: [T]) -> T { choices[Int.random(in: 0..<choices.count, using: &random)] }
}
