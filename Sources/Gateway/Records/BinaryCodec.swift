/// The little binary format of record payloads: length-prefixed fields in a fixed order.
/// Plain and versioned (each payload starts with a version byte) so an old journal stays
/// readable when a record gains a field.
struct BinaryWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) {
        bytes.reserveCapacity(capacity)
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func integer<T: FixedWidthInteger>(_ value: T) { appendLittleEndian(value, to: &bytes) }

    /// A UTF-8 string with a 32-bit length.
    mutating func string(_ value: String) {
        integer(UInt32(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// Raw bytes with a 32-bit length.
    mutating func blob<C: Collection>(_ value: C) where C.Element == UInt8 {
        integer(UInt32(value.count))
        bytes.append(contentsOf: value)
    }
}

/// Reads what `BinaryWriter` wrote; every read is bounds-checked, since a payload that passed
/// its CRC can still be from a newer or buggy writer.
struct BinaryReader {
    struct Malformed: Error {}

    private let bytes: [UInt8]
    private(set) var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - position }

    mutating func byte() throws(Malformed) -> UInt8 {
        guard position < bytes.count else { throw Malformed() }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) throws(Malformed) -> T {
        let size = MemoryLayout<T>.size
        guard position + size <= bytes.count else { throw Malformed() }
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { raw in
            for index in 0..<size { raw[index] = bytes[position + index] }
        }
        position += size
        return T(littleEndian: value)
    }

    mutating func string() throws(Malformed) -> String {
        let range = try blobRange()
        return String(decoding: bytes[range], as: UTF8.self)
    }

    mutating func blob() throws(Malformed) -> [UInt8] {
        Array(bytes[try blobRange()])
    }

    /// The range of the next length-prefixed field, skipping over it without copying.
    mutating func blobRange() throws(Malformed) -> Range<Int> {
        let length = Int(try integer(UInt32.self))
        guard position + length <= bytes.count else { throw Malformed() }
        defer { position += length }
        return position..<(position + length)
    }
}
