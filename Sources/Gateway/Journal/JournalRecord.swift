import CPlatform

/// What a record holds; the journal itself only stores and returns the byte.
public struct RecordKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public var description: String { "kind \(rawValue)" }
}

/// A record to append: its kind and payload. Sequence and timestamp are assigned by the
/// writer, in commit order.
public struct JournalEntry: Sendable {
    public var kind: RecordKind
    public var payload: [UInt8]

    public init(kind: RecordKind, payload: [UInt8]) {
        self.kind = kind
        self.payload = payload
    }
}

/// Where a record lives: its segment (named by its first sequence) and byte offset.
public struct RecordLocation: Sendable, Hashable {
    public var segment: UInt64
    public var offset: UInt64
    /// Framed size on disk, header included.
    public var length: UInt32
}

/// A committed record as read back.
public struct JournalRecord: Sendable {
    public var sequence: UInt64
    /// Microseconds since the Unix epoch when the writer committed it.
    public var timestamp: Int64
    public var kind: RecordKind
    public var payload: [UInt8]
    public var location: RecordLocation
}

/// The on-disk framing of one record (little-endian):
///
///     u32 payload length | u32 masked CRC-32C | u64 sequence | i64 timestamp | u8 kind | payload
///
/// The CRC covers everything after itself, so a torn or corrupted header, sequence or payload
/// is caught. It is masked as LevelDB does (rotate + constant) so a CRC computed over data that
/// itself contains CRCs does not degenerate.
enum RecordFraming {
    static let headerSize = 25

    static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        mask(csystem_crc32c(0, bytes.baseAddress, bytes.count))
    }

    /// Appends the framed record to `output`; returns its framed length.
    @discardableResult
    static func encode(
        sequence: UInt64, timestamp: Int64, kind: RecordKind, payload: [UInt8], into output: inout [UInt8]
    ) -> Int {
        let start = output.count
        appendLittleEndian(UInt32(payload.count), to: &output)
        appendLittleEndian(UInt32(0), to: &output)
        appendLittleEndian(sequence, to: &output)
        appendLittleEndian(UInt64(bitPattern: timestamp), to: &output)
        output.append(kind.rawValue)
        output.append(contentsOf: payload)
        let crc = output.withUnsafeBytes { all in
            checksum(UnsafeRawBufferPointer(rebasing: all[(start + 8)...]))
        }
        output.withUnsafeMutableBytes { all in
            all.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
        }
        return output.count - start
    }

    enum Decoded {
        case record(sequence: UInt64, timestamp: Int64, kind: RecordKind, payload: Range<Int>, framedLength: Int)
        /// Fewer bytes than a whole record: the end of the data, or a write cut short.
        case truncated
        case corrupt(String)
    }

    /// Decodes the record at `offset` of `bytes`.
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, maxPayload: Int) -> Decoded {
        let available = bytes.count - offset
        guard available >= headerSize else { return .truncated }
        let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        guard length <= maxPayload else {
            return .corrupt("record length \(length) exceeds the maximum of \(maxPayload)")
        }
        guard available >= headerSize + length else { return .truncated }
        let stored = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
        let computed = checksum(UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<(offset + headerSize + length)]))
        guard stored == computed else { return .corrupt("checksum mismatch") }
        let sequence = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self).littleEndian
        let timestamp = Int64(bitPattern: bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self).littleEndian)
        let kind = RecordKind(rawValue: bytes[offset + 24])
        let payloadStart = offset + headerSize
        return .record(sequence: sequence, timestamp: timestamp, kind: kind,
                       payload: payloadStart..<(payloadStart + length), framedLength: headerSize + length)
    }
}

@inline(__always)
func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to output: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) }
}
