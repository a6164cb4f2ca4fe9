import Runtime
/// What the gateway owes one subscription: the events fanned out to it, in journal order, and
/// how far each has got. Part of the fold of the journal (DESIGN.md invariant 3): fan-out is
/// decided when the event record is applied, against the subscriptions as they stood at that
/// point of the journal, so a restart or a replay reaches exactly the same set; attempt
/// outcomes are journal records too, so after a restart every pending delivery resumes with
/// its attempt count and schedule.
struct DeliveryLedger: Sendable, Equatable {
    /// Progress of a delivery that has been attempted and is not finished.
    struct Progress: Sendable, Equatable {
        var attempts: Int
        var firstAttemptAt: Int64
        var nextAttemptAt: Int64
        var lastError: String
    }

    struct DeadLetter: Sendable, Equatable {
        var eventIndex: Int32
        var attempts: Int
        var deadLetteredAt: Int64
        var reason: String
    }

    /// Event indexes fanned out here, in journal order. Finished ones stay in place and are
    /// skipped; `head` moves past a finished prefix so the common case stays cheap.
    private(set) var queue = ChunkedArray<Int32>()
    private var head = 0
    private var finished = BitSet()
    private(set) var progress: [Int32: Progress] = [:]
    /// Dead letters by event index, and their order of arrival.
    private(set) var deadLetters: [Int32: DeadLetter] = [:]
    private(set) var deadLetterOrder: [Int32] = []
    private(set) var delivered = 0
    private(set) var attempts = 0
    private(set) var failedAttempts = 0
    /// Deliveries not yet delivered or dead-lettered.
    private(set) var pendingCount = 0
    /// Durations of the latest attempts (microseconds), a ring for the latency percentiles.
    private(set) var recentDurations: [Int64] = []
    private var nextDuration = 0
    struct LastError: Sendable, Equatable {
        var message: String
        var at: Int64
    }

    private(set) var lastError: LastError?
    static let durationWindow = 1024

    mutating func fanOut(_ eventIndex: Int32) {
        queue.append(eventIndex)
        pendingCount += 1
    }

    /// Applies one attempt's outcome.
    mutating func record(_ outcome: DeliveryAttemptRecord, eventIndex: Int32, at timestamp: Int64) {
        // An outcome for a delivery already finished (a duplicate attempt after a crash) is
        // counted but changes nothing.
        attempts += 1
        if recentDurations.count < Self.durationWindow {
            recentDurations.append(outcome.durationMicroseconds)
        } else {
            recentDurations[nextDuration] = outcome.durationMicroseconds
            nextDuration = (nextDuration + 1) % Self.durationWindow
        }
        if outcome.result != .delivered { lastError = LastError(message: outcome.summary, at: timestamp) }
        guard !finished.contains(Int(eventIndex)) else {
            if outcome.result != .delivered { failedAttempts += 1 }
            return
        }
        if outcome.result != .delivered { failedAttempts += 1 }
        switch outcome.result {
        case .retryScheduled:
            let first = progress[eventIndex]?.firstAttemptAt ?? timestamp
            progress[eventIndex] = Progress(
                attempts: Int(outcome.attempt), firstAttemptAt: first, nextAttemptAt: outcome.nextAttemptAt,
                lastError: outcome.summary)
        case .delivered:
            progress[eventIndex] = nil
            finished.insert(Int(eventIndex))
            delivered += 1
            pendingCount -= 1
        case .deadLettered:
            progress[eventIndex] = nil
            finished.insert(Int(eventIndex))
            pendingCount -= 1
            deadLetterOrder.append(eventIndex)
            deadLetters[eventIndex] = DeadLetter(
                eventIndex: eventIndex, attempts: Int(outcome.attempt), deadLetteredAt: timestamp, reason: outcome.summary)
        }
        advanceHead()
    }

    /// Puts dead letters back in line with a fresh attempt count (an operator's redeliver).
    /// Each joins the queue again at the end; if its first place is still ahead of the head,
    /// `pending` meets it there first and skips the repeat.
    mutating func redeliver(_ eventIndexes: [Int32]) {
        let requested = Set(eventIndexes)
        for index in deadLetterOrder where requested.contains(index) {
            deadLetters[index] = nil
            finished.remove(Int(index))
            queue.append(index)
            pendingCount += 1
        }
        deadLetterOrder.removeAll { requested.contains($0) }
    }

    /// Drops a dead letter for good.
    mutating func discardDeadLetter(_ eventIndex: Int32) {
        guard deadLetters.removeValue(forKey: eventIndex) != nil else { return }
        deadLetterOrder.removeAll { $0 == eventIndex }
    }

    /// Pending deliveries in journal order, with their progress if attempted.
    func pending(limit: Int = .max) -> [(eventIndex: Int32, progress: Progress?)] {
        var result: [(Int32, Progress?)] = []
        var position = head
        var seen = Set<Int32>()
        while position < queue.count && result.count < limit {
            let index = queue[position]
            position += 1
            guard !finished.contains(Int(index)), seen.insert(index).inserted else { continue }
            result.append((index, progress[index]))
        }
        return result
    }

    private mutating func advanceHead() {
        while head < queue.count && finished.contains(Int(queue[head])) { head += 1 }
    }
}

/// A set of small non-negative integers, one bit each.
struct BitSet: Sendable, Equatable {
    private var words: [UInt64] = []

    func contains(_ value: Int) -> Bool {
        let word = value >> 6
        return word < words.count && words[word] & (1 << UInt64(value & 63)) != 0
    }

    mutating func insert(_ value: Int) {
        let word = value >> 6
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: word - words.count + 1)) }
        words[word] |= 1 << UInt64(value & 63)
    }

    mutating func remove(_ value: Int) {
        let word = value >> 6
        if word < words.count { words[word] &= ~(1 << UInt64(value & 63)) }
    }
}
