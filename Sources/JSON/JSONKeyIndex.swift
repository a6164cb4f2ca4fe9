/// Finds an object's earlier member with the same key. Keys compare by their exact UTF-8 bytes
/// (code points), as RFC 8259 §8.3 asks, not by Swift's `String ==`, which treats canonically
/// equivalent strings ("é" and "e\u{301}") as equal: those are two different JSON keys.
///
/// Small objects (an event envelope has about five keys) are searched linearly with no
/// allocation; from `linearLimit` members on, a hash table keeps a hostile object with 100k
/// keys from costing 10^10 comparisons.
struct JSONKeyIndex {
    static var linearLimit: Int { 16 }
    /// Built on first use: even an empty dictionary costs a generic-metadata lookup per
    /// object, which the ingest path would pay on every event.
    private var table: [ExactKey: Int]?
    /// How many of the keys seen so far are in `table`.
    private var indexed = 0

    /// The position of `key` among `keys`, the object's members so far, or nil.
    mutating func position<Keys: RandomAccessCollection<String>>(of key: String, in keys: Keys) -> Int?
    where Keys.Index == Int {
        if keys.count < Self.linearLimit {
            for position in keys.indices where Self.sameBytes(keys[position], key) { return position }
            return nil
        }
        var table = self.table.take() ?? [:]
        defer { self.table = table }
        while indexed < keys.count {
            table[ExactKey(keys[indexed])] = indexed
            indexed += 1
        }
        return table[ExactKey(key)]
    }

    @inline(__always)
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        // `==` is only a fast filter (a byte compare for ASCII): byte-equal strings are always
        // `==`, but `==` also holds for canonical equivalents, hence the byte check after it.
        a.utf8.count == b.utf8.count && a == b && a.utf8.elementsEqual(b.utf8)
    }

    /// A String that hashes and compares by its UTF-8 bytes.
    private struct ExactKey: Hashable {
        let string: String

        init(_ string: String) { self.string = string }

        static func == (lhs: ExactKey, rhs: ExactKey) -> Bool { sameBytes(lhs.string, rhs.string) }

        func hash(into hasher: inout Hasher) {
            var bytes = string
            bytes.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }
}
