/// Told what the journal writer does, for metrics. Called on the writer thread between a
/// group's write and its completions, so it must be quick and must not block: every
/// acknowledgement of the group waits for it.
public protocol JournalObserver: Sendable {
    /// A group of appends went to the segment in one write: how many records and bytes.
    func groupWritten(records: Int, bytes: Int)
    /// One `fdatasync` of the active segment returned, after this long.
    func synced(nanoseconds: UInt64)
}
