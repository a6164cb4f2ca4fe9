import JSON
/// The `properties` keyword's name → subschema lookup, done once per instance member on the
/// ingest path. Event schemas typically name a handful of properties, where comparing bytes
/// beats hashing them; larger tables use a dictionary keyed by `CodePointKey`. Either way names match by code point, as JSON Schema
/// requires, not by the canonical equivalence of Swift's `String ==`: "caf\u{E9}" and
/// "cafe\u{301}" are two properties with a rule each.
struct SchemaPropertyTable: Sendable {
    /// Names and their subschemas, in document order.
    let entries: [(name: String, schema: SchemaNodeID)]
    private let index: [CodePointKey: Int]?

    /// Up to this many names, lookups scan.
    private static let scanLimit = 12

    init(_ entries: [(key: String, schema: SchemaNodeID)]) {
        self.entries = entries.map { (name: $0.key, schema: $0.schema) }
        if entries.count > Self.scanLimit {
            var index: [CodePointKey: Int] = [:]
            for (offset, entry) in entries.enumerated() {
                index[CodePointKey(entry.key)] = offset
            }
            self.index = index
        } else {
            self.index = nil
        }
    }

    init() {
        self.init([])
    }

    var isEmpty: Bool { entries.isEmpty }

    func schema(for name: String) -> SchemaNodeID? {
        if let index {
            return index[CodePointKey(name)].map { entries[$0].schema }
        }
        for entry in entries where entry.name.isCodePointEqual(to: name) {
            return entry.schema
        }
        return nil
    }
}
