import Logging
import Runtime
import Synchronization

/// Every retained event found by id, by position and by time, and every delivery attempt by
/// event, from per-segment indexes (`SegmentIndex.swift`): the active segment's in memory,
/// the sealed ones' in files beside their segments. Memory holds one segment's index and a
/// summary per sealed segment, however long the history (issue 9).
///
/// Fed by the journal's writer thread (`apply`) as records commit; a segment's index moves
/// from memory to its file when the maintenance thread writes it (`writeSealedIndexes`).
/// Readers never hold the lock while they read a file, so a slow disk read cannot stall ingest.
final class EventHistory: Sendable {
    private struct State {
        var active: SegmentIndexBuilder
        /// Sealed segments whose index file is not written yet, oldest first.
        var sealing: [SegmentIndexBuilder] = []
        /// Sealed segments with their index file, oldest first.
        var sealed: [SegmentIndexFile] = []
    }

    let directory: String
    private let state: Mutex<State>
    /// Sealed segments whose index file's body has been checked against its checksum.
    private let verified = Mutex<Set<UInt64>>([])

    init(directory: String, sealed: [SegmentIndexFile], activeBase: UInt64) {
        self.directory = directory
        state = Mutex(State(active: SegmentIndexBuilder(base: activeBase), sealed: sealed))
    }

    /// Indexes committed records, in journal order. A record in a new segment means the
    /// journal rolled: the active index joins those waiting to be written.
    func apply(_ records: [JournalRecord]) {
        state.withLock { state in
            for record in records {
                if record.location.segment != state.active.base {
                    if state.active.summary.lastSequence >= state.active.base { state.sealing.append(state.active) }
                    state.active = SegmentIndexBuilder(base: record.location.segment)
                }
                state.active.add(record)
            }
        }
    }

    /// After recovery: `base` is the journal's active segment. A segment recovery read last
    /// but the journal has moved past (a crash right after the next segment was created)
    /// is sealed, and its index joins those waiting to be written.
    func activate(_ base: UInt64) {
        state.withLock { state in
            guard state.active.base != base else { return }
            if state.active.summary.lastSequence >= state.active.base { state.sealing.append(state.active) }
            state.active = SegmentIndexBuilder(base: base)
        }
    }

    /// Writes the index file of every sealed segment still indexed in memory, oldest first,
    /// and swaps each in for its builder. Returns how many were written.
    @discardableResult
    func writeSealedIndexes() throws(JournalError) -> Int {
        var written = 0
        while let builder = state.withLock({ $0.sealing.first }) {
            try SegmentIndexFile.write(builder, directory: directory)
            let file: SegmentIndexFile
            do throws(SegmentIndexFile.OpenError) {
                file = try SegmentIndexFile(directory: directory, base: builder.base, segmentLength: builder.summary.length)
            } catch {
                throw JournalError.corrupt(file: SegmentIndexFormat.name(base: builder.base), offset: 0,
                                           reason: "the index just written does not read back: \(error)")
            }
            state.withLock { state in
                state.sealing.removeFirst()
                // In base order: a recovery may rebuild an older segment's index after newer
                // ones were opened.
                let place = state.sealed.firstIndex { $0.summary.base > file.summary.base } ?? state.sealed.count
                state.sealed.insert(file, at: place)
            }
            written += 1
        }
        return written
    }

    /// Drops in-memory indexes of sealed segments that already have a valid file (a
    /// recovery that scanned them for the fold rebuilt them needlessly).
    func dropSealingIndexes(withFiles bases: Set<UInt64>) {
        state.withLock { $0.sealing.removeAll { bases.contains($0.base) } }
    }

    /// Forgets a segment retention deleted.
    func remove(segment base: UInt64) {
        state.withLock { state in
            state.sealed.removeAll { $0.summary.base == base }
            state.sealing.removeAll { $0.base == base }
        }
    }

    /// Checks the body of every sealed index file not checked yet (at start-up, their
    /// headers only are), and rebuilds from its segment any that fails. Returns how many were
    /// rebuilt. Until then a damaged table can make a lookup miss (never return a wrong
    /// event: every hit is confirmed on the record), so the maintainer runs this first.
    func verifyIndexFiles(maxRecordSize: Int, logger: Logger) throws(JournalError) -> Int {
        var rebuilt = 0
        for file in sealedFiles() where !verified.withLock({ $0.contains(file.summary.base) }) {
            if !file.verify() {
                logger.warning("segment index damaged; rebuilding it from the segment",
                               metadata: ["file": "\(file.path)"])
                let builder = try Self.rebuild(segment: file.summary.base, directory: directory, maxRecordSize: maxRecordSize)
                try SegmentIndexFile.write(builder, directory: directory)
                do throws(SegmentIndexFile.OpenError) {
                    let fresh = try SegmentIndexFile(directory: directory, base: builder.base, segmentLength: builder.summary.length)
                    state.withLock { state in
                        if let index = state.sealed.firstIndex(where: { $0.summary.base == fresh.summary.base }) { state.sealed[index] = fresh }
                    }
                } catch {
                    throw JournalError.corrupt(file: file.path, offset: 0, reason: "the rebuilt index does not read back: \(error)")
                }
                rebuilt += 1
            }
            _ = verified.withLock { $0.insert(file.summary.base) }
        }
        return rebuilt
    }

    /// The index of a sealed segment, built by reading the segment.
    static func rebuild(segment base: UInt64, directory: String, maxRecordSize: Int) throws(JournalError) -> SegmentIndexBuilder {
        let (builder, scan) = try SegmentIndexBuilder.scan(segment: base, directory: directory, maxRecordSize: maxRecordSize)
        if let damage = scan.damage {
            throw JournalError.corrupt(file: SegmentFile.name(base: base), offset: scan.validEnd, reason: damage)
        }
        return builder
    }

    // MARK: - Queries

    /// Summaries of every indexed segment, oldest first (the active one last).
    func summaries() -> [SegmentSummary] {
        state.withLock { $0.sealed.map(\.summary) + $0.sealing.map(\.summary) + [$0.active.summary] }
    }

    /// Sealed segments with their index files, oldest first.
    func sealedFiles() -> [SegmentIndexFile] { state.withLock { $0.sealed } }

    /// Records that may hold the event with this id, newest segment first; the caller
    /// confirms each by reading it.
    func candidates(id: String) -> [RecordLocation] {
        let hash = StableHash.of(id)
        let (inMemory, files) = state.withLock { state in
            // Read in place: a copy of the active index would make the writer copy all of
            // it on its next append.
            var recent = state.active.candidates(idHash: hash).map { $0.location(in: state.active.base) }
            for builder in state.sealing.reversed() {
                recent += builder.candidates(idHash: hash).map { $0.location(in: builder.base) }
            }
            return (recent, state.sealed)
        }
        return inMemory + files.reversed().flatMap { file in
            file.candidates(idHash: hash).map { $0.location(in: file.summary.base) }
        }
    }

    /// Where the delivery-attempt records of the event at `sequence` are, in journal order.
    /// Attempts follow their event, so only segments that end after it are looked at.
    func attempts(ofEvent sequence: UInt64) -> [RecordLocation] {
        let files = state.withLock { $0.sealed }
        var found = files.filter { $0.summary.lastSequence >= sequence }.flatMap { file in
            file.attempts(ofEvent: sequence).map { $0.location(in: file.summary.base) }
        }
        let last = files.last?.summary.base
        // Read in place under the lock: a copy of the active index would make the writer
        // copy all of it on its next append.
        found += state.withLock { state in
            var recent: [RecordLocation] = []
            for builder in state.sealing where last == nil || builder.base > last! {
                recent += builder.attempts(ofEvent: sequence).map { $0.location(in: builder.base) }
            }
            if last == nil || state.active.base > last! {
                recent += state.active.attempts(ofEvent: sequence).map { $0.location(in: state.active.base) }
            }
            return recent
        }
        return found
    }

    /// Events matching `query`, oldest first, at most `query.limit`: whole segments outside
    /// the query's sequence and time range are skipped from their summaries, and within one
    /// the first match is found by binary search. A type is matched by hash here; the caller
    /// confirms it on the record.
    func events(_ query: EventQuery) -> [(event: IndexedEvent, segment: UInt64)] {
        let typeHash = query.type.map { UInt32(truncatingIfNeeded: StableHash.of($0)) }
        var result: [(IndexedEvent, UInt64)] = []
        var after = query.after
        var reachedUntil = false

        func wanted(_ summary: SegmentSummary) -> Bool {
            summary.eventCount > 0 && summary.lastSequence > after
                && (query.since.map { summary.maxTime >= $0 } ?? true)
        }
        /// Takes matching entries in order; false once the limit or `until` is reached.
        func take(_ entries: some Sequence<IndexedEvent>, segment: UInt64) -> Bool {
            for entry in entries where entry.sequence > after {
                if let until = query.until, entry.timestamp >= until {
                    reachedUntil = true
                    return false
                }
                if let since = query.since, entry.timestamp < since { continue }
                if let typeHash, entry.typeHash != typeHash { continue }
                result.append((entry, segment))
                after = entry.sequence
                if result.count >= query.limit { return false }
            }
            return true
        }
        func scan(_ file: SegmentIndexFile) -> Bool {
            let start = file.firstEvent { entry in
                entry.sequence > after && (query.since.map { entry.timestamp >= $0 } ?? true)
            }
            var position = start
            while position < file.summary.eventCount {
                let chunk = file.events(position..<(position + 256))
                guard !chunk.isEmpty else { return true }
                if !take(chunk, segment: file.summary.base) { return false }
                position += chunk.count
            }
            return true
        }

        let files = state.withLock { $0.sealed }
        for file in files where wanted(file.summary) {
            if !scan(file) { return result }
        }
        guard !reachedUntil else { return result }
        let lastFile = files.last?.summary.base
        // Any file written since `files` was taken, then the indexes in memory, read in place
        // under the lock (a copy of the active index would make the writer copy all of it
        // on its next append).
        let recentFiles = state.withLock { $0.sealed.filter { lastFile == nil || $0.summary.base > lastFile! } }
        for file in recentFiles where wanted(file.summary) {
            if !scan(file) { return result }
        }
        let lastBase = recentFiles.last?.summary.base ?? lastFile
        state.withLock { state in
            for builder in state.sealing where lastBase == nil || builder.base > lastBase! {
                guard wanted(builder.summary) else { continue }
                if !take(builder.events[builder.firstEvent(after: after, since: query.since)...], segment: builder.base) { return }
            }
            if wanted(state.active.summary) {
                _ = take(state.active.events[state.active.firstEvent(after: after, since: query.since)...], segment: state.active.base)
            }
        }
        return result
    }
}
