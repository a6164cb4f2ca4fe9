/// A statement parameter, sent in PostgreSQL's binary format with its type, so nothing is
/// parsed from text on either side (and bytes go as they are, not hex-escaped).
public enum PostgresValue: Sendable {
    case int64(Int64)
    case int32(Int32)
    case bool(Bool)
    case text(String)
    case bytes([UInt8])
    case int64Array([Int64])
    case textArray([String])
    case bytesArray([[UInt8]])
    /// Arrays whose elements may be NULL (a column of rows sent at once, `unnest`).
    case optionalInt64Array([Int64?])
    case optionalTextArray([String?])
    case int16Array([Int16])
    /// SQL NULL of a type (its OID).
    case null(oid: UInt32)

    public static let nullText = PostgresValue.null(oid: TypeOID.text)
    public static let nullInt64 = PostgresValue.null(oid: TypeOID.int8)

    public static func text(_ value: String?) -> PostgresValue { value.map { .text($0) } ?? .nullText }
    public static func int64(_ value: Int64?) -> PostgresValue { value.map { .int64($0) } ?? .nullInt64 }

    /// PostgreSQL's fixed type OIDs (pg_type.dat).
    public enum TypeOID {
        public static let bool: UInt32 = 16
        public static let bytea: UInt32 = 17
        public static let int8: UInt32 = 20
        public static let int4: UInt32 = 23
        public static let text: UInt32 = 25
        public static let int8Array: UInt32 = 1016
        public static let textArray: UInt32 = 1009
        public static let byteaArray: UInt32 = 1001
        public static let int2: UInt32 = 21
        public static let int2Array: UInt32 = 1005
    }

    var oid: UInt32 {
        switch self {
        case .int64: TypeOID.int8
        case .int32: TypeOID.int4
        case .bool: TypeOID.bool
        case .text: TypeOID.text
        case .bytes: TypeOID.bytea
        case .int64Array: TypeOID.int8Array
        case .textArray: TypeOID.textArray
        case .bytesArray: TypeOID.byteaArray
        case .optionalInt64Array: TypeOID.int8Array
        case .optionalTextArray: TypeOID.textArray
        case .int16Array: TypeOID.int2Array
        case .null(let oid): oid
        }
    }

    /// The binary encoding; nil for NULL.
    var encoded: [UInt8]? {
        switch self {
        case .int64(let value): return Self.bigEndian(UInt64(bitPattern: value))
        case .int32(let value): return Self.bigEndian(UInt32(bitPattern: value))
        case .bool(let value): return [value ? 1 : 0]
        case .text(let value): return Array(value.utf8)
        case .bytes(let value): return value
        case .int64Array(let values):
            return Self.array(of: TypeOID.int8, values.map { Self.bigEndian(UInt64(bitPattern: $0)) })
        case .textArray(let values): return Self.array(of: TypeOID.text, values.map { Array($0.utf8) })
        case .bytesArray(let values): return Self.array(of: TypeOID.bytea, values)
        case .optionalInt64Array(let values):
            return Self.array(of: TypeOID.int8, values.map { $0.map { Self.bigEndian(UInt64(bitPattern: $0)) } })
        case .optionalTextArray(let values): return Self.array(of: TypeOID.text, values.map { $0.map { Array($0.utf8) } })
        case .int16Array(let values): return Self.array(of: TypeOID.int2, values.map { Self.bigEndian(UInt16(bitPattern: $0)) })
        case .null: return nil
        }
    }

    /// A one-dimensional array: dimensions, whether it has NULLs, element type, length and
    /// lower bound, then each element as its length (-1 for NULL) and bytes (array_send in
    /// PostgreSQL's arrayfuncs.c).
    private static func array(of elementOID: UInt32, _ elements: [[UInt8]?]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(20 + elements.reduce(0) { $0 + 4 + ($1?.count ?? 0) })
        out += bigEndian(UInt32(1))
        out += bigEndian(UInt32(elements.contains { $0 == nil } ? 1 : 0))
        out += bigEndian(elementOID)
        out += bigEndian(UInt32(elements.count))
        out += bigEndian(UInt32(1))
        for element in elements {
            guard let element else {
                out += bigEndian(Int32(-1))
                continue
            }
            out += bigEndian(UInt32(element.count))
            out += element
        }
        return out
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}
