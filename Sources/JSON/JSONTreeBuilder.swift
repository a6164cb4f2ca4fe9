/// Builds a `JSONValue` from the scanner's reports, with its own explicit stack of open
/// containers so a deep document costs heap, bounded by `maxDepth`, never thread stack.
struct JSONTreeBuilder: JSONScanHandler {
    private struct OpenContainer {
        let isObject: Bool
        var elements: [JSONValue] = []
        var members: [(key: String, value: JSONValue)] = []
        var keys = JSONKeyIndex()
        var pendingKey = ""
        /// Set when the pending key repeats an earlier one: the value replaces that member's.
        var replacing: Int?
    }

    let buffer: UnsafeBufferPointer<UInt8>
    let rejectDuplicateKeys: Bool
    private var open: [OpenContainer] = []
    private var root: JSONValue = .null

    init(buffer: UnsafeBufferPointer<UInt8>, rejectDuplicateKeys: Bool) {
        self.buffer = buffer
        self.rejectDuplicateKeys = rejectDuplicateKeys
    }

    /// The document, once `JSONScanner.scan` returned without throwing.
    var result: JSONValue { root }

    mutating func openContainer(_ kind: JSONKind, at offset: Int, depth: Int) {
        open.append(OpenContainer(isObject: kind == .object))
    }

    mutating func closeContainer(_ kind: JSONKind, end: Int, depth: Int) {
        guard let finished = open.popLast() else { return }
        add(finished.isObject ? .object(finished.members) : .array(finished.elements))
    }

    mutating func key(_ range: Range<Int>, hasEscapes: Bool, depth: Int) throws(JSONError) {
        let key = JSONStrings.decode(buffer, string: range, hasEscapes: hasEscapes)
        let top = open.count - 1
        // Moved out and back so the lookup can read the members while it updates the index
        // (a copy would duplicate the index's table on every key).
        var keys = JSONKeyIndex()
        swap(&keys, &open[top].keys)
        let earlier = keys.position(of: key, in: open[top].members.lazy.map(\.key))
        swap(&keys, &open[top].keys)
        if earlier != nil && rejectDuplicateKeys { throw .duplicateKey(key, at: range.lowerBound) }
        open[top].pendingKey = key
        open[top].replacing = earlier
    }

    mutating func string(_ range: Range<Int>, hasEscapes: Bool, depth: Int) {
        add(.string(JSONStrings.decode(buffer, string: range, hasEscapes: hasEscapes)))
    }

    mutating func number(_ range: Range<Int>, depth: Int) throws(JSONError) {
        add(.number(try JSONNumbers.value(buffer, range)))
    }

    mutating func literal(_ kind: JSONKind, _ range: Range<Int>, depth: Int) {
        switch buffer[range.lowerBound] {
        case UInt8(ascii: "t"): add(.bool(true))
        case UInt8(ascii: "f"): add(.bool(false))
        default: add(.null)
        }
    }

    private mutating func add(_ value: JSONValue) {
        let top = open.count - 1
        guard top >= 0 else {
            root = value
            return
        }
        if !open[top].isObject {
            open[top].elements.append(value)
        } else if let earlier = open[top].replacing {
            open[top].members[earlier].value = value
        } else {
            open[top].members.append((key: open[top].pendingKey, value: value))
        }
    }
}
