import Runtime
/// What the gateway owes one subscription: the events fanned out to it and not yet delivered
/// or dead-lettered, in the order they became owed, with how far each has got, and its dead
/// letters. Part of the fold of the journal (DESIGN.md invariant 3): fan-out is decided when
/// the event record is applied, against the subscriptions as they stood at that point of the
/// journal, so a restart or a replay reaches exactly the same set; attempt outcomes are
/// journal records too, so after a restart every pending delivery resumes with its attempt
/// count and schedule.
///
/// Its size follows live work, not history (issue 9), and stays small per pending delivery
/// (a million pending is a common backlog): a queue entry of 24 bytes and a bit. Events are
/// named by their journal sequence and found by their location, which retention may move
/// (`relocate`) when it carries an owed event out of a segment it deletes.
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

    /// One fan-out in line: the event and where it was when it became owed.
    struct Entry: Sendable, Equatable {
        var sequence: UInt64
        var location: RecordLocation
    }

    /// Fan-outs in journal order (each newer than the last): nearly all of them. An entry
    /// stays after its delivery finished until it reaches the front (it is skipped
    /// meanwhile), so finishing out of order is O(1), and one is found by binary search.
    private(set) var live = ChunkedQueue<Entry>()
    /// Events owed again out of journal order (a redelivered dead letter, a resend, a replay:
    /// few at a time), with where they are, in the order they became owed.
    private(set) var extra: [UInt64: RecordLocation] = [:]
    private(set) var extraOrder = ChunkedQueue<UInt64>()
    /// Which sequences are owed now.
    private(set) var owed = SparseBitSet()
    private(set) var pendingCount = 0
    /// Progress of the owed deliveries that were attempted.
    private(set) var progress: [UInt64: Progress] = [:]
    /// Owed events retention moved since they were queued: their place now.
    private(set) var moved: [UInt64: RecordLocation] = [:]
    /// Dead letters by event sequence, and their order of arrival.
    private(set) var deadLetters: [UInt64: DeadLetter] = [:]
    private(set) var deadLetterOrder: [UInt64] = []
    private(set) var delivered = 0
    private(set) var attempts = 0
    private(set) var failedAttempts = 0
    /// Durations of the latest attempts, for the latency percentiles.
    private(set) var durations = AttemptDurations()
    private(set) var lastError: LastError?
    /// Deliveries owed only because a replay asked for them, by sequence: the replay's id.
    private(set) var replayOf: [UInt64: String] = [:]

    /// Owes the event at `sequence`; false if it was owed already (a resend or replay of a
    /// pending event), when it keeps its place and progress.
    @discardableResult
    mutating func fanOut(_ sequence: UInt64, at location: RecordLocation, replay: String? = nil) -> Bool {
        guard !owed.contains(sequence) else { return false }
        owed.insert(sequence)
        pendingCount += 1
        if sequence > (live.last?.sequence ?? 0) {
            live.push(Entry(sequence: sequence, location: location))
        } else {
            extra[sequence] = location
            extraOrder.push(sequence)
        }
        if let replay { replayOf[sequence] = replay }
        return true
    }

    /// Applies one attempt's outcome. Returns the replay whose delivery it finished, if any.
    @discardableResult
    mutating func record(_ outcome: DeliveryAttemptRecord, at timestamp: Int64) -> String? {
        attempts += 1
        durations.record(outcome.durationMicroseconds)
        if outcome.result != .delivered {
            failedAttempts += 1
            lastError = LastError(message: outcome.summary, at: timestamp)
        }
        // An outcome for a delivery already finished (a duplicate attempt after a crash) is
        // counted but changes nothing.
        let sequence = outcome.sequence
        guard owed.contains(sequence) else { return nil }
        switch outcome.result {
        case .retryScheduled:
            progress[sequence] = Progress(
                attempts: Int(outcome.attempt), firstAttemptAt: progress[sequence]?.firstAttemptAt ?? timestamp,
                nextAttemptAt: outcome.nextAttemptAt, lastError: outcome.summary)
            return nil
        case .delivered:
            delivered += 1
        case .deadLettered:
            deadLetterOrder.append(sequence)
            deadLetters[sequence] = DeadLetter(
                location: currentLocation(of: sequence), attempts: Int(outcome.attempt), deadLetteredAt: timestamp,
                reason: outcome.summary)
        }
        let replay = replayOf[sequence]
        finish(sequence)
        return replay
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

    /// Drops what a cancelled replay still has owed; returns how many.
    mutating func dropReplay(_ replayID: String) -> Int {
        let dropped = replayOf.filter { $0.value == replayID }.map(\.key)
        dropped.forEach { finish($0) }
        return dropped.count
    }

    /// The event at `sequence` now lives at `location` (retention carried it forward).
    mutating func relocate(_ sequence: UInt64, to location: RecordLocation) {
        if owed.contains(sequence) { moved[sequence] = location }
        deadLetters[sequence]?.location = location
    }

    /// Where this ledger still needs the event at `sequence`, if it does.
    func location(of sequence: UInt64) -> RecordLocation? {
        if owed.contains(sequence) { return currentLocation(of: sequence) }
        return deadLetters[sequence]?.location
    }

    /// Every event this ledger still needs (owed or dead-lettered) that is in `segment`.
    func owedLocations(in segment: UInt64) -> [UInt64: RecordLocation] {
        var found: [UInt64: RecordLocation] = [:]
        for entry in live.elements where owed.contains(entry.sequence) {
            let location = moved[entry.sequence] ?? entry.location
            if location.segment == segment { found[entry.sequence] = location }
        }
        for (sequence, location) in extra where owed.contains(sequence) {
            let location = moved[sequence] ?? location
            if location.segment == segment { found[sequence] = location }
        }
        for (sequence, letter) in deadLetters where letter.location.segment == segment { found[sequence] = letter.location }
        return found
    }

    /// Pending deliveries, those in journal order first, then those owed again, with their
    /// progress if attempted. An event in both (finished, then owed again) is listed once.
    func pending(limit: Int = .max) -> [(sequence: UInt64, open: Open)] {
        var result: [(UInt64, Open)] = []
        var seen = Set<UInt64>()
        func take(_ sequence: UInt64, _ location: RecordLocation) {
            guard result.count < limit, owed.contains(sequence), seen.insert(sequence).inserted else { return }
            result.append((sequence, Open(location: moved[sequence] ?? location, progress: progress[sequence])))
        }
        for entry in live.elements {
            guard result.count < limit else { break }
            take(entry.sequence, entry.location)
        }
        for sequence in extraOrder.elements {
            guard result.count < limit else { break }
            if let location = extra[sequence] { take(sequence, location) }
        }
        return result
    }

    /// Where an owed event is: where it was queued, unless retention moved it since.
    private func currentLocation(of sequence: UInt64) -> RecordLocation {
        if let moved = moved[sequence] { return moved }
        if let location = extra[sequence] { return location }
        // `live` ascends by sequence.
        var low = 0
        var high = live.count
        while low < high {
            let middle = (low + high) / 2
            if live[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low < live.count && live[low].sequence == sequence ? live[low].location : RecordLocation(segment: 0, offset: 0, length: 0)
    }

    private mutating func finish(_ sequence: UInt64) {
        guard owed.contains(sequence) else { return }
        owed.remove(sequence)
        pendingCount -= 1
        progress[sequence] = nil
        moved[sequence] = nil
        replayOf[sequence] = nil
        extra[sequence] = nil
        while let first = live.first, !owed.contains(first.sequence) { live.popFirst() }
        while let first = extraOrder.first, extra[first] == nil { extraOrder.popFirst() }
    }

    /// Rebuilds a ledger from its parts (a snapshot).
    init(live: [Entry], extraOrder: [UInt64], extra: [UInt64: RecordLocation], owed: [UInt64], progress: [UInt64: Progress], moved: [UInt64: RecordLocation],
         deadLetters: [UInt64: DeadLetter], deadLetterOrder: [UInt64], delivered: Int, attempts: Int, failedAttempts: Int,
         durations: AttemptDurations, lastError: LastError?, replayOf: [UInt64: String]) {
        live.forEach { self.live.push($0) }
        extraOrder.forEach { self.extraOrder.push($0) }
        self.extra = extra
        owed.forEach { self.owed.insert($0) }
        pendingCount = owed.count
        self.progress = progress
        self.moved = moved
        self.deadLetters = deadLetters
        self.deadLetterOrder = deadLetterOrder
        self.delivered = delivered
        self.attempts = attempts
        self.failedAttempts = failedAttempts
        self.durations = durations
        self.lastError = lastError
        self.replayOf = replayOf
    }

    init() {}
}

/// A set of 64-bit integers that cluster (journal sequences): one bit each, in 64-bit words
/// kept only while they hold a member, so its size follows the members' spread, not their
/// values.
struct SparseBitSet: Sendable, Equatable {
    private(set) var words: [UInt64: UInt64] = [:]

    func contains(_ value: UInt64) -> Bool {
        (words[value >> 6] ?? 0) & (1 << (value & 63)) != 0
    }

    mutating func insert(_ value: UInt64) {
        words[value >> 6, default: 0] |= 1 << (value & 63)
    }

    mutating func remove(_ value: UInt64) {
        let key = value >> 6
        guard let word = words[key] else { return }
        let remaining = word & ~(1 << (value & 63))
        words[key] = remaining == 0 ? nil : remaining
    }

    /// Every member, in no particular order.
    var members: [UInt64] {
        words.flatMap { key, word in (0..<UInt64(64)).filter { word & (1 << $0) != 0 }.map { key << 6 | $0 } }
    }
}
