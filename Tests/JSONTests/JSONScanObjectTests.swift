import JSON
import Testing

// `scanObject` is the ingest path: the ranges it returns are how an event's `data` is stored
// byte for byte, so they are checked exactly, and it must refuse everything `validate` refuses.

@Suite struct JSONScanObjectTests {
    static func scan(_ text: String, maxDepth: Int = 64) throws(JSONError) -> [JSONMember] {
        try JSONParser.scanObject(Array(text.utf8), maxDepth: maxDepth)
    }

    static func scanError(_ text: String) -> JSONError? {
        do {
            _ = try scan(text)
            return nil
        } catch {
            return error
        }
    }

    /// The bytes of each member's value, as text.
    static func values(_ text: String) throws -> [String: String] {
        let bytes = Array(text.utf8)
        var result: [String: String] = [:]
        for member in try JSONParser.scanObject(bytes) {
            result[member.key] = String(decoding: bytes[member.valueRange], as: UTF8.self)
        }
        return result
    }

    @Test func eventEnvelopeRangesAreExact() throws {
        let note = String(repeating: "a", count: 180)
        let body = #"{"type":"order.created","source":"bench","ts":"2024-01-01T00:00:00Z","data":{"order_id":"ord_0123456789","amount":1234,"note":"\#(note)"}}"#
        let bytes = Array(body.utf8)
        let members = try JSONParser.scanObject(bytes)
        #expect(members.map(\.key) == ["type", "source", "ts", "data"])
        #expect(members.map(\.kind) == [.string, .string, .string, .object])
        #expect(members[0].valueRange == 8..<23)
        #expect(String(decoding: bytes[members[3].valueRange], as: UTF8.self)
            == #"{"order_id":"ord_0123456789","amount":1234,"note":"\#(note)"}"#)
        #expect(members[3].valueRange.upperBound == bytes.count - 1)
        try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in
            #expect(try JSONParser.decodeString(buffer, range: members[0].valueRange) == "order.created")
            #expect(try JSONParser.decodeString(buffer, range: members[2].valueRange) == "2024-01-01T00:00:00Z")
        }
    }

    @Test func valueBytesAreVerbatimWhitespaceInsideIncluded() throws {
        let text = " {\n \"data\" :  { \"x\" : [ 1 ,\t2 ] ,\r\n \"y\":\"\\u00e9\" }  ,\"n\":null,\"t\" : true , \"f\":false,\"num\":-1.5e+3,\"s\":\"a\\\"b\",\"a\":[ ] } \n"
        let values = try Self.values(text)
        #expect(values["data"] == "{ \"x\" : [ 1 ,\t2 ] ,\r\n \"y\":\"\\u00e9\" }")
        #expect(values["n"] == "null")
        #expect(values["t"] == "true")
        #expect(values["f"] == "false")
        #expect(values["num"] == "-1.5e+3")
        #expect(values["s"] == "\"a\\\"b\"")
        #expect(values["a"] == "[ ]")
        let kinds = try Self.scan(text).map(\.kind)
        #expect(kinds == [.object, .null, .bool, .bool, .number, .string, .array])
    }

    @Test func everyMemberRangeParsesToTheSameValueAsTheTree() throws {
        let text = #"{"a":{"b":[1,{"c":"d"}],"e":{}},"f":[[],[[]]],"g":"h\n\u00e9","i":0.5,"j":{"k":{"l":null}}}"#
        let bytes = Array(text.utf8)
        let tree = try JSONParser.parse(bytes)
        for member in try JSONParser.scanObject(bytes) {
            #expect(try JSONParser.parse(Array(bytes[member.valueRange])) == tree[member.key], "\(member.key)")
        }
    }

    @Test func keysAreDecoded() throws {
        let members = try Self.scan(#"{"\u0074ype":1,"a\nb":2,"😀":3,"":4}"#)
        #expect(members.map(\.key) == ["type", "a\nb", "😀", ""])
    }

    @Test func emptyObjectHasNoMembers() throws {
        #expect(try Self.scan("{}").isEmpty)
        #expect(try Self.scan(" { \n } ").isEmpty)
    }

    @Test func theDocumentMustBeOneObject() {
        #expect(Self.scanError("[1]") == JSONError(offset: 0, message: "expected an object"))
        #expect(Self.scanError("  \"x\"") == JSONError(offset: 2, message: "expected an object"))
        #expect(Self.scanError("1") == JSONError(offset: 0, message: "expected an object"))
        #expect(Self.scanError("null") == JSONError(offset: 0, message: "expected an object"))
        #expect(Self.scanError("") == JSONError(offset: 0, message: "unexpected end of input; expected an object"))
        #expect(Self.scanError(" \n") == JSONError(offset: 2, message: "unexpected end of input; expected an object"))
        #expect(Self.scanError("{} {}") == JSONError(offset: 3, message: "unexpected data after the document"))
        #expect(Self.scanError("{}]") == JSONError(offset: 2, message: "unexpected data after the document"))
    }

    @Test func nestedValuesAreValidatedStrictly() {
        #expect(Self.scanError(#"{"data":{"a":[1,]}}"#) == JSONError(offset: 16, message: "trailing comma before ']'"))
        #expect(Self.scanError(#"{"data":{"a":01}}"#) == JSONError(offset: 14, message: "leading zeros are not allowed in numbers"))
        #expect(Self.scanError(#"{"data":{"a":"\uD800"}}"#) == JSONError(offset: 14, message: "unpaired surrogate \\uD800"))
        #expect(Self.scanError(#"{"data":[1e400]}"#) == JSONError(offset: 9, message: "number out of range (beyond ±1.7976931348623157e308)"))
        #expect(Self.scanError(#"{"data":{"a":1,}}"#) == JSONError(offset: 15, message: "trailing comma before '}'"))
        #expect(Self.scanError(#"{"data":{"a":1}"#) == JSONError(offset: 15, message: "unexpected end of input; expected ',' or '}' after object member"))
        var bytes = Array(#"{"data":{"a":"xy"}}"#.utf8)
        bytes[15] = 0xFF
        #expect(throws: JSONError(offset: 15, message: "invalid UTF-8 byte 0xFF (never used in UTF-8)")) { try JSONParser.scanObject(bytes) }
    }

    @Test func topLevelDuplicatesAreAlwaysRejectedNestedOnesAreNot() throws {
        #expect(Self.scanError(#"{"type":"a","data":{},"type":"b"}"#) == JSONError(offset: 22, message: #"duplicate key "type""#))
        #expect(Self.scanError(#"{"type":"a","\u0074ype":"b"}"#) == JSONError(offset: 12, message: #"duplicate key "type""#))
        #expect(Self.scanError(#"{"data":{"k":1,"k":2}}"#) == nil)
        #expect(Self.scanError(#"{"a":{"a":1},"b":{"a":1}}"#) == nil)
        // Past the linear-search size, the hash index takes over.
        let keys = (0..<100).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(try Self.scan("{\(keys)}").count == 100)
        #expect(Self.scanError("{\(keys),\"k99\":0}")?.message == #"duplicate key "k99""#)
        #expect(Self.scanError("{\(keys),\"k0\":0}")?.message == #"duplicate key "k0""#)
    }

    @Test func depthLimitApplies() throws {
        let nested = #"{"a":"# + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}"
        #expect(try Self.scan(nested).count == 1)
        let tooDeep = #"{"a":"# + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "}"
        #expect(Self.scanError(tooDeep) == JSONError(offset: 5 + 63, message: "nesting deeper than 64 levels"))
        #expect(throws: JSONError(offset: 0, message: "nesting deeper than 0 levels")) { try Self.scan("{}", maxDepth: 0) }
    }

    @Test func decodeStringValidatesTheRange() throws {
        let bytes = Array(#"{"a":"x\ty","b":1,"c":"\uD83D\uDE00!"}"#.utf8)
        let members = try JSONParser.scanObject(bytes)
        #expect(try JSONParser.decodeString(bytes, range: members[0].valueRange) == "x\ty")
        #expect(try JSONParser.decodeString(bytes, range: members[2].valueRange) == "😀!")
        // Not a string, out of bounds, cut short, too long: errors, never a crash.
        #expect(throws: JSONError.self) { try JSONParser.decodeString(bytes, range: members[1].valueRange) }
        #expect(throws: JSONError.self) { try JSONParser.decodeString(bytes, range: 30..<200) }
        #expect(throws: JSONError.self) { try JSONParser.decodeString(bytes, range: -1..<3) }
        #expect(throws: JSONError.self) { try JSONParser.decodeString(bytes, range: 5..<5) }
        let a = members[0].valueRange
        #expect(throws: JSONError(offset: a.upperBound - 1, message: "unterminated string (opened at byte 5)")) {
            try JSONParser.decodeString(bytes, range: a.lowerBound..<a.upperBound - 1)
        }
        #expect(throws: JSONError(offset: a.upperBound, message: "the string ends before the end of the given range")) {
            try JSONParser.decodeString(bytes, range: a.lowerBound..<a.upperBound + 1)
        }
        let raw = Array("\"a\\qb\"".utf8)
        #expect(throws: JSONError(offset: 2, message: "invalid escape \\q")) { try JSONParser.decodeString(raw, range: 0..<raw.count) }
    }
}
