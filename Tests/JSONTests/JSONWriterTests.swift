import Foundation
import JSON
import Testing

/// The object writer and the one string escaper every JSON output goes through.
@Suite("JSON writer")
struct JSONWriterTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

        @Test func escapingAppliesToKeysAndEveryControlCharacter() throws {
            var writer = JSONObjectWriter()
            let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
            writer.add("k\"ey", string: controls)
            writer.add("n", number: -42)
            writer.add("b", bool: false)
            let bytes = writer.finish()
            let escaped = (0..<0x20).map { byte -> String in
                switch byte {
                case 0x08: #"\b"#
                case 0x09: #"\t"#
                case 0x0A: #"\n"#
                case 0x0C: #"\f"#
                case 0x0D: #"\r"#
                default: "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
                }
            }.joined()
            #expect(text(bytes) == #"{"k\"ey":""# + escaped + #"","n":-42,"b":false}"#)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            #expect(object["k\"ey"] as? String == controls)
        }

        @Test func jsonStringsFromBufferSlicesEscapeLikeStrings() {
            let samples = ["", "plain", "a\"b\\c\u{1}d\n", "\"\"", "tail\\", "café ✓ 😀", "\u{1F}\u{7F}"]
            for sample in samples {
                // The sample sits in the middle of a larger buffer, as a record field does.
                let buffer = Array("xx".utf8) + Array(sample.utf8) + Array("yy".utf8)
                var fromBytes: [UInt8] = []
                buffer.withUnsafeBytes { raw in
                    appendJSONString(utf8: UnsafeRawBufferPointer(rebasing: raw[2..<(2 + sample.utf8.count)]), to: &fromBytes)
                }
                var writer = JSONObjectWriter()
                writer.add("k", string: sample)
                #expect(text(Array(#"{"k":"#.utf8) + fromBytes + [UInt8(ascii: "}")]) == text(writer.finish()))
                let decoded = try? JSONSerialization.jsonObject(with: Data(fromBytes), options: .fragmentsAllowed) as? String
                #expect(decoded == sample)
            }
        }

        @Test func emptyObject() {
            #expect(text(JSONObjectWriter().finish()) == "{}")
        }
}
