import CLibpq

/// The rows a statement returned, in binary format, copied out of libpq's result so it can
/// be freed at once.
public struct PostgresRows: Sendable {
    public let columns: Int
    /// Row-major cells; nil is SQL NULL.
    private let cells: [[UInt8]?]
    /// Per column: true when it came in binary format (`execute`), false for text (`run`).
    private let binary: [Bool]

    public var count: Int { columns == 0 ? 0 : cells.count / columns }
    public var isEmpty: Bool { count == 0 }

    init(_ result: OpaquePointer) {
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        var cells: [[UInt8]?] = []
        cells.reserveCapacity(rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    cells.append(nil)
                    continue
                }
                let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                let value = PQgetvalue(result, Int32(row), Int32(column))!
                cells.append(value.withMemoryRebound(to: UInt8.self, capacity: length) {
                    Array(UnsafeBufferPointer(start: $0, count: length))
                })
            }
        }
        self.columns = columns
        self.cells = cells
        binary = (0..<columns).map { PQfformat(result, Int32($0)) == 1 }
    }

    public func bytes(_ row: Int, _ column: Int) -> [UInt8]? { cells[row * columns + column] }

    public func string(_ row: Int, _ column: Int) -> String? {
        bytes(row, column).map { String(decoding: $0, as: UTF8.self) }
    }

    /// An integer column of any width (int2, int4, int8), or a bool as 0/1.
    public func int64(_ row: Int, _ column: Int) -> Int64? {
        guard let bytes = bytes(row, column) else { return nil }
        guard binary[column] else { return Int64(String(decoding: bytes, as: UTF8.self)) }
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        switch bytes.count {
        case 1: return Int64(Int8(bitPattern: UInt8(value)))
        case 2: return Int64(Int16(bitPattern: UInt16(value)))
        case 4: return Int64(Int32(bitPattern: UInt32(value)))
        default: return Int64(bitPattern: value)
        }
    }

    public func bool(_ row: Int, _ column: Int) -> Bool? {
        bytes(row, column).map { binary[column] ? $0.first == 1 : $0.first == UInt8(ascii: "t") }
    }
}
