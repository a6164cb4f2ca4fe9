/// A growable byte buffer with a read and a write position, so socket reads land in place
/// and consumed bytes are dropped by moving an index rather than shifting memory each time.
struct ReadBuffer: Sendable {
    private var storage: [UInt8] = []
    private var readerIndex = 0
    private var writerIndex = 0

    var readableCount: Int { writerIndex - readerIndex }

    mutating func append<Bytes: Sequence>(contentsOf bytes: Bytes) where Bytes.Element == UInt8 {
        let array = Array(bytes)
        _ = writableTail(minimumCapacity: array.count) { tail in
            tail.copyBytes(from: array)
            return array.count
        }
    }

    /// Makes at least `minimumCapacity` bytes writable after the data, by compacting first
    /// and growing only when that is not enough; `body` returns how many it wrote.
    mutating func writableTail<E: Error>(
        minimumCapacity: Int, _ body: (UnsafeMutableRawBufferPointer) throws(E) -> Int
    ) throws(E) -> Int {
        if storage.count - writerIndex < minimumCapacity {
            compact()
            if storage.count - writerIndex < minimumCapacity {
                let target = max(storage.count * 2, writerIndex + minimumCapacity, 4096)
                storage.append(contentsOf: repeatElement(0, count: target - storage.count))
            }
        }
        let start = writerIndex
        // The standard library's buffer accessors rethrow untyped errors; carry ours across.
        var failure: E?
        let written = storage.withUnsafeMutableBytes { raw -> Int in
            do throws(E) {
                return try body(UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
            } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        precondition(written >= 0 && written <= storage.count - start)
        writerIndex += written
        return written
    }

    /// Calls `body` with the unread bytes.
    func withReadable<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        let range = readerIndex..<writerIndex
        var failure: E?
        let result = storage.withUnsafeBufferPointer { all -> R? in
            do throws(E) {
                return try body(UnsafeBufferPointer(rebasing: all[range]))
            } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw failure }
        return result!
    }

    mutating func consume(_ count: Int) {
        precondition(count <= readableCount)
        readerIndex += count
        if readerIndex == writerIndex {
            readerIndex = 0
            writerIndex = 0
        }
    }

    mutating func take(_ count: Int) -> [UInt8] {
        let bytes = Array(storage[readerIndex..<readerIndex + count])
        consume(count)
        return bytes
    }

    mutating func take(_ count: Int, appendingTo destination: inout [UInt8]) {
        destination.append(contentsOf: storage[readerIndex..<readerIndex + count])
        consume(count)
    }

    /// Takes one line without its terminator, or `nil` if no full line is buffered yet.
    /// With `strictCRLF`, the line must end in CRLF (chunk framing: a lenient LF there is a
    /// classic request-smuggling vector).
    mutating func takeLine(
        maxLength: Int, strictCRLF: Bool, tooLongStatus: Int = 400
    ) throws(HTTPParseError) -> [UInt8]? {
        let found: Int? = withReadable { bytes in bytes.firstIndex(of: UInt8(ascii: "\n")) }
        guard let newline = found else {
            if readableCount > maxLength {
                throw HTTPParseError(status: tooLongStatus, detail: "A line in the chunked body framing exceeds \(maxLength) bytes.")
            }
            return nil
        }
        if newline > maxLength {
            throw HTTPParseError(status: tooLongStatus, detail: "A line in the chunked body framing exceeds \(maxLength) bytes.")
        }
        var line = take(newline + 1)
        line.removeLast()
        if line.last == UInt8(ascii: "\r") {
            line.removeLast()
        } else if strictCRLF {
            throw HTTPParseError.bad("A line in the chunked body framing does not end in CRLF.")
        }
        if line.contains(UInt8(ascii: "\r")) {
            throw HTTPParseError.bad("A bare CR appears in the chunked body framing.")
        }
        return line
    }

    /// Moves unread bytes to the front once most of the buffer is consumed.
    mutating func compactIfWorthwhile() {
        if readerIndex > 0 && readerIndex >= storage.count / 2 { compact() }
    }

    private mutating func compact() {
        guard readerIndex > 0 else { return }
        let count = readableCount
        if count > 0 {
            storage.withUnsafeMutableBytes { raw in
                let base = raw.baseAddress!
                (base).copyMemory(from: base + readerIndex, byteCount: count)
            }
        }
        readerIndex = 0
        writerIndex = count
    }
}
