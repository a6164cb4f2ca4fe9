extension JSONParser {
    /// The ingest path: validates the whole document as strictly as `validate` (every nested
    /// value included), requires it to be one object with unique top-level keys, and returns
    /// the top-level members with the exact byte range of each value. No tree is built: only
    /// the top-level keys become Strings, so an event's `data` can be stored as the very
    /// bytes the producer sent.
    ///
    /// Duplicate top-level keys are always an error: with `{"type":"a","type":"b"}` the
    /// gateway, a subscriber and the schema validator could each believe a different type.
    /// Nested objects are not checked for duplicates here; schema validation, which builds
    /// them, rejects those.
    public static func scanObject(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 64) throws(JSONError) -> [JSONMember] {
        let start = JSONScanner.skipWhitespace(bytes, from: 0)
        guard start < bytes.count && bytes[start] == UInt8(ascii: "{") else {
            throw .expected("an object", at: start, count: bytes.count)
        }
        var collector = JSONTopLevelMembers(buffer: bytes)
        try JSONScanner.scan(bytes, maxDepth: maxDepth, handler: &collector)
        return collector.members
    }

    public static func scanObject(_ bytes: [UInt8], maxDepth: Int = 64) throws(JSONError) -> [JSONMember] {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in try scanObject(buffer, maxDepth: maxDepth) }
    }
}

/// Collects the members of the root object (depth 1) and ignores everything deeper, which the
/// scanner still validates.
struct JSONTopLevelMembers: JSONScanHandler {
    let buffer: UnsafeBufferPointer<UInt8>
    private(set) var members: [JSONMember] = []
    private var keys = JSONKeyIndex()
    private var pendingKey = ""
    /// Where the top-level value being scanned started, when it is a container.
    private var containerStart = 0

    init(buffer: UnsafeBufferPointer<UInt8>) {
        self.buffer = buffer
        members.reserveCapacity(8)
    }

    mutating func key(_ range: Range<Int>, hasEscapes: Bool, depth: Int) throws(JSONError) {
        guard depth == 1 else { return }
        let key = JSONStrings.decode(buffer, string: range, hasEscapes: hasEscapes)
        if isDuplicate(key) { throw .duplicateKey(key, at: range.lowerBound) }
        pendingKey = key
    }

    private mutating func isDuplicate(_ key: String) -> Bool {
        // An envelope has a handful of keys: a plain loop, without the generic index, keeps
        // this off the allocator and out of retain/release traffic.
        if members.count < JSONKeyIndex.linearLimit {
            for index in members.indices where JSONKeyIndex.sameBytes(members[index].key, key) { return true }
            return false
        }
        return keys.position(of: key, in: members.lazy.map(\.key)) != nil
    }

    mutating func openContainer(_ kind: JSONKind, at offset: Int, depth: Int) {
        if depth == 2 { containerStart = offset }
    }

    mutating func closeContainer(_ kind: JSONKind, end: Int, depth: Int) {
        if depth == 2 { members.append(JSONMember(key: pendingKey, valueRange: containerStart..<end, kind: kind)) }
    }

    mutating func string(_ range: Range<Int>, hasEscapes: Bool, depth: Int) {
        if depth == 1 { members.append(JSONMember(key: pendingKey, valueRange: range, kind: .string)) }
    }

    mutating func number(_ range: Range<Int>, depth: Int) {
        if depth == 1 { members.append(JSONMember(key: pendingKey, valueRange: range, kind: .number)) }
    }

    mutating func literal(_ kind: JSONKind, _ range: Range<Int>, depth: Int) {
        if depth == 1 { members.append(JSONMember(key: pendingKey, valueRange: range, kind: kind)) }
    }
}
