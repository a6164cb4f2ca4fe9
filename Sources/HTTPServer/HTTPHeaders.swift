/// Header fields in the order received. Names compare case-insensitively (RFC 9110 §5.1);
/// repeated fields are kept, never collapsed, so a caller can see and refuse duplicates.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Field = (name: String, value: String)

    public private(set) var fields: [Field] = []

    public init() {}

    init(reservingCapacity capacity: Int) {
        fields.reserveCapacity(capacity)
    }

    public init(_ fields: [Field]) {
        self.fields = fields
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    public mutating func add(name: String, value: String) {
        fields.append((name, value))
    }

    /// Replaces every field named `name` with one field.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        fields.append((name, value))
    }

    public mutating func remove(name: String) {
        fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) }
    }

    /// The first value of `name`, if present.
    public subscript(name: String) -> String? {
        for field in fields where asciiCaseInsensitiveEquals(field.name, name) {
            return field.value
        }
        return nil
    }

    /// Every value of `name`, in order.
    public func values(of name: String) -> [String] {
        fields.compactMap { asciiCaseInsensitiveEquals($0.name, name) ? $0.value : nil }
    }

    public func contains(_ name: String) -> Bool {
        self[name] != nil
    }

    /// Whether a comma-separated list header (e.g. `Connection`) contains `token`,
    /// across all of its fields, case-insensitively.
    public func listContains(_ name: String, token: String) -> Bool {
        for value in values(of: name) {
            for element in value.split(separator: ",") {
                if asciiCaseInsensitiveEquals(element.trimmingOWS(), token) { return true }
            }
        }
        return false
    }
}

/// Compares two strings ignoring ASCII case, without allocating. Native strings take the
/// fast path over their contiguous UTF-8; this runs for every header of every request.
@inline(__always)
func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    var a = a
    var b = b
    return a.withUTF8 { left in
        b.withUTF8 { right in
            for index in 0..<left.count where left[index] != right[index] {
                if asciiLower(left[index]) != asciiLower(right[index]) { return false }
            }
            return true
        }
    }
}

/// Compares two strings ignoring ASCII case, without allocating.
@inline(__always)
func asciiCaseInsensitiveEquals<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
    var left = a.utf8.makeIterator()
    var right = b.utf8.makeIterator()
    while true {
        switch (left.next(), right.next()) {
        case (nil, nil):
            return true
        case let (x?, y?):
            if x == y { continue }
            if asciiLower(x) != asciiLower(y) { return false }
        default:
            return false
        }
    }
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
}

extension StringProtocol {
    /// Strips optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends.
    public func trimmingOWS() -> Substring {
        let text = Substring(self)
        var start = text.startIndex
        var end = text.endIndex
        while start < end, text[start] == " " || text[start] == "\t" { start = text.index(after: start) }
        while end > start {
            let before = text.index(before: end)
            guard text[before] == " " || text[before] == "\t" else { break }
            end = before
        }
        return text[start..<end]
    }
}
