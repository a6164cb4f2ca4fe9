#if canImport(Glibc)
import Glibc
#endif

/// Naming and low-level I/O for segment files. A segment is named by the sequence number of
/// its first record (Kafka's convention), zero-padded so names sort in sequence order, and
/// starts with a 16-byte header: magic and that base sequence.
enum SegmentFile {
    static let headerSize = 16
    static let magic: [UInt8] = Array("WHGJRNL1".utf8)
    static let suffix = ".seg"

    static func name(base: UInt64) -> String {
        let digits = String(base)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    static func base(fromName name: String) -> UInt64? {
        guard name.hasSuffix(suffix), name.utf8.count == 20 + suffix.utf8.count else { return nil }
        return UInt64(name.dropLast(suffix.count))
    }

    static func header(base: UInt64) -> [UInt8] {
        var bytes = magic
        appendLittleEndian(base, to: &bytes)
        return bytes
    }

    /// Segment bases found in `directory`, ascending.
    static func list(in directory: String) throws(JournalError) -> [UInt64] {
        try fileNames(in: directory).compactMap(base(fromName:)).sorted()
    }

    /// Creates a new segment durably: the file with its header is synced, then the directory,
    /// so the file's existence survives a crash too. On failure the file is removed again (it
    /// holds no record), so a later attempt, once there is space, can create it afresh; if a
    /// crash keeps it, recovery drops a last segment without a complete header.
    static func create(directory: String, base: UInt64) throws(JournalError) -> Int32 {
        let path = directory + "/" + name(base: base)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw JournalError.failed("open", errno, file: path) }
        do throws(JournalError) {
            try writeAll(fd, header(base: base), at: 0, file: path)
            guard fsync(fd) == 0 else { throw JournalError.failed("fsync", errno, file: path) }
            try syncDirectory(directory)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        return fd
    }

    /// The size of the segment at `base` in bytes (0 if it cannot be read).
    static func size(directory: String, base: UInt64) -> Int {
        var info = stat()
        return stat(directory + "/" + name(base: base), &info) == 0 ? Int(info.st_size) : 0
    }

    static func syncDirectory(_ directory: String) throws(JournalError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.failed("open", errno, file: directory) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw JournalError.failed("fsync", errno, file: directory) }
    }

    /// `pwrite` until every byte is written, retrying EINTR and short writes.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, file: String) throws(JournalError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + written, raw.count - written, off_t(offset + written))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw JournalError.failed("pwrite", errno, file: file)
            }
            written += result
        }
    }

    /// `pread` exactly `count` bytes; fewer means the file is shorter than the index claims.
    /// `file` names the segment in an error only: it is built when one is thrown, not per read.
    static func readExactly(_ fd: Int32, count: Int, at offset: Int, file: @autoclosure () -> String) throws(JournalError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        _ = try read(fd, into: &bytes, atLeast: count, at: offset, file: file())
        return bytes
    }

    /// `pread`s into `bytes` from `offset`: at least `count` bytes, more (up to the array's
    /// size) only as far as the calls made for those `count` bring them. Returns how many
    /// were read; fewer than `count` means the file is shorter than expected, an error.
    /// `upTo` bounds the extra to fewer bytes than the array holds.
    static func read(_ fd: Int32, into bytes: inout [UInt8], atLeast count: Int, upTo limit: Int = .max, at offset: Int,
                     file: @autoclosure () -> String) throws(JournalError) -> Int {
        var done = 0
        // A short read means the end of the file (a segment's tail, while it is being
        // appended to): read again only for the bytes asked for, never for the extra.
        while done < count {
            let result = bytes.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + done, min(raw.count, max(limit, count)) - done, off_t(offset + done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw JournalError.failed("pread", errno, file: file())
            }
            if result == 0 { throw JournalError.corrupt(file: file(), offset: offset + done, reason: "unexpected end of file") }
            done += result
        }
        return done
    }
}
