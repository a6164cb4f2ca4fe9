import JSON
import Testing

// Strict RFC 8259: every rule has documents that must pass and documents that must fail, and
// failures are checked for the exact offset and message a producer will see in a 400.
// Every rejected document is also fed to `validate` and `parse(rejectDuplicateKeys:)`, which
// must fail the same way: they are one scanner with different handlers.

// MARK: - Harness

extension JSONParserTests {
    /// A document that must be rejected, with where and why.
    struct Rejection: Sendable, CustomStringConvertible {
        let bytes: [UInt8]
        let offset: Int
        let message: String
        let note: String

        init(_ text: String, _ offset: Int, _ message: String, _ note: String = "") {
            self.init(bytes: Array(text.utf8), offset, message, note)
        }

        init(bytes: [UInt8], _ offset: Int, _ message: String, _ note: String = "") {
            self.bytes = bytes
            self.offset = offset
            self.message = message
            self.note = note
        }

        var description: String {
            let shown = String(decoding: bytes.prefix(80), as: UTF8.self)
            return "\(note.isEmpty ? "" : note + ": ")\(shown.debugDescription) \(bytes.map { String($0, radix: 16) }.prefix(12))"
        }
    }

    static func error(_ bytes: [UInt8], maxDepth: Int = 64, rejectDuplicateKeys: Bool = false) -> JSONError? {
        do {
            _ = try JSONParser.parse(bytes, maxDepth: maxDepth, rejectDuplicateKeys: rejectDuplicateKeys)
            return nil
        } catch {
            return error
        }
    }

    static func validationError(_ bytes: [UInt8], maxDepth: Int = 64) -> JSONError? {
        do {
            try JSONParser.validate(bytes, maxDepth: maxDepth)
            return nil
        } catch {
            return error
        }
    }

    static func expectRejected(_ cases: [Rejection], sourceLocation: SourceLocation = #_sourceLocation) {
        for rejection in cases {
            let expected = JSONError(offset: rejection.offset, message: rejection.message)
            #expect(error(rejection.bytes) == expected, "\(rejection)", sourceLocation: sourceLocation)
            #expect(error(rejection.bytes, rejectDuplicateKeys: true) == expected, "\(rejection)", sourceLocation: sourceLocation)
            #expect(validationError(rejection.bytes) == expected, "\(rejection)", sourceLocation: sourceLocation)
        }
    }

    static func expectAccepted(_ documents: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for document in documents {
            #expect(error(Array(document.utf8)) == nil, "\(document.debugDescription)", sourceLocation: sourceLocation)
            #expect(validationError(Array(document.utf8)) == nil, "\(document.debugDescription)", sourceLocation: sourceLocation)
        }
    }

    static func value(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    static func string(_ json: String) throws -> String? {
        guard case .string(let value) = try JSONParser.parse(json) else { return nil }
        return value
    }

    static func number(_ json: String) throws -> Double? {
        guard case .number(let value) = try JSONParser.parse(json) else { return nil }
        return value
    }

    /// `count` arrays nested in each other, and nothing else.
    static func nestedArrays(_ count: Int) -> [UInt8] {
        Array(repeating: UInt8(ascii: "["), count: count) + Array(repeating: UInt8(ascii: "]"), count: count)
    }
}

@Suite struct JSONParserTests {
    // MARK: Structure

    @Test func acceptsEveryKindOfValueAndWhitespace() throws {
        Self.expectAccepted([
            "null", "true", "false", "0", "-0", "\"\"", "[]", "{}", " [ ] ", "{ }",
            "\t\r\n 1 \t\r\n", "[1,2,3]", "[ 1 , 2 , 3 ]", #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
            #"[[],[[]],{},{"":{}}]"#, #"{"":""}"#, "[\n  {\"a\" :\t1}\r\n]",
        ])
        #expect(try Self.value("null") == .null)
        #expect(try Self.value(" true ") == .bool(true))
        #expect(try Self.value("false") == .bool(false))
        #expect(try Self.value(#"[1,"a",null,[],{}]"#) == .array([.number(1), .string("a"), .null, .array([]), .object([])]))
    }

    @Test func objectMembersKeepDocumentOrder() throws {
        guard case .object(let members) = try Self.value(#"{"z":1,"a":2,"m":{"y":3,"b":4}}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["z", "a", "m"])
        guard case .object(let inner)? = members.last?.value else {
            Issue.record("not an object")
            return
        }
        #expect(inner.map(\.key) == ["y", "b"])
    }

    @Test func rejectsStructuralErrorsWithOffsets() {
        Self.expectRejected([
            .init("", 0, "unexpected end of input; expected a value"),
            .init("   ", 3, "unexpected end of input; expected a value"),
            .init("[1,]", 3, "trailing comma before ']'"),
            .init("[1 , ]", 5, "trailing comma before ']'"),
            .init(#"{"a":1,}"#, 7, "trailing comma before '}'"),
            .init("[,1]", 1, "expected a value"),
            .init("[1,,2]", 3, "expected a value"),
            .init("[1 2]", 3, "expected ',' or ']' after array element"),
            .init(#"{"a":1 "b":2}"#, 7, "expected ',' or '}' after object member"),
            .init(#"{"a":1]"#, 6, "expected ',' or '}' after object member"),
            .init("[1}", 2, "expected ',' or ']' after array element"),
            .init(#"{"a" 1}"#, 5, "expected ':' after object key"),
            .init(#"{"a"=1}"#, 4, "expected ':' after object key"),
            .init("{1:2}", 1, "expected a string key or '}'"),
            .init("{,}", 1, "expected a string key or '}'"),
            .init(#"{"a":1,2}"#, 7, "expected a string key after ','"),
            .init(#"{"a":}"#, 5, "expected a value"),
            .init("[", 1, "unexpected end of input; expected a value"),
            .init("[1", 2, "unexpected end of input; expected ',' or ']' after array element"),
            .init("[1,", 3, "unexpected end of input; expected a value"),
            .init("{", 1, "unexpected end of input; expected a string key or '}'"),
            .init(#"{"a""#, 4, "unexpected end of input; expected ':' after object key"),
            .init(#"{"a":"#, 5, "unexpected end of input; expected a value"),
            .init(#"{"a":1"#, 6, "unexpected end of input; expected ',' or '}' after object member"),
            .init(#"{"a":1,"#, 7, "unexpected end of input; expected a string key after ','"),
            .init("]", 0, "expected a value"),
            .init("}", 0, "expected a value"),
        ])
    }

    @Test func exactlyOneValuePerDocument() {
        Self.expectRejected([
            .init("1 2", 2, "unexpected data after the document"),
            .init("{}{}", 2, "unexpected data after the document"),
            .init("[] x", 3, "unexpected data after the document"),
            .init("[]]", 2, "unexpected data after the document"),
            .init("\"a\"\"b\"", 3, "unexpected data after the document"),
            .init("truefalse", 4, "unexpected data after the document"),
            .init("1,", 1, "unexpected data after the document"),
            .init("0x10", 1, "unexpected data after the document"),
            .init("1.5.3", 3, "unexpected data after the document"),
            .init("[1]\0", 3, "unexpected data after the document"),
        ])
    }

    @Test func rejectsNonJSONSyntaxFromLenientParsers() {
        Self.expectRejected([
            .init("// comment\n1", 0, "expected a value", "line comment"),
            .init("/* c */ 1", 0, "expected a value", "block comment"),
            .init("[1 /* c */]", 3, "expected ',' or ']' after array element", "comment inside"),
            .init("[1]// c", 3, "unexpected data after the document", "comment after"),
            .init("'a'", 0, "expected a value", "single quotes"),
            .init("{'a':1}", 1, "expected a string key or '}'", "single-quoted key"),
            .init("{a:1}", 1, "expected a string key or '}'", "bare key"),
            .init("NaN", 0, "expected a value"),
            .init("Infinity", 0, "expected a value"),
            .init("-Infinity", 1, "expected a digit after '-'"),
            .init("[nan]", 2, "expected 'null'"),
            .init("True", 0, "expected a value"),
            .init("undefined", 0, "expected a value"),
            .init("tru", 3, "unexpected end of input; expected 'true'"),
            .init("trUe", 2, "expected 'true'"),
            .init("[fals]", 5, "expected 'false'"),
            .init("nul", 3, "unexpected end of input; expected 'null'"),
            .init("nulL", 3, "expected 'null'"),
        ])
    }

    @Test func whitespaceIsOnlySpaceTabLineFeedAndCarriageReturn() {
        Self.expectAccepted([" \t\n\r1 \t\n\r", "[\t1\n,\r2 ]"])
        Self.expectRejected([
            .init("\u{0B}1", 0, "expected a value", "vertical tab"),
            .init("\u{0C}1", 0, "expected a value", "form feed"),
            .init("1\u{0C}", 1, "unexpected data after the document", "form feed after"),
            .init("[1,\u{0C}2]", 3, "expected a value", "form feed inside"),
            .init(bytes: [0xC2, 0xA0, 0x31], 0, "expected a value", "no-break space"),
            .init(bytes: [0xEF, 0xBB, 0xBF, 0x31], 0, "expected a value", "byte order mark"),
            .init(bytes: [0x00, 0x31], 0, "expected a value", "NUL"),
            .init("\u{2028}1", 0, "expected a value", "line separator"),
        ])
    }

    // MARK: Numbers

    @Test func acceptsNumberGrammar() throws {
        Self.expectAccepted(["0", "-0", "1", "-1", "10", "0.0", "-0.0", "0.5", "1.25", "1e5", "1E5", "1e+5", "1e-5", "0e0",
                             "-0.0e-0", "123456789", "1.5e300", "[0,-0,1e2]", "0.000001", "100000000000000000000000"])
        #expect(try Self.number("0") == 0)
        #expect(try Self.number("-0")?.sign == .minus)
        #expect(try Self.number("-0.0e5")?.sign == .minus)
        #expect(try Self.number("-12") == -12)
        #expect(try Self.number("1.5") == 1.5)
        #expect(try Self.number("1e2") == 100)
        #expect(try Self.number("1E+2") == 100)
        #expect(try Self.number("1e-2") == 0.01)
        #expect(try Self.number("0.1") == 0.1)
        #expect(try Self.number("12.75") == 12.75)
        #expect(try Self.number("0.30000000000000004") == 0.30000000000000004)
        #expect(try Self.number("9007199254740992") == 9_007_199_254_740_992)
        // Past 2^53 the nearest Double wins, ties to even.
        #expect(try Self.number("9007199254740993") == 9_007_199_254_740_992)
        #expect(try Self.number("123456789012345678901234567890") == 1.2345678901234568e29)
        #expect(try Self.number("1e22") == 1e22)
        #expect(try Self.number("1e23") == 1e23)
        #expect(try Self.number("1.7976931348623157e308") == .greatestFiniteMagnitude)
        #expect(try Self.number("-1.7976931348623157e308") == -.greatestFiniteMagnitude)
        #expect(try Self.number("2.2250738585072014e-308") == .leastNormalMagnitude)
        #expect(try Self.number("4.9e-324") == .leastNonzeroMagnitude)
        #expect(try Self.number("0.0000000000000000000000000001") == 1e-28)
        #expect(try Self.number("1" + String(repeating: "0", count: 308)) == 1e308)
    }

    @Test func tooSmallNumbersRoundToZeroAndTooLargeOnesAreRejected() throws {
        #expect(try Self.number("1e-400") == 0)
        #expect(try Self.number("-1e-400")?.sign == .minus)
        #expect(try Self.number("0e999999999999999999999") == 0)
        #expect(try Self.number("0.000001e310") == 1e304)
        let outOfRange = "number out of range (beyond ±1.7976931348623157e308)"
        Self.expectRejected([
            .init("1e400", 0, outOfRange),
            .init("-1e400", 0, outOfRange),
            .init("[0, 1e309]", 4, outOfRange),
            .init("1.8e308", 0, outOfRange),
            .init("1e99999999999999999999999", 0, outOfRange),
            .init(String(repeating: "9", count: 400), 0, outOfRange),
            .init(#"{"a":{"b":[1E+400]}}"#, 11, outOfRange, "nested"),
        ])
    }

    @Test func rejectsNumbersOutsideTheGrammar() {
        Self.expectRejected([
            .init("01", 1, "leading zeros are not allowed in numbers"),
            .init("-01", 2, "leading zeros are not allowed in numbers"),
            .init("00", 1, "leading zeros are not allowed in numbers"),
            .init("[007]", 2, "leading zeros are not allowed in numbers"),
            .init("+1", 0, "expected a value"),
            .init(".5", 0, "expected a value"),
            .init("-.5", 1, "expected a digit after '-'"),
            .init("-", 1, "unexpected end of input; expected a digit after '-'"),
            .init("- 1", 1, "expected a digit after '-'"),
            .init("--1", 1, "expected a digit after '-'"),
            .init("1.", 2, "unexpected end of input; expected a digit after '.'"),
            .init("[1.]", 3, "expected a digit after '.'"),
            .init("1.e5", 2, "expected a digit after '.'"),
            .init("1e", 2, "unexpected end of input; expected a digit in the exponent"),
            .init("1e+", 3, "unexpected end of input; expected a digit in the exponent"),
            .init("[1e+]", 4, "expected a digit in the exponent"),
            .init("1e-x", 3, "expected a digit in the exponent"),
            .init("1E", 2, "unexpected end of input; expected a digit in the exponent"),
            .init("1e5.5", 3, "unexpected data after the document"),
            .init("1_000", 1, "unexpected data after the document"),
        ])
    }

    // MARK: Strings

    @Test func decodesEveryEscape() throws {
        #expect(try Self.string(#""\"\\\/\b\f\n\r\t""#) == "\"\\/\u{08}\u{0C}\n\r\t")
        #expect(try Self.string(#""\u0041\u00e9\u00E9\u20AC""#) == "Aéé€")
        #expect(try Self.string(#""\u0000""#) == "\u{0}")
        #expect(try Self.string(#""\u001f\u007F""#) == "\u{1F}\u{7F}")
        #expect(try Self.string(#""\uD83D\uDE00""#) == "😀")
        #expect(try Self.string(#""\ud83d\ude00""#) == "😀")
        #expect(try Self.string(#""\uDBFF\uDFFF""#) == "\u{10FFFF}")
        #expect(try Self.string(#""\uD800\uDC00""#) == "\u{10000}")
        #expect(try Self.string(#""a\nb\u00e9c\\d😀e""#) == "a\nbéc\\d😀e")
        #expect(try Self.string(#""\uFFFF\uFFFE\uE000\uD7FF""#) == "\u{FFFF}\u{FFFE}\u{E000}\u{D7FF}")
        #expect(try Self.string("\"plain ascii, no escapes\"") == "plain ascii, no escapes")
        #expect(try Self.string("\"\u{7F} DEL is allowed raw\"") == "\u{7F} DEL is allowed raw")
        // Long runs cross the eight-byte fast path at every alignment.
        for length in 0..<40 {
            let text = String(repeating: "x", count: length)
            #expect(try Self.string("\"\(text)\"") == text)
            #expect(try Self.string("\"\(text)\\n\(text)\"") == text + "\n" + text)
            #expect(try Self.string("\"\(text)é\(text)\"") == text + "é" + text)
        }
    }

    @Test func rejectsBadEscapes() {
        Self.expectRejected([
            .init(#""\x""#, 1, "invalid escape \\x"),
            .init(#""ab\'""#, 3, "invalid escape \\'"),
            .init(#""\a""#, 1, "invalid escape \\a"),
            .init(#""\U0041""#, 1, "invalid escape \\U"),
            .init(#""\0""#, 1, "invalid escape \\0"),
            .init("\"\\ \"", 1, "invalid escape: '\\' followed by byte 0x20"),
            .init(bytes: [0x22, 0x5C, 0xC3, 0xA9, 0x22], 1, "invalid escape: '\\' followed by byte 0xC3"),
            .init(#""\u12""#, 1, "invalid \\u escape: expected 4 hex digits"),
            .init(#""\u12G4""#, 1, "invalid \\u escape: expected 4 hex digits"),
            .init(#""\u+123""#, 1, "invalid \\u escape: expected 4 hex digits"),
            .init(#""\uD800\u12""#, 7, "invalid \\u escape: expected 4 hex digits"),
            .init(#""\u12"#, 5, "unterminated string (opened at byte 0)"),
            .init(#""\"#, 2, "unterminated string (opened at byte 0)"),
        ])
    }

    @Test func surrogateEscapesMustBePaired() {
        Self.expectRejected([
            .init(#""\uD800""#, 1, "unpaired surrogate \\uD800", "lone high"),
            .init(#""\udbff""#, 1, "unpaired surrogate \\uDBFF", "lone high, lower case"),
            .init(#""\uDC00""#, 1, "unpaired surrogate \\uDC00", "lone low"),
            .init(#""\uDFFF\uD800""#, 1, "unpaired surrogate \\uDFFF", "reversed pair"),
            .init(#""\uD800\uD800""#, 1, "unpaired surrogate \\uD800", "two highs"),
            .init(#""\uD800\u0041""#, 1, "unpaired surrogate \\uD800", "high then BMP"),
            .init(#""\uD800x""#, 1, "unpaired surrogate \\uD800", "high then text"),
            .init(#""\uD800\n""#, 1, "unpaired surrogate \\uD800", "high then short escape"),
            .init(#""ab\uD83D""#, 3, "unpaired surrogate \\uD83D", "high at the end"),
            .init(#""\uD83D\uDE00\uDE00""#, 13, "unpaired surrogate \\uDE00", "extra low after a pair"),
            .init(#"{"\uDC00":1}"#, 2, "unpaired surrogate \\uDC00", "in a key"),
            .init(#""\uD800"#, 7, "unterminated string (opened at byte 0)", "high at end of input"),
        ])
    }

    @Test func rejectsRawControlCharactersAndUnterminatedStrings() {
        var cases: [Rejection] = []
        for byte in UInt8(0)..<0x20 {
            let hex = String(byte, radix: 16, uppercase: true)
            cases.append(.init(bytes: [0x22, 0x61, byte, 0x22], 2, "unescaped control character 0x\(byte < 0x10 ? "0" : "")\(hex) in string"))
        }
        cases += [
            .init("\"abc", 4, "unterminated string (opened at byte 0)"),
            .init("[\"a", 3, "unterminated string (opened at byte 1)"),
            .init("{\"a", 3, "unterminated string (opened at byte 1)"),
            .init("\"" + String(repeating: "a", count: 100), 101, "unterminated string (opened at byte 0)"),
        ]
        Self.expectRejected(cases)
    }

    // MARK: UTF-8

    @Test func acceptsWellFormedUTF8AtEveryBoundary() throws {
        let boundaries: [[UInt8]] = [
            [0xC2, 0x80], [0xDF, 0xBF],  // U+0080, U+07FF
            [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],  // U+0800, U+D7FF, U+E000, U+FFFF
            [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],  // U+10000, U+10FFFF
            Array("é€😀\u{2028}\u{FEFF}".utf8),
        ]
        for sequence in boundaries {
            let document = [0x22] + sequence + [0x22]
            let parsed = try JSONParser.parse(document)
            #expect(parsed == .string(String(decoding: sequence, as: UTF8.self)), "\(sequence)")
            // And with ASCII around it, so the fast path meets it at other alignments.
            let padded = [0x22] + Array("abcdefg".utf8) + sequence + Array("hijklmnop".utf8) + [0x22]
            #expect(throws: Never.self) { try JSONParser.validate(padded) }
        }
    }

    @Test func rejectsMalformedUTF8AtTheLeadByte() {
        func inString(_ bytes: [UInt8]) -> [UInt8] { [0x22, 0x61] + bytes + [0x22] }
        Self.expectRejected([
            .init(bytes: inString([0x80]), 2, "invalid UTF-8 byte 0x80 (unexpected continuation byte)"),
            .init(bytes: inString([0xBF]), 2, "invalid UTF-8 byte 0xBF (unexpected continuation byte)"),
            .init(bytes: inString([0xC3]), 2, "invalid UTF-8 byte 0xC3 (truncated sequence)"),
            .init(bytes: inString([0xC3, 0x41]), 2, "invalid UTF-8 byte 0xC3 (truncated sequence)"),
            .init(bytes: inString([0xC3, 0xC3, 0xA9]), 2, "invalid UTF-8 byte 0xC3 (truncated sequence)"),
            .init(bytes: inString([0xE2, 0x82]), 2, "invalid UTF-8 byte 0xE2 (truncated sequence)"),
            .init(bytes: inString([0xF0, 0x9F, 0x98]), 2, "invalid UTF-8 byte 0xF0 (truncated sequence)"),
            .init(bytes: [0x22, 0xE2, 0x82], 1, "invalid UTF-8 byte 0xE2 (truncated sequence)", "at end of input"),
            .init(bytes: inString([0xC0, 0x80]), 2, "invalid UTF-8 byte 0xC0 (overlong encoding)", "overlong NUL"),
            .init(bytes: inString([0xC1, 0xBF]), 2, "invalid UTF-8 byte 0xC1 (overlong encoding)"),
            .init(bytes: inString([0xE0, 0x80, 0x80]), 2, "invalid UTF-8 byte 0xE0 (overlong encoding)"),
            .init(bytes: inString([0xE0, 0x9F, 0xBF]), 2, "invalid UTF-8 byte 0xE0 (overlong encoding)"),
            .init(bytes: inString([0xF0, 0x8F, 0xBF, 0xBF]), 2, "invalid UTF-8 byte 0xF0 (overlong encoding)"),
            .init(bytes: inString([0xED, 0xA0, 0x80]), 2, "invalid UTF-8 byte 0xED (encoded surrogate)", "U+D800"),
            .init(bytes: inString([0xED, 0xBF, 0xBF]), 2, "invalid UTF-8 byte 0xED (encoded surrogate)", "U+DFFF"),
            .init(bytes: inString([0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]), 2, "invalid UTF-8 byte 0xED (encoded surrogate)", "CESU-8 pair"),
            .init(bytes: inString([0xF4, 0x90, 0x80, 0x80]), 2, "invalid UTF-8 byte 0xF4 (above U+10FFFF)"),
            .init(bytes: inString([0xF5, 0x80, 0x80, 0x80]), 2, "invalid UTF-8 byte 0xF5 (above U+10FFFF)"),
            .init(bytes: inString([0xF8, 0x88, 0x80, 0x80, 0x80]), 2, "invalid UTF-8 byte 0xF8 (never used in UTF-8)"),
            .init(bytes: inString([0xFE]), 2, "invalid UTF-8 byte 0xFE (never used in UTF-8)"),
            .init(bytes: inString([0xFF]), 2, "invalid UTF-8 byte 0xFF (never used in UTF-8)"),
            .init(bytes: [0x7B, 0x22, 0xC3, 0x22, 0x3A, 0x31, 0x7D], 2, "invalid UTF-8 byte 0xC3 (truncated sequence)", "in a key"),
            .init(bytes: Array("\"abcdefghijklmnop".utf8) + [0xFF, 0x22], 17, "invalid UTF-8 byte 0xFF (never used in UTF-8)", "after a long run"),
            .init(bytes: [0xC3, 0xA9], 0, "expected a value", "outside a string"),
            .init(bytes: [0x5B, 0x31, 0xC3, 0xA9, 0x5D], 2, "expected ',' or ']' after array element", "outside a string"),
        ])
    }

    // MARK: Depth

    @Test func depthLimitCountsArraysAndObjects() throws {
        #expect(Self.error(Self.nestedArrays(64)) == nil)
        #expect(Self.error(Self.nestedArrays(65)) == JSONError(offset: 64, message: "nesting deeper than 64 levels"))
        #expect(Self.validationError(Self.nestedArrays(65)) == JSONError(offset: 64, message: "nesting deeper than 64 levels"))

        // Objects and arrays count alike: 32 of each is 64 levels.
        let mixed = String(repeating: #"{"a":["#, count: 32) + "1" + String(repeating: "]}", count: 32)
        #expect(Self.error(Array(mixed.utf8)) == nil)
        let tooMixed = #"["# + mixed + "]"
        #expect(Self.error(Array(tooMixed.utf8)) == JSONError(offset: 1 + 6 * 31 + 5, message: "nesting deeper than 64 levels"))

        #expect(Self.error(Array("1".utf8), maxDepth: 0) == nil)
        #expect(Self.error(Array("[]".utf8), maxDepth: 0) == JSONError(offset: 0, message: "nesting deeper than 0 levels"))
        #expect(Self.error(Array("[[1]]".utf8), maxDepth: 1) == JSONError(offset: 1, message: "nesting deeper than 1 levels"))

        // Beyond 64 the container kinds spill out of the inline bits; check they are kept.
        let deep = String(repeating: #"{"k":["#, count: 100) + "null" + String(repeating: "]}", count: 100)
        #expect(Self.error(Array(deep.utf8), maxDepth: 200) == nil)
        #expect(Self.error(Array(deep.utf8), maxDepth: 199) == JSONError(offset: 6 * 99 + 5, message: "nesting deeper than 199 levels"))
        let wrongCloser = String(repeating: #"{"k":["#, count: 100) + "null" + String(repeating: "]}", count: 99) + "}}"
        #expect(Self.error(Array(wrongCloser.utf8), maxDepth: 200) == JSONError(offset: wrongCloser.utf8.count - 2, message: "expected ',' or ']' after array element"))
        let parsed = try JSONParser.parse(deep, maxDepth: 200)
        var level = parsed
        for _ in 0..<100 {
            guard case .array(let elements)? = level["k"], let first = elements.first else {
                Issue.record("lost a level")
                return
            }
            level = first
        }
        #expect(level == .null)
    }

    @Test func hostileNestingNeverRecurses() {
        // A million brackets: rejected at the limit without touching the rest.
        let brackets = [UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)
        #expect(Self.validationError(brackets) == JSONError(offset: 64, message: "nesting deeper than 64 levels"))
        // Even a caller that lifts the limit gets an error, not a stack overflow: the scanner
        // keeps one bit per level on the heap.
        #expect(Self.validationError(brackets, maxDepth: .max) == JSONError(offset: 1_000_000, message: "unexpected end of input; expected a value"))
        #expect(Self.validationError(Self.nestedArrays(500_000), maxDepth: .max) == nil)
    }

    // MARK: Duplicate keys

    @Test func duplicateKeysLastWinsAtTheFirstPositionUnlessRejected() throws {
        let document = #"{"a":1,"b":2,"a":3}"#
        guard case .object(let members) = try Self.value(document) else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["a", "b"])
        #expect(members.map(\.value) == [.number(3), .number(2)])
        #expect(Self.error(Array(document.utf8), rejectDuplicateKeys: true) == JSONError(offset: 13, message: #"duplicate key "a""#))
        #expect(Self.validationError(Array(document.utf8)) == nil, "validate does not build keys")
    }

    @Test func duplicateKeysCompareDecodedCodePoints() throws {
        func duplicate(_ document: String) -> JSONError? { Self.error(Array(document.utf8), rejectDuplicateKeys: true) }
        // Escapes are decoded before comparing: these are the same key.
        #expect(duplicate(#"{"a":1,"\u0061":2}"#) == JSONError(offset: 7, message: #"duplicate key "a""#))
        #expect(duplicate(#"{"😀":1,"\uD83D\uDE00":2}"#) == JSONError(offset: 10, message: #"duplicate key "😀""#))
        // Canonically equivalent but different code points: two keys (Swift's == would say one).
        #expect(duplicate(#"{"é":1,"e\u0301":2}"#) == nil)
        #expect(duplicate(#"{"\u00e9":1,"e\u0301":2}"#) == nil)
        guard case .object(let members) = try Self.value(#"{"é":1,"e\u0301":2}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(members.count == 2)
        // The message escapes the key the way JSON would.
        #expect(duplicate(#"{"a\"b\n":1,"a\"b\n":2}"#) == JSONError(offset: 12, message: #"duplicate key "a\"b\n""#))
        // Nested objects are checked too, each on its own.
        #expect(duplicate(#"{"x":{"k":1,"k":2}}"#) == JSONError(offset: 12, message: #"duplicate key "k""#))
        #expect(duplicate(#"{"k":{"k":1},"j":{"k":2}}"#) == nil)
        #expect(duplicate(#"[{"k":1},{"k":2}]"#) == nil)
    }

    @Test func duplicateKeysInLargeObjectsUseTheHashIndex() throws {
        let keys = (0..<200).map { "\"key\($0)\":\($0)" }
        let unique = "{" + keys.joined(separator: ",") + "}"
        #expect(Self.error(Array(unique.utf8), rejectDuplicateKeys: true) == nil)
        let repeated = "{" + keys.joined(separator: ",") + #","key150":0}"#
        #expect(Self.error(Array(repeated.utf8), rejectDuplicateKeys: true) == JSONError(offset: unique.utf8.count, message: #"duplicate key "key150""#))
        let early = "{" + keys.joined(separator: ",") + #","key3":0}"#
        #expect(Self.error(Array(early.utf8), rejectDuplicateKeys: true)?.message == #"duplicate key "key3""#)
        guard case .object(let members) = try Self.value(repeated) else {
            Issue.record("not an object")
            return
        }
        #expect(members.count == 200)
        #expect(members[150].key == "key150" && members[150].value == .number(0))
    }

    // MARK: Entry points

    @Test func overloadsAgree() throws {
        let text = #"{"a":[1,"é"]}"#
        let expected = try JSONParser.parse(Array(text.utf8))
        #expect(try JSONParser.parse(text) == expected)
        #expect(try JSONParser.parse(Array(text.utf8)[...]) == expected)
        #expect(try JSONParser.parse(AnyCollection(Array(text.utf8))) == expected, "non-contiguous collection")
        try JSONParser.validate(text)
        #expect(throws: JSONError(offset: 3, message: "trailing comma before ']'")) { try JSONParser.validate("[1,]") }
        #expect(throws: JSONError(offset: 3, message: "trailing comma before ']'")) { try JSONParser.parse(AnyCollection(Array("[1,]".utf8))) }
        #expect(JSONError(offset: 17, message: "expected ',' or '}' after object member").description
            == "at byte 17: expected ',' or '}' after object member")
    }
}
