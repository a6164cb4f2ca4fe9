/// A string that compares and hashes by its code points (its UTF-8 bytes), for the
/// dictionaries and sets of the schema code that hold member names, JSON Pointers and URIs.
/// JSON compares strings, member names included, code point by code point (RFC 8259 §8.3;
/// 2020-12 core §4.2.2), but a Swift `String` compares and hashes by canonical equivalence:
/// as `String` keys, "caf\u{E9}" and "cafe\u{301}" are one key, so a schema naming both in
/// `properties` would check one member against the other's rule.
struct CodePointKey: Hashable, Sendable {
    let string: String

    init(_ string: String) {
        self.string = string
    }

    static func == (lhs: CodePointKey, rhs: CodePointKey) -> Bool {
        lhs.string.isCodePointEqual(to: rhs.string)
    }

    func hash(into hasher: inout Hasher) {
        var bytes = string
        bytes.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
