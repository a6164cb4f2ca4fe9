/// A replay of a subscription's history (`POST /v1/subscriptions/{id}/replays`): every
/// retained event in its window that the subscription matches is owed to it again, a chunk
/// at a time, and its deliveries counted as they finish.
public struct ReplayState: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Still going through its window.
        case running
        /// Every matching event is owed; waiting for the last deliveries.
        case delivering
        case completed
        case cancelled
    }

    public var id: String
    public var subscriptionID: String
    /// The window, microseconds since the epoch: `since` inclusive, `until` exclusive.
    public var since: Int64
    public var until: Int64
    /// Type patterns narrowing the subscription's own; empty for all it matches.
    public var types: [String]
    /// The last sequence looked at.
    public var cursor: UInt64 = 0
    /// Events owed so far, and how many of them were delivered or dead-lettered.
    public var enqueued = 0
    public var delivered = 0
    public var deadLettered = 0
    public var finishedEnqueuing = false
    public var cancelled = false
    public var createdAt: Int64
    public var updatedAt: Int64

    public var status: Status {
        if cancelled { return .cancelled }
        if !finishedEnqueuing { return .running }
        return delivered + deadLettered >= enqueued ? .completed : .delivering
    }

    /// How many events the replay covers, once it has looked at its whole window.
    public var total: Int? { finishedEnqueuing ? enqueued : nil }
}
