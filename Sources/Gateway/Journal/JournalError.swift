import Runtime
#if canImport(Glibc)
import Glibc
#endif

/// Why the journal could not store or read something.
public enum JournalError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The filesystem is full (ENOSPC/EDQUOT): nothing more can be made durable.
    case diskFull(file: String)
    /// A write, sync, open or read failed.
    case io(call: String, errno: Int32, file: String)
    /// A sealed segment is damaged: startup refuses to guess what was lost.
    case corrupt(file: String, offset: Int, reason: String)
    /// The journal was closed before the record could be written.
    case closed
    /// A single record larger than `maxRecordSize`.
    case recordTooLarge(size: Int, limit: Int)

    static func failed(_ call: String, _ code: Int32, file: String) -> JournalError {
        code == ENOSPC || code == EDQUOT ? .diskFull(file: file) : .io(call: call, errno: code, file: file)
    }

    public var description: String {
        switch self {
        case .diskFull(let file):
            "the disk holding \(file) is full; no event can be made durable until space is freed and the gateway restarted"
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
