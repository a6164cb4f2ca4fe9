import Runtime
#if canImport(Glibc)
import Glibc
#endif
import CPlatform
import Logging
import Synchronization

/// The append-only journal: the single source of truth (DESIGN.md invariants 1 and 3).
///
/// One writer thread owns the active segment. Appenders hand over entries and a completion;
/// the writer takes everything that piled up, writes it with one `pwrite`, calls `fdatasync`
/// once, hands the committed records to `onCommit` (which folds them into memory), and only
/// then runs the completions — so nothing is acknowledged before it is on disk, and nothing
/// acknowledged is invisible to a read that follows.
///
/// Appends that need not wait for the disk (`durable: false`: delivery-attempt outcomes,
/// DESIGN invariant 3) are written and folded the same way but skip the `fdatasync` when
/// nothing durable shares their group: the next durable group's sync covers them, as do a
/// segment roll and `close`, and a lazy group syncs anyway once a second has passed since the
/// last sync. They survive a crash of the process (they are in the page cache) and at worst
/// lose their last second to a power cut; a lost attempt outcome means the attempt is made
/// again.
///
/// A failed write or sync is sticky: every later append fails at once with the same error,
/// because after a failure the file's tail is unknown until recovery looks at it. Running out
/// of space is the exception (see `refuseForSpace`): the writer cuts the file back to its last
/// record, fails only the group that did not fit (`JournalError.diskFull`), and tries the
/// next group as if nothing happened, so writes resume by themselves once space is freed.
public final class Journal: Sendable {
    public struct Configuration: Sendable {
        public var directory: String
        /// A segment is sealed and a new one started once it reaches this size.
        public var segmentSize: Int = 64 * 1024 * 1024
        /// The largest record accepted (a whole batch of events is many records, not one).
        public var maxRecordSize: Int = 16 * 1024 * 1024
        /// A segment holding records is also sealed once its first record is this old
        /// (microseconds), so retention can delete by time even when traffic is light.
        public var segmentMaxAge: Int64 = 3_600_000_000
        /// Segments that end before this sequence are not read at start-up: a snapshot
        /// covers them (see `JournalStore`). Zero reads them all.
        public var recoverFrom: UInt64 = 0
        /// Segments before `recoverFrom` that are read all the same (their index is rebuilt).
        public var alsoRecover: Set<UInt64> = []
        /// How long `shortOfSpace` reports a refusal for lack of space when no durable append
        /// succeeds after it. Without it, a gateway taken out of rotation for being full
        /// would get no traffic that could show it has space again.
        public var shortOfSpaceHold: Duration = .seconds(30)
        /// Told of every group written and every sync (metrics).
        public var observer: (any JournalObserver)?

        public init(directory: String) {
            self.directory = directory
        }
    }

    public typealias Completion = @Sendable (Result<[JournalRecord], JournalError>) -> Void
    public typealias CommitObserver = @Sendable ([JournalRecord]) -> Void

    public struct RecoveryReport: Sendable {
        public var segments: Int
        public var records: Int
        /// Bytes cut from a torn or corrupt tail of the last segment.
        public var truncatedBytes: Int
        public var lastSequence: UInt64
    }

    private struct Batch {
        var entries: [JournalEntry]
        var durable: Bool
        var completion: Completion
    }

    /// State only the writer thread touches after `open` returns.
    private struct WriterState {
        var fd: Int32
        var segmentBase: UInt64
        var segmentPath: String
        var size: Int
        var nextSequence: UInt64
        var lastTimestamp: Int64
        /// Bytes written to `fd` since its last `fdatasync`.
        var unsynced = false
        /// When `fd` was last synced (monotonic microseconds).
        var lastSync: Int64 = 0
        /// The file holds zeros up to here (see `prepareAhead`).
        var zeroedEnd = 0
        /// Commit time of the segment's first record, once it has one.
        var firstTimestamp: Int64?
    }

    /// How far ahead of the data the active segment is kept written with zeros, and in
    /// what steps (see `prepareAhead`).
    static let preparedAhead = 256 << 10
    static let preparationStep = 128 << 10
    private static let zeros = [UInt8](repeating: 0, count: preparationStep)

    /// How long lazy appends may stay unsynced while only lazy appends arrive (microseconds).
    static let lazySyncInterval: Int64 = 1_000_000

    public let configuration: Configuration
    public let recovery: RecoveryReport
    private let logger: Logger
    private let onCommit: CommitObserver
    private let queue = WorkQueue<Batch>()
    private let writer: Mutex<WriterState>
    private let readers = Mutex<[UInt64: SegmentReader]>([:])
    private let stickyFailure = Mutex<JournalError?>(nil)
    /// The latest refusal for lack of space and when it was (monotonic microseconds), until
    /// a durable append succeeds.
    private let spaceShortage = Mutex<(error: JournalError, at: Int64)?>(nil)
    private let thread = Mutex<pthread_t?>(nil)
    private let syncs = Atomic<Int>(0)
    private let written = Atomic<Int>(0)

    /// Opens the journal in `configuration.directory` (created if missing), recovers it, and
    /// replays every record through `onCommit` before returning; later commits go through the
    /// same observer, so in-memory state has exactly one way to be built.
    public init(
        configuration: Configuration, logger: Logger, onCommit: @escaping CommitObserver
    ) throws(JournalError) {
        self.configuration = configuration
        self.logger = logger
        self.onCommit = onCommit
        let directory = configuration.directory
        // Under a file-size limit (RLIMIT_FSIZE) a write past it raises SIGXFSZ, which kills
        // the process; ignored, the write fails with EFBIG, which the writer handles like a
        // full disk.
        signal(SIGXFSZ, SIG_IGN)
        if mkdir(directory, 0o750) != 0 && errno != EEXIST {
            throw JournalError.failed("mkdir", errno, file: directory)
        }
        let recovered = try JournalRecovery.recover(configuration: configuration, logger: logger, replay: onCommit)
        recovery = recovered.report
        var readerFDs: [UInt64: SegmentReader] = [:]
        for base in recovered.segmentBases {
            readerFDs[base] = try SegmentReader(path: directory + "/" + SegmentFile.name(base: base))
        }
        var state: WriterState
        if let last = recovered.segmentBases.last {
            // A crash can leave the tail of the last segment written but never synced (lazy
            // appends): recovery read it from the page cache. Sync it before anything new is
            // acknowledged, and before it may be sealed, so a power cut later cannot leave a
            // sealed segment short.
            let path = directory + "/" + SegmentFile.name(base: last)
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw JournalError.failed("open", errno, file: path) }
            defer { Glibc.close(fd) }
            guard fdatasync(fd) == 0 else { throw JournalError.failed("fdatasync", errno, file: path) }
        }
        // The last segment stays active even when full: the first write rolls it (`write`),
        // so a gateway restarted on a full disk starts, serves what it holds, and takes
        // events again once there is space for the next segment.
        if let last = recovered.segmentBases.last {
            let path = directory + "/" + SegmentFile.name(base: last)
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw JournalError.failed("open", errno, file: path) }
            state = WriterState(fd: fd, segmentBase: last, segmentPath: path, size: recovered.lastSegmentSize,
                                nextSequence: recovered.report.lastSequence + 1, lastTimestamp: recovered.lastTimestamp,
                                firstTimestamp: recovered.lastSegmentFirstTimestamp)
        } else {
            let base = recovered.report.lastSequence + 1
            let fd = try SegmentFile.create(directory: directory, base: base)
            let path = directory + "/" + SegmentFile.name(base: base)
            readerFDs[base] = try SegmentReader(path: path)
            state = WriterState(fd: fd, segmentBase: base, segmentPath: path, size: SegmentFile.headerSize,
                                nextSequence: base, lastTimestamp: recovered.lastTimestamp)
        }
        writer = Mutex(state)
        readers.withLock { $0 = readerFDs }
        try startWriter()
    }

    deinit {
        writer.withLock { _ = Glibc.close($0.fd) }
    }

    /// The segment being appended to.
    public var activeSegment: UInt64 { writer.withLock { $0.segmentBase } }

    /// Stops reading a segment retention deleted. A read in progress keeps its descriptor
    /// (`SegmentReader` closes it when the last holder lets go).
    func forget(segment base: UInt64) {
        _ = readers.withLock { $0.removeValue(forKey: base) }
    }

    /// Records written (lazy ones included) and `fdatasync` calls made since open. With only
    /// durable appends their ratio is the group-commit batch size.
    public var statistics: (records: Int, syncs: Int) {
        (written.load(ordering: .relaxed), syncs.load(ordering: .relaxed))
    }

    /// The error that stopped writes, if any. While set, the gateway is not ready.
    public var failure: JournalError? { stickyFailure.withLock { $0 } }

    /// The `.diskFull` refusal of a recent append, while it stands: until a durable append
    /// succeeds, or for `shortOfSpaceHold` after the latest such refusal. Not sticky like
    /// `failure`; appends are tried all the same.
    public var shortOfSpace: JournalError? {
        guard let shortage = spaceShortage.withLock({ $0 }) else { return nil }
        return monotonicMicroseconds() - shortage.at < configuration.shortOfSpaceHold.microseconds ? shortage.error : nil
    }

    /// Queues `entries` to be written in order and made durable together. `completion` runs
    /// on the writer thread once they are on disk (or failed); keep it short. With
    /// `durable: false` it runs once they are written and folded, before the sync (see above).
    public func append(_ entries: [JournalEntry], durable: Bool = true, completion: @escaping Completion) {
        // Every record kind starts its payload with a version byte; an empty one would frame
        // as a header recovery could not tell from prepared zeros. A bug, not input.
        precondition(entries.allSatisfy { !$0.payload.isEmpty }, "a journal record needs a payload")
        for entry in entries where entry.payload.count > configuration.maxRecordSize {
            completion(.failure(.recordTooLarge(size: entry.payload.count, limit: configuration.maxRecordSize)))
            return
        }
        if let failure = failure {
            completion(.failure(failure))
            return
        }
        if !queue.push(Batch(entries: entries, durable: durable, completion: completion)) {
            completion(.failure(.closed))
        }
    }

    /// Reads the record at `location` with `pread`; payloads are never cached in memory.
    public func read(_ location: RecordLocation) throws(JournalError) -> JournalRecord {
        let fd = try reader(for: location)
        // Named only for an error: formatting the name on every read cost nearly as much as the read.
        let bytes = try SegmentFile.readExactly(fd.fd, count: Int(location.length), at: Int(location.offset),
                                                file: SegmentFile.name(base: location.segment))
        guard let record = bytes.withUnsafeBytes({ decodeRecord($0, at: 0, location) }) else {
            throw .corrupt(file: SegmentFile.name(base: location.segment), offset: Int(location.offset), reason: "the record no longer decodes")
        }
        return record
    }

    /// Reads the record at `location` through `readAhead`: from the bytes it holds when they
    /// cover the record, else with one `pread` of the record and what follows it. A reader
    /// that goes through the journal roughly in order (the dispatcher) then pays one system
    /// call per `JournalReadAhead.size` bytes instead of one per record.
    public func read(_ location: RecordLocation, readAhead: inout JournalReadAhead) throws(JournalError) -> JournalRecord {
        if let held = readAhead.record(at: location, decode: decodeRecord) { return held }
        let fd = try reader(for: location)
        try readAhead.fill(from: fd.fd, segment: location.segment, at: Int(location.offset), atLeast: Int(location.length))
        // The bytes were read just now: a record that does not decode from them is corrupt.
        guard let record = readAhead.record(at: location, decode: decodeRecord) else {
            throw .corrupt(file: SegmentFile.name(base: location.segment), offset: Int(location.offset), reason: "the record no longer decodes")
        }
        return record
    }

    private func reader(for location: RecordLocation) throws(JournalError) -> SegmentReader {
        guard let fd = readers.withLock({ $0[location.segment] }) else {
            throw .corrupt(file: SegmentFile.name(base: location.segment), offset: Int(location.offset), reason: "no such segment")
        }
        return fd
    }

    /// The record framed at `offset` in `bytes`, if it decodes (checksum included) as the
    /// record at `location`.
    private func decodeRecord(_ bytes: UnsafeRawBufferPointer, at offset: Int, _ location: RecordLocation) -> JournalRecord? {
        guard case .record(let sequence, let timestamp, let kind, let payload, let framedLength) =
                RecordFraming.decode(bytes, at: offset, maxPayload: configuration.maxRecordSize),
              framedLength == Int(location.length) else { return nil }
        return JournalRecord(sequence: sequence, timestamp: timestamp, kind: kind,
                             payload: Array(bytes[payload]), location: location)
    }

    /// Stops accepting appends, writes what is queued, and stops the writer thread.
    public func close() {
        queue.close()
        if let handle = thread.withLock({ current -> pthread_t? in
            defer { current = nil }
            return current
        }) {
            pthread_join(handle, nil)
        }
    }

    // MARK: - The writer

    private func startWriter() throws(JournalError) {
        do throws(SystemError) {
            // The thread holds the journal until `close()` lets it finish.
            let handle = try spawnThread(name: "journal-writer") { self.runWriter() }
            thread.withLock { $0 = handle }
        } catch {
            throw JournalError.io(call: "pthread_create", errno: error.errno, file: configuration.directory)
        }
    }

    private func runWriter() {
        while true {
            // With lazy writes unsynced, wait for more work only as long as they may stay so.
            let unsynced = writer.withLock { $0.unsynced }
            switch queue.takeAll(waitingAtMost: unsynced ? Self.lazySyncInterval : nil) {
            case .items(let batches): commit(batches)
            case .timedOut: syncLazyWrites()
            case .closed:
                syncLazyWrites()
                return
            }
        }
    }

    /// When the writer goes idle or closes: what lazy appends left unsynced goes to disk now.
    /// A failure here is sticky like any other.
    private func syncLazyWrites() {
        guard failure == nil else { return }
        let failed = writer.withLock { state -> JournalError? in
            guard state.unsynced else { return nil }
            do throws(JournalError) {
                try sync(&state, now: monotonicMicroseconds())
                return nil
            } catch {
                return error
            }
        }
        if let failed { becomeFailed(failed) }
    }

    /// From now on every append fails with `error` (the first failure wins).
    private func becomeFailed(_ error: JournalError) {
        stickyFailure.withLock { if $0 == nil { $0 = error } }
        logger.critical("journal write failed; refusing all further writes", metadata: ["error": "\(error)"])
    }

    private func commit(_ batches: [Batch]) {
        if let failure = failure {
            batches.forEach { $0.completion(.failure(failure)) }
            return
        }
        let outcome = writer.withLock { state -> Result<[[JournalRecord]], JournalError> in
            do throws(JournalError) {
                return .success(try write(batches, state: &state))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let committed):
            let records = committed.flatMap { $0 }
            written.add(records.count, ordering: .relaxed)
            if let observer = configuration.observer {
                observer.groupWritten(records: records.count, bytes: records.reduce(0) { $0 + Int($1.location.length) })
            }
            onCommit(records)
            // Only a durable append ends a shortage: a small lazy one may fit where events do not.
            // Before the answers, so whoever hears of the write sees the journal writable
            // (`/readyz` right after a 202; the full-disk test read it stale under load).
            if batches.contains(where: \.durable) { endSpaceShortage() }
            for (batch, records) in zip(batches, committed) { batch.completion(.success(records)) }
            // After the answers: the zeros for later batches are no part of this one's latency.
            writer.withLock { prepareAhead(&$0) }
        case .failure(let error):
            if case .diskFull = error {
                noteSpaceShortage(error)
            } else {
                becomeFailed(error)
            }
            batches.forEach { $0.completion(.failure(error)) }
        }
    }

    /// Logged once per shortage, not per refused group: the log may well be on the full disk.
    private func noteSpaceShortage(_ error: JournalError) {
        let now = monotonicMicroseconds()
        let isNew = spaceShortage.withLock { shortage -> Bool in
            let isNew = shortage.map { now - $0.at >= configuration.shortOfSpaceHold.microseconds } ?? true
            shortage = (error, now)
            return isNew
        }
        if isNew {
            logger.error("journal out of space; refusing writes until space is freed", metadata: ["error": "\(error)"])
        }
    }

    private func endSpaceShortage() {
        let ended = spaceShortage.withLock { shortage -> Bool in
            defer { shortage = nil }
            return shortage != nil
        }
        if ended { logger.notice("journal writes succeed again after running out of space") }
    }

    /// Frames every entry, writes them in one `pwrite` and syncs once (unless every batch is
    /// lazy and the last sync is recent).
    private func write(_ batches: [Batch], state: inout WriterState) throws(JournalError) -> [[JournalRecord]] {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        // Timestamps never go backwards in journal order, even if the wall clock does.
        let timestamp = max(Int64(clock.tv_sec) * 1_000_000 + Int64(clock.tv_nsec / 1000), state.lastTimestamp)
        if state.size >= configuration.segmentSize
            || (state.firstTimestamp.map { timestamp - $0 >= configuration.segmentMaxAge } ?? false) {
            try roll(&state)
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(batches.reduce(0) { $0 + $1.entries.reduce(0) { $0 + $1.payload.count + RecordFraming.headerSize } })
        var committed: [[JournalRecord]] = []
        committed.reserveCapacity(batches.count)
        var sequence = state.nextSequence
        for batch in batches {
            var records: [JournalRecord] = []
            records.reserveCapacity(batch.entries.count)
            for entry in batch.entries {
                let offset = state.size + buffer.count
                let length = RecordFraming.encode(
                    sequence: sequence, timestamp: timestamp, kind: entry.kind, payload: entry.payload, into: &buffer)
                records.append(JournalRecord(
                    sequence: sequence, timestamp: timestamp, kind: entry.kind, payload: entry.payload,
                    location: RecordLocation(segment: state.segmentBase, offset: UInt64(offset), length: UInt32(length))))
                sequence += 1
            }
            committed.append(records)
        }
        do throws(JournalError) {
            try SegmentFile.writeAll(state.fd, buffer, at: state.size, file: state.segmentPath)
        } catch {
            if error.isLackOfSpace { try refuseForSpace(&state) }
            throw error
        }
        let now = monotonicMicroseconds()
        if batches.contains(where: \.durable) || now - state.lastSync >= Self.lazySyncInterval {
            try sync(&state, now: now)
        } else {
            state.unsynced = true
        }
        state.size += buffer.count
        state.nextSequence = sequence
        state.lastTimestamp = timestamp
        if state.firstTimestamp == nil && !buffer.isEmpty { state.firstTimestamp = timestamp }
        return committed
    }

    /// Keeps the file written with zeros a little ahead of its data. `fdatasync` after an
    /// append must also commit the file's new size and block allocation (a filesystem
    /// journal commit); after an overwrite of blocks already written it commits data only: a
    /// third to a half less time on the reference machine (`make bench-fsync`). Zeros go ahead in small steps, after a batch
    /// is answered and with their writeback started at once, so by the next sync they are
    /// written or on their way and no request waits for a large write; that sync commits them
    /// with its own data. Recovery reads a zero header as the end of the data
    /// (`JournalRecovery`), which relies on every record having a payload (`append` checks).
    ///
    /// Only an optimisation: when the zeros cannot be written (a nearly full disk), this
    /// segment goes on without them rather than refusing data that still fits.
    private func prepareAhead(_ state: inout WriterState) {
        guard state.size + Self.preparedAhead > state.zeroedEnd, state.zeroedEnd < configuration.segmentSize else { return }
        let start = max(state.zeroedEnd, state.size)
        do {
            try SegmentFile.writeAll(state.fd, Self.zeros, at: start, file: state.segmentPath)
            _ = csystem_start_writeback(state.fd, Int64(start), Int64(Self.zeros.count))
            state.zeroedEnd = start + Self.zeros.count
        } catch {
            state.zeroedEnd = .max
        }
    }

    /// After a group's `pwrite` found no space: undoes it, so the journal is as it was before
    /// the group and the next one can be tried. Part of the group may be in the file (a short
    /// write before the error): the file is cut back to the end of the last record written
    /// before it, so no partial or refused record remains, and synced, so a power cut cannot
    /// bring back refused records that happened to reach the disk whole (their sequence
    /// numbers go to the next group). The cut also drops the zeros prepared ahead, which
    /// frees their space; `prepareAhead` starts again from the new end.
    ///
    /// Throws `.diskFull` — not sticky — or, if the cut or its sync fails, that error, which
    /// is: the file's tail is then unknown.
    ///
    /// Only a failed `pwrite` is undone so. A failed `fdatasync` stays sticky even for ENOSPC
    /// (possible on NFS or thinly provisioned storage; local filesystems reserve blocks at
    /// `pwrite`): after one, Linux may have marked the pages clean without writing them, so
    /// records of earlier groups, already acknowledged, may be missing from the disk while the
    /// page cache shows them, and a later sync would succeed without writing them. Nothing
    /// cut here can repair that; only recovery, after a restart, reads what is really on disk.
    private func refuseForSpace(_ state: inout WriterState) throws(JournalError) -> Never {
        guard ftruncate(state.fd, off_t(state.size)) == 0 else {
            throw JournalError.failed("ftruncate", errno, file: state.segmentPath)
        }
        state.zeroedEnd = state.size
        try sync(&state, now: monotonicMicroseconds())
        throw .diskFull(file: state.segmentPath)
    }

    private func sync(_ state: inout WriterState, now: Int64) throws(JournalError) {
        // Sticky, whatever the error (ENOSPC included): see `refuseForSpace`.
        let started = configuration.observer == nil ? 0 : monotonicNanoseconds()
        guard fdatasync(state.fd) == 0 else { throw JournalError.failed("fdatasync", errno, file: state.segmentPath) }
        configuration.observer?.synced(nanoseconds: monotonicNanoseconds() &- started)
        state.unsynced = false
        state.lastSync = now
        syncs.add(1, ordering: .relaxed)
    }

    /// Seals the active segment and starts the next, named by the next sequence number. A
    /// sealed segment is complete on disk and ends at its last record: the zeros prepared
    /// ahead are cut off, and what lazy appends left unsynced is synced with that.
    ///
    /// With no space for the next segment, the group that needed it is refused (`.diskFull`,
    /// not sticky): the active segment stays active, already sealed on disk, and the next
    /// group tries the roll again.
    private func roll(_ state: inout WriterState) throws(JournalError) {
        if state.zeroedEnd > state.size {
            // (`.max` after a failed preparation: a truncate to the data is right then too.)
            guard ftruncate(state.fd, off_t(state.size)) == 0 else { throw JournalError.failed("ftruncate", errno, file: state.segmentPath) }
            state.zeroedEnd = state.size
            state.unsynced = true
        }
        if state.unsynced { try sync(&state, now: monotonicMicroseconds()) }
        let base = state.nextSequence
        let path = configuration.directory + "/" + SegmentFile.name(base: base)
        let fd: Int32
        do throws(JournalError) {
            fd = try SegmentFile.create(directory: configuration.directory, base: base)
        } catch {
            // `create` removed what it had made of the file, so the next roll starts clean.
            throw error.isLackOfSpace ? .diskFull(file: path) : error
        }
        CrashPoint.reach("segment.created")
        let reader: SegmentReader
        do throws(JournalError) {
            reader = try SegmentReader(path: path)
        } catch {
            Glibc.close(fd)
            throw error
        }
        readers.withLock { $0[base] = reader }
        Glibc.close(state.fd)
        state = WriterState(fd: fd, segmentBase: base, segmentPath: path, size: SegmentFile.headerSize,
                            nextSequence: base, lastTimestamp: state.lastTimestamp, lastSync: state.lastSync)
        logger.info("journal segment started", metadata: ["segment": "\(SegmentFile.name(base: base))"])
    }
}

/// A read-only descriptor of one segment, closed when the last holder lets go: retention may
/// drop a segment while a reader is in the middle of a `pread` on it, and closing the number
/// under that reader could make it read whatever file gets the number next.
final class SegmentReader: Sendable {
    let fd: Int32

    init(path: String) throws(JournalError) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.failed("open", errno, file: path) }
    }

    deinit { Glibc.close(fd) }
}
