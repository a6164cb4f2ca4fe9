#if canImport(Glibc)
import Glibc
#endif
import Runtime

/// Files that appear whole or not at all (index files, snapshots): written to a temporary
/// name, synced, renamed over the final name, and the directory synced so the rename itself
/// survives a crash. A crash at any step leaves the old file (or none) and at worst a
/// temporary one, which `removeLeftovers` clears at the next start.
enum AtomicFile {
    static let temporarySuffix = ".tmp"

    /// `step` names the crash points around the rename (`<step>.before-rename`, `.after-rename`).
    static func write(_ bytes: [UInt8], to path: String, directory: String, step: String) throws(JournalError) {
        let temporary = path + temporarySuffix
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw JournalError.failed("open", errno, file: temporary) }
        do throws(JournalError) {
            try SegmentFile.writeAll(fd, bytes, at: 0, file: temporary)
            guard fsync(fd) == 0 else { throw JournalError.failed("fsync", errno, file: temporary) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        CrashPoint.reach(step + ".before-rename")
        guard rename(temporary, path) == 0 else {
            let failure = errno
            unlink(temporary)
            throw JournalError.failed("rename", failure, file: path)
        }
        CrashPoint.reach(step + ".after-rename")
        try SegmentFile.syncDirectory(directory)
    }

    /// Deletes temporary files a crash left in `directory`.
    static func removeLeftovers(in directory: String) {
        for name in names(in: directory, endingWith: temporarySuffix) { unlink(directory + "/" + name) }
    }

    /// Reads a whole file; nil if it cannot be opened or read.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        guard bytes.isEmpty || (try? SegmentFile.read(fd, into: &bytes, atLeast: bytes.count, at: 0, file: path)) != nil else { return nil }
        return bytes
    }

    /// Names in `directory` that end with `suffix`.
    static func names(in directory: String, endingWith suffix: String) -> [String] {
        ((try? fileNames(in: directory)) ?? []).filter { $0.hasSuffix(suffix) }
    }
}
