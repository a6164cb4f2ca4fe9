import JSON
import TestSupport
import Testing

/// Pretty and compact re-layout: whitespace changes, tokens never do.
@Suite("JSON layout")
struct JSONLayoutTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func prettyIndentsEachLevelAndKeepsTokensExactly() throws {
        let source = #" {"id":"evt_1", "data" : {"amount":12.50,"big":123456789012345678901,"tags":["a,b","c:}"],"none":{},"list":[ ],"ok":true,"n":null,"q":"say \"hi\" \\"}} "#
        let expected = """
        {
          "id": "evt_1",
          "data": {
            "amount": 12.50,
            "big": 123456789012345678901,
            "tags": [
              "a,b",
              "c:}"
            ],
            "none": {},
            "list": [],
            "ok": true,
            "n": null,
            "q": "say \\"hi\\" \\\\"
          }
        }
        """
        #expect(text(try JSONLayout.pretty(Array(source.utf8))) == expected)
        #expect(text(try JSONLayout.compact(Array(expected.utf8)))
            == #"{"id":"evt_1","data":{"amount":12.50,"big":123456789012345678901,"tags":["a,b","c:}"],"none":{},"list":[],"ok":true,"n":null,"q":"say \"hi\" \\"}}"#)
    }

    @Test func scalarsAndIndentWidths() throws {
        #expect(text(try JSONLayout.pretty(Array(" 42 ".utf8))) == "42")
        #expect(text(try JSONLayout.pretty(Array(#""x""#.utf8))) == #""x""#)
        #expect(text(try JSONLayout.pretty(Array("[1,[2]]".utf8), indent: 4)) == "[\n    1,\n    [\n        2\n    ]\n]")
        #expect(text(try JSONLayout.pretty(Array("[1,2]".utf8), indent: 0)) == "[\n1,\n2\n]")
        #expect(text(try JSONLayout.compact(Array("\t[ 1 ,\r\n 2 ]\n".utf8))) == "[1,2]")
    }

    @Test func invalidDocumentsThrowTheParsersError() {
        for bad in ["", "{", #"{"a":}"#, "[1,]", "nul", #"{"a":1} x"#, "[\"\u{01}\"]"] {
            #expect(throws: JSONError.self) { try JSONLayout.pretty(Array(bad.utf8)) }
            #expect(throws: JSONError.self) { try JSONLayout.compact(Array(bad.utf8)) }
        }
        #expect(throws: JSONError.self) { try JSONLayout.pretty(Array("[[[1]]]".utf8), maxDepth: 2) }
    }

    @Test func randomDocumentsKeepTheirValueAndRoundTrip() throws {
        var fuzzer = JSONDocumentFuzzer(seed: 0x4A53_4F4E)
        var checked = 0
        for _ in 0..<2000 {
            let document = fuzzer.document()
            guard let value = try? JSONParser.parse(document) else { continue }
            let pretty = try JSONLayout.pretty(document)
            let compact = try JSONLayout.compact(document)
            #expect(try JSONParser.parse(pretty) == value)
            #expect(try JSONParser.parse(compact) == value)
            #expect(try JSONLayout.compact(pretty) == compact)
            #expect(try JSONLayout.pretty(compact) == pretty)
            #expect(!compact.contains(UInt8(ascii: "\n")))
            checked += 1
        }
        #expect(checked > 1000)
    }
}
