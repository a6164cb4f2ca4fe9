import Runtime
#if canImport(Glibc)
import Glibc
#endif

/// Why the journal could not store or read something.
public enum JournalError: Error, Sendable, CustomStringConvertible, Equatable {
    /// No space for these records: the filesystem is full, a disk quota or a file-size limit
    /// is reached. Nothing of them was kept and the journal is as it was before, so it is not
    /// sticky: later appends are tried again, and succeed once space is freed. The writer
    /// reports it only after cutting the file back to its last good end
    /// (`Journal.refuseForSpace`); a lack of space anywhere else is an `.io` error.
    case diskFull(file: String)
    /// A write, sync, open or read failed.
    case io(call: String, errno: Int32, file: String)
    /// A sealed segment is damaged: startup refuses to guess what was lost.
    case corrupt(file: String, offset: Int, reason: String)
    /// The journal was closed before the record could be written.
    case closed
    /// A single record larger than `maxRecordSize`.
    case recordTooLarge(size: Int, limit: Int)

    /// A failed system call, ENOSPC included: whether a lack of space can be undone depends on
    /// where it happened, so only the writer turns one into `.diskFull`.
    static func failed(_ call: String, _ code: Int32, file: String) -> JournalError {
        .io(call: call, errno: code, file: file)
    }

    /// An I/O error that means "no space" rather than "broken": ENOSPC (filesystem full),
    /// EDQUOT (quota reached), EFBIG (`RLIMIT_FSIZE` or the filesystem's largest file). The
    /// writer may undo the write that failed so and go on (see `Journal.refuseForSpace`).
    var isLackOfSpace: Bool {
        guard case .io(_, let code, _) = self else { return false }
        return code == ENOSPC || code == EDQUOT || code == EFBIG
    }

    public var description: String {
        switch self {
        case .diskFull(let file):
            "no space left for the journal at \(file) (the disk is full, or a quota or file-size limit is reached); "
                + "nothing was written, and writes resume by themselves once space is freed"
        case .io(let call, let code, let file):
            "\(call) on \(file) failed: \(SystemError(call: call, errno: code).description)"
        case .corrupt(let file, let offset, let reason):
            "journal segment \(file) is damaged at byte \(offset): \(reason)"
        case .closed:
            "the journal is closed"
        case .recordTooLarge(let size, let limit):
            "a record of \(size) bytes exceeds the journal's limit of \(limit) bytes"
        }
    }
}
