import Runtime
/// What the gateway owes one subscription: the events fanned out to it and not yet delivered
/// or dead-lettered, in journal order, with how far each has got, and its dead letters. Part
/// of the fold of the journal (DESIGN.md invariant 3): fan-out is decided when the event
/// record is applied, against the subscriptions as they stood at that point of the journal,
/// so a restart or a replay reaches exactly the same set; attempt outcomes are journal
/// records too, so after a restart every pending delivery resumes with its attempt count and
/// schedule.
///
/// Its size follows live work, not history (issue 9): a delivered event leaves no trace here
/// but the counters. Events are named by their journal sequence and found by their location,
/// which retention may move (`relocate`) when it carries an owed event out of a segment it
/// deletes.
struct DeliveryLedger: Sendable, Equatable {
    /// A delivery not yet finished: where its event is and, once attempted, how far it got.
    struct Open: Sendable, Equatable {
        var location: RecordLocation
        var progress: Progress?
    }

    /// Progress of a delivery that has been attempted and is not finished.
    struct Progress: Sendable, Equatable {
        var attempts: Int
        var firstAttemptAt: Int64
        var nextAttemptAt: Int64
        var lastError: String
    }

    struct DeadLetter: Sendable, Equatable {
        var location: RecordLocation
        var attempts: Int
        var deadLetteredAt: Int64
        var reason: String
    }

    struct LastError: Sendable, Equatable {
        var message: String
        var at: Int64
    }

    /// Sequences fanned out here, in the order they became owed. A finished one stays until
    /// it reaches the front (it is skipped meanwhile), so finishing out of order is O(1).
    private(set) var order = ChunkedQueue<UInt64>()
    /// The unfinished deliveries, by event sequence.
    private(set) var open: [UInt64: Open] = [:]
    /// Dead letters by event sequence, and their order of arrival.
    private(set) var deadLetters: [UInt64: DeadLetter] = [:]
    private(set) var deadLetterOrder: [UInt64] = []
    private(set) var delivered = 0
    private(set) var attempts = 0
    private(set) var failedAttempts = 0
    /// Durations of the latest attempts (microseconds), a ring for the latency percentiles.
    private(set) var recentDurations: [Int64] = []
    private(set) var nextDuration = 0
    private(set) var lastError: LastError?
    /// Deliveries owed only because a replay asked for them, by sequence: the replay's id.
    private(set) var replayOf: [UInt64: String] = [:]
    static let durationWindow = 1024

    /// Deliveries not yet delivered or dead-lettered.
    var pendingCount: Int { open.count }

    /// Owes the event at `sequence`; false if it was owed already (a resend or replay of a
    /// pending event), when it keeps its place and progress.
    @discardableResult
    mutating func fanOut(_ sequence: UInt64, at location: RecordLocation, replay: String? = nil) -> Bool {
        guard open[sequence] == nil else { return false }
        open[sequence] = Open(location: location)
        order.push(sequence)
        if let replay { replayOf[sequence] = replay }
        return true
    }

    /// Drops what a cancelled replay still has owed; returns how many.
    mutating func dropReplay(_ replayID: String) -> Int {
        let dropped = replayOf.filter { $0.value == replayID }.map(\.key)
        for sequence in dropped {
            replayOf[sequence] = nil
            open[sequence] = nil
        }
        dropFinishedFront()
        return dropped.count
    }

    /// Applies one attempt's outcome. Returns the replay whose delivery it finished, if any.
    @discardableResult
    mutating func record(_ outcome: DeliveryAttemptRecord, at timestamp: Int64) -> String? {
        attempts += 1
        if recentDurations.count < Self.durationWindow {
            recentDurations.append(outcome.durationMicroseconds)
        } else {
            recentDurations[nextDuration] = outcome.durationMicroseconds
            nextDuration = (nextDuration + 1) % Self.durationWindow
        }
        if outcome.result != .delivered {
            failedAttempts += 1
            lastError = LastError(message: outcome.summary, at: timestamp)
        }
        // An outcome for a delivery already finished (a duplicate attempt after a crash) is
        // counted but changes nothing.
        guard let current = open[outcome.sequence] else { return nil }
        switch outcome.result {
        case .retryScheduled:
            open[outcome.sequence]?.progress = Progress(
                attempts: Int(outcome.attempt), firstAttemptAt: current.progress?.firstAttemptAt ?? timestamp,
                nextAttemptAt: outcome.nextAttemptAt, lastError: outcome.summary)
        case .delivered:
            open[outcome.sequence] = nil
            delivered += 1
        case .deadLettered:
            open[outcome.sequence] = nil
            deadLetterOrder.append(outcome.sequence)
            deadLetters[outcome.sequence] = DeadLetter(
                location: current.location, attempts: Int(outcome.attempt), deadLetteredAt: timestamp, reason: outcome.summary)
        }
        dropFinishedFront()
        return outcome.result == .retryScheduled ? nil : replayOf.removeValue(forKey: outcome.sequence)
    }

    /// Puts dead letters back in line with a fresh attempt count (an operator's redeliver).
    /// Returns the ones that were dead letters, with their locations, in arrival order.
    mutating func redeliver(_ sequences: [UInt64]) -> [(sequence: UInt64, location: RecordLocation)] {
        let requested = Set(sequences)
        var moved: [(UInt64, RecordLocation)] = []
        for sequence in deadLetterOrder where requested.contains(sequence) {
            guard let letter = deadLetters.removeValue(forKey: sequence) else { continue }
            fanOut(sequence, at: letter.location)
            moved.append((sequence, letter.location))
        }
        deadLetterOrder.removeAll { requested.contains($0) }
        return moved
    }

    /// Drops a dead letter for good.
    mutating func discardDeadLetter(_ sequence: UInt64) {
        guard deadLetters.removeValue(forKey: sequence) != nil else { return }
        deadLetterOrder.removeAll { $0 == sequence }
    }

    /// The event at `sequence` now lives at `location` (retention carried it forward).
    mutating func relocate(_ sequence: UInt64, to location: RecordLocation) {
        open[sequence]?.location = location
        deadLetters[sequence]?.location = location
    }

    /// Where this ledger still needs the event at `sequence`, if it does.
    func location(of sequence: UInt64) -> RecordLocation? {
        open[sequence]?.location ?? deadLetters[sequence]?.location
    }

    /// Pending deliveries in the order they became owed, with their progress if attempted.
    func pending(limit: Int = .max) -> [(sequence: UInt64, open: Open)] {
        var result: [(UInt64, Open)] = []
        var seen = Set<UInt64>()
        for sequence in order.elements where result.count < limit {
            // A redelivered or resent event is in `order` twice: its first place counts.
            guard let item = open[sequence], seen.insert(sequence).inserted else { continue }
            result.append((sequence, item))
        }
        return result
    }

    private mutating func dropFinishedFront() {
        while let first = order.first, open[first] == nil { order.popFirst() }
    }

    /// Rebuilds a ledger from its parts (a snapshot).
    init(order: [UInt64], open: [UInt64: Open], deadLetters: [UInt64: DeadLetter], deadLetterOrder: [UInt64],
         delivered: Int, attempts: Int, failedAttempts: Int, recentDurations: [Int64], nextDuration: Int, lastError: LastError?,
         replayOf: [UInt64: String]) {
        order.forEach { self.order.push($0) }
        self.open = open
        self.deadLetters = deadLetters
        self.deadLetterOrder = deadLetterOrder
        self.delivered = delivered
        self.attempts = attempts
        self.failedAttempts = failedAttempts
        self.recentDurations = recentDurations
        self.nextDuration = nextDuration
        self.lastError = lastError
        self.replayOf = replayOf
    }

    init() {}
}
