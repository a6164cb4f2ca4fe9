import JSON
/// The `properties` keyword's name → subschema lookup, done once per instance member on the
/// ingest path. Event schemas typically name a handful of properties, where comparing bytes
/// beats hashing (Swift's String hash normalises Unicode first); larger tables use a
/// dictionary. Either way names match by code point, as JSON Schema requires, not by the
/// canonical equivalence of Swift's `String ==`.
struct SchemaPropertyTable: Sendable {
    private let entries: [(name: String, schema: SchemaNodeID)]
    private let index: [String: Int]?

    /// Up to this many names, lookups scan.
    private static let scanLimit = 12

    init(_ entries: [(key: String, schema: SchemaNodeID)]) {
        self.entries = entries.map { (name: $0.key, schema: $0.schema) }
        if entries.count > Self.scanLimit {
            var index: [String: Int] = [:]
            for (offset, entry) in entries.enumerated() {
                index[entry.key] = offset
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
            // The dictionary may return a canonically equivalent name; confirm the code points.
            guard let offset = index[name], entries[offset].name.isCodePointEqual(to: name) else { return nil }
            return entries[offset].schema
        }
        for entry in entries where entry.name.isCodePointEqual(to: name) {
            return entry.schema
        }
        return nil
    }
}
