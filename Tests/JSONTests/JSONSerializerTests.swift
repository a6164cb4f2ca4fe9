import TestSupport
import JSON
import Testing

@Suite struct JSONSerializerTests {
    static func text(_ value: JSONValue) -> String { String(decoding: JSONParser.serialize(value), as: UTF8.self) }

    @Test func compactOutputInStoredOrder() {
        let value = JSONValue.object([
            (key: "z", value: .array([.number(1), .number(2.5), .number(-0.0), .string("x\n")])),
            (key: "a", value: .null),
            (key: "m", value: .object([(key: "t", value: .bool(true)), (key: "f", value: .bool(false))])),
            (key: "e", value: .array([])),
            (key: "o", value: .object([])),
        ])
        #expect(Self.text(value) == #"{"z":[1,2.5,-0,"x\n"],"a":null,"m":{"t":true,"f":false},"e":[],"o":{}}"#)
    }

    @Test func numbersPrintAsIntegersOrShortestRoundTrip() {
        let cases: [(Double, String)] = [
            (0, "0"), (-0.0, "-0"), (1, "1"), (-1, "-1"), (1234, "1234"), (1e15, "1000000000000000"),
            (9_007_199_254_740_991, "9007199254740991"), (-9_007_199_254_740_991, "-9007199254740991"),
            (0.1, "0.1"), (2.5, "2.5"), (-12.75, "-12.75"), (1e-7, "1e-07"), (1.5e300, "1.5e+300"),
            (0.30000000000000004, "0.30000000000000004"), (.leastNonzeroMagnitude, "5e-324"),
            (.greatestFiniteMagnitude, "1.7976931348623157e+308"), (1e16, "1e+16"),
        ]
        for (number, expected) in cases {
            #expect(Self.text(.number(number)) == expected, "\(number)")
        }
        // JSON cannot carry these; the parser never produces them.
        #expect(Self.text(.number(.infinity)) == "null")
        #expect(Self.text(.number(-.infinity)) == "null")
        #expect(Self.text(.number(.nan)) == "null")
    }

    @Test func stringsEscapeOnlyWhatRFC8259Requires() {
        #expect(Self.text(.string("a\"b\\c/d")) == #""a\"b\\c/d""#)
        #expect(Self.text(.string("\u{08}\u{0C}\n\r\t")) == #""\b\f\n\r\t""#)
        #expect(Self.text(.string("\u{0}\u{1}\u{1F}\u{7F}")) == "\"\\u0000\\u0001\\u001f\u{7F}\"")
        #expect(Self.text(.string("é€😀\u{2028}")) == "\"é€😀\u{2028}\"")
        #expect(Self.text(.object([(key: "k\"", value: .string(""))])) == #"{"k\"":""}"#)
    }

    @Test func everyDoubleRoundTripsBitForBit() throws {
        var generator = SplitMix64(seed: 0x5EED)
        var checked = 0
        while checked < 5_000 {
            let number = Double(bitPattern: generator.next())
            guard number.isFinite else { continue }
            let text = JSONParser.serialize(.number(number))
            guard case .number(let back) = try JSONParser.parse(text) else {
                Issue.record("not a number: \(String(decoding: text, as: UTF8.self))")
                return
            }
            #expect(back.bitPattern == number.bitPattern, "\(String(decoding: text, as: UTF8.self))")
            checked += 1
        }
        for integer in [0, 1, -1, 42, 1 << 52, (1 << 53) - 1, -(1 << 53) + 1] {
            let text = JSONParser.serialize(.number(Double(integer)))
            #expect(String(decoding: text, as: UTF8.self) == String(integer))
        }
    }

    @Test func parsedDocumentsRoundTrip() throws {
        let documents = [
            #"{"type":"order.created","data":{"id":"ord_1","amount":12.5,"tags":["a","b"],"ok":true,"none":null}}"#,
            #"[1,-0,0.1,1e+300,"\u0000\u001f\"\\\/","é😀",[],{},[[[]]]]"#,
            #"{"":{"":{"":""}}}"#,
        ]
        for document in documents {
            let value = try JSONParser.parse(document)
            let text = JSONParser.serialize(value)
            #expect(try JSONParser.parse(text) == value, "\(document)")
            // Serializing the reparsed value gives the same bytes: the output is canonical.
            #expect(JSONParser.serialize(try JSONParser.parse(text)) == text)
        }
    }
}
