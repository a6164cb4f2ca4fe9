#if canImport(Glibc)
import Glibc
#endif
import Logging
import Runtime
import Synchronization

/// How long history is kept (issue 9). Nothing owed is ever deleted with it: events a
/// subscriber still has pending, or in its dead letters, are carried forward first.
public struct RetentionPolicy: Sendable, Equatable {
    /// Sealed segments whose newest event is older than this are deleted.
    public var retention: Duration = .seconds(7 * 86_400)
    /// Also delete the oldest sealed segments while all segments together are larger.
    public var retentionBytes: Int?
    /// Dead letters older than this are discarded (and then no longer carried forward).
    public var deadLetterRetention: Duration = .seconds(14 * 86_400)

    public init() {}
}

/// The embedded store's background work, on a thread of its own so none of it is on an
/// ingest's path: writing sealed segments' index files, snapshotting the fold after each
/// segment roll, and retention (expired dead letters discarded, owed events carried out of
/// expired segments, then the segments deleted). Runs every `interval` and at close.
final class HistoryMaintainer: Sendable {
    private let journal: Journal
    private let state: GatewayState
    private let history: EventHistory
    private let policy: RetentionPolicy
    private let directory: String
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    /// Index files, snapshots and retention are never urgent: at a low priority they wait
    /// for the ingest, fold and delivery threads rather than take a core from them.
    private let loop: BackgroundLoop
    /// The active segment when the last snapshot was written.
    private let snapshotSegment = Mutex<UInt64?>(nil)
    /// Retention's running totals, for logs and stats.
    private let deletedSegments = Atomic<Int>(0)

    init(journal: Journal, state: GatewayState, history: EventHistory, policy: RetentionPolicy, directory: String,
         interval: Duration, logger: Logger, clock: @escaping @Sendable () -> Int64 = wallClockMicroseconds) {
        self.journal = journal
        self.state = state
        self.history = history
        self.policy = policy
        self.directory = directory
        self.logger = logger
        self.clock = clock
        loop = BackgroundLoop(name: "history", interval: interval.microseconds, lowPriority: true)
        // The next snapshot comes with the next roll (or sooner when forced): one at every
        // start would add a write to every restart and churn the two kept.
        snapshotSegment.withLock { $0 = journal.activeSegment }
    }

    var segmentsDeleted: Int { deletedSegments.load(ordering: .relaxed) }

    func start() throws(JournalError) {
        do throws(SystemError) {
            try loop.start { [self] in pass() }
        } catch {
            throw JournalError.io(call: "pthread_create", errno: error.errno, file: directory)
        }
    }

    /// Stops the thread after its current pass.
    func stop() { loop.stop() }

    /// One round of everything; a failure is logged and tried again next round.
    func pass() {
        do throws(JournalError) {
            try history.verifyIndexFiles(maxRecordSize: journal.configuration.maxRecordSize, logger: logger)
            try writeIndexesAndSnapshot()
            try applyRetention()
        } catch {
            logger.warning("history maintenance failed; retrying", metadata: ["error": "\(error)"])
        }
    }

    /// Index files for sealed segments, then a snapshot if the journal rolled since the last
    /// one (or none was ever written).
    func writeIndexesAndSnapshot(force: Bool = false) throws(JournalError) {
        try history.writeSealedIndexes()
        let active = journal.activeSegment
        guard force || snapshotSegment.withLock({ $0 != active }) else { return }
        let fold = state.currentFold()
        try FoldSnapshot.write(fold, in: directory)
        snapshotSegment.withLock { $0 = active }
        logger.debug("snapshot written", metadata: ["covers": "\(fold.appliedThrough)"])
    }

    /// What retention may delete now: sealed segments, oldest first, past the time limit or
    /// over the size limit, and covered by the older snapshot kept (so recovery from either
    /// snapshot finds every segment it needs).
    private func expiredSegments(now: Int64) -> [SegmentIndexFile] {
        let snapshots = FoldSnapshot.list(in: directory)
        guard snapshots.count >= FoldSnapshot.kept, let floor = snapshots.last else { return [] }
        let horizon = now - policy.retention.microseconds
        var total = history.summaries().reduce(0) { $0 + $1.length }
        var expired: [SegmentIndexFile] = []
        for file in history.sealedFiles() {
            let overSize = policy.retentionBytes.map { total > $0 } ?? false
            guard file.summary.maxTime < horizon || overSize, file.summary.lastSequence <= floor else { break }
            expired.append(file)
            total -= file.summary.length
        }
        return expired
    }

    func applyRetention() throws(JournalError) {
        let now = clock()
        for (subscriptionID, sequences) in state.deadLetters(before: now - policy.deadLetterRetention.microseconds) {
            try appendAndWait([JournalEntry(kind: .deadLettersChanged, payload: DeadLettersChangedRecord(
                subscriptionID: subscriptionID, action: .discard, sequences: sequences).encode())])
            logger.info("dead letters expired", metadata: ["subscription": "\(subscriptionID)", "count": "\(sequences.count)"])
        }
        for file in expiredSegments(now: now) {
            let base = file.summary.base
            let carried = try carryForward(segment: base)
            CrashPoint.reach("retention.after-carry")
            // Owed again meanwhile (a redelivered dead letter): left for the next round.
            guard state.owedEvents(in: base).isEmpty else { break }
            try delete(file)
            deletedSegments.add(1, ordering: .relaxed)
            logger.info("journal segment deleted by retention", metadata: [
                "segment": "\(SegmentFile.name(base: base))", "bytes": "\(file.summary.length)", "events": "\(file.summary.eventCount)",
                "carried-forward": "\(carried)",
            ])
        }
    }

    /// Copies every event some subscription still needs out of `segment` into the active
    /// one, each whole with its original sequence and time (`CarriedEventRecord`), and waits
    /// until they are durable and folded (their new places are then the owed ones).
    private func carryForward(segment: UInt64) throws(JournalError) -> Int {
        let owed = state.owedEvents(in: segment).sorted { $0.key < $1.key }
        var entries: [JournalEntry] = []
        for (_, location) in owed {
            guard let original = try journal.read(location).unwrappingCarried() else {
                throw JournalError.corrupt(file: SegmentFile.name(base: segment), offset: Int(location.offset),
                                           reason: "an owed event cannot be carried forward")
            }
            entries.append(JournalEntry(kind: .eventCarried, payload: CarriedEventRecord(original).encode()))
            if entries.count == 512 {
                try appendAndWait(entries)
                entries.removeAll()
            }
        }
        if !entries.isEmpty { try appendAndWait(entries) }
        return owed.count
    }

    /// Deletes a segment and its index: the index first (a segment without one is indexed
    /// again at start-up), then the segment, then the directory entry made durable.
    private func delete(_ file: SegmentIndexFile) throws(JournalError) {
        let base = file.summary.base
        history.remove(segment: base)
        state.segmentsDeleted(before: base + 1)
        journal.forget(segment: base)
        unlink(file.path)
        CrashPoint.reach("retention.after-index-unlink")
        let segment = directory + "/" + SegmentFile.name(base: base)
        guard unlink(segment) == 0 || errno == ENOENT else { throw JournalError.failed("unlink", errno, file: segment) }
        CrashPoint.reach("retention.after-segment-unlink")
        try SegmentFile.syncDirectory(directory)
    }

    private func appendAndWait(_ entries: [JournalEntry]) throws(JournalError) {
        let done = WorkQueue<Result<[JournalRecord], JournalError>>()
        journal.append(entries) { _ = done.push($0) }
        guard case .items(let results) = done.takeAll(), let result = results.first else { throw JournalError.closed }
        if case .failure(let error) = result { throw error }
    }
}
