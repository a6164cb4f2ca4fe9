import TestSupport
import Foundation
@testable import Gateway
import Logging
import Synchronization
import Testing

/// The journal against real files, real `fdatasync` and real damage.
@Suite("Journal")
struct JournalTests {
    static let kind = RecordKind(rawValue: 7)

    /// A scratch directory removed afterwards.
    final class Scratch {
        let path: String
        init() {
            path = NSTemporaryDirectory() + "journal-test-" + UUID().uuidString
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Collects what the journal replays and commits.
    final class Fold: Sendable {
        let records = Mutex<[JournalRecord]>([])
        var observer: Journal.CommitObserver { { records in self.records.withLock { $0.append(contentsOf: records) } } }
        var all: [JournalRecord] { records.withLock { $0 } }
    }

    static func open(_ directory: String, segmentSize: Int = 64 * 1024 * 1024, fold: Fold = Fold(),
                     shortOfSpaceHold: Duration = Journal.Configuration(directory: "").shortOfSpaceHold) throws -> Journal {
        var configuration = Journal.Configuration(directory: directory)
        configuration.segmentSize = segmentSize
        configuration.shortOfSpaceHold = shortOfSpaceHold
        let logger = Logger(label: "journal-test") { _ in SwiftLogNoOpLogHandler() }
        return try Journal(configuration: configuration, logger: logger, onCommit: fold.observer)
    }

    /// Appends and waits for the outcome.
    static func append(_ journal: Journal, _ payloads: [[UInt8]], durable: Bool = true) -> Result<[JournalRecord], JournalError> {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<[JournalRecord], JournalError>?>(nil)
        journal.append(payloads.map { JournalEntry(kind: kind, payload: $0) }, durable: durable) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return outcome.withLock { $0! }
    }

    static func payload(_ index: Int) -> [UInt8] {
        Array("{\"event\":\(index),\"pad\":\"\(String(repeating: "x", count: index % 50))\"}".utf8)
    }

    @Test func appendsAreReadableAndReplayedInOrderAfterReopen() throws {
        let scratch = Scratch()
        var locations: [RecordLocation] = []
        do {
            let journal = try Self.open(scratch.path)
            for index in 0..<100 {
                let records = try Self.append(journal, [Self.payload(index)]).get()
                #expect(records.map(\.sequence) == [UInt64(index + 1)])
                locations.append(records[0].location)
            }
            let batch = try Self.append(journal, (100..<110).map(Self.payload)).get()
            #expect(batch.map(\.sequence) == Array(101...110))
            locations.append(contentsOf: batch.map(\.location))
            #expect(try journal.read(locations[42]).payload == Self.payload(42))
            journal.close()
        }
        let fold = Fold()
        let reopened = try Self.open(scratch.path, fold: fold)
        defer { reopened.close() }
        #expect(reopened.recovery.records == 110)
        #expect(reopened.recovery.truncatedBytes == 0)
        #expect(fold.all.map(\.sequence) == Array(1...110))
        #expect(fold.all.map(\.payload) == (0..<110).map(Self.payload))
        #expect(fold.all.map(\.location) == locations)
        #expect(try reopened.read(locations[109]).payload == Self.payload(109))
        #expect(try Self.append(reopened, [[1, 2, 3]]).get().first?.sequence == 111)
    }

    @Test func readAheadReadsWhatPlainReadsDoInAnyOrderAcrossSegmentsAndAtTheTail() throws {
        let scratch = Scratch()
        let journal = try Self.open(scratch.path, segmentSize: 4096)
        defer { journal.close() }
        var records: [JournalRecord] = []
        for start in stride(from: 0, to: 300, by: 10) {
            records += try Self.append(journal, (start..<(start + 10)).map(Self.payload)).get()
        }
        // A record larger than one refill.
        let big = [UInt8](repeating: 0x62, count: JournalReadAhead.size + 1000)
        records += try Self.append(journal, [big]).get()
        #expect(Set(records.map(\.location.segment)).count > 3)
        var readAhead = JournalReadAhead()
        var shuffled = SplitMix64(seed: 7)
        for order in [Array(records.indices), Array(records.indices.reversed()), records.indices.shuffled(using: &shuffled)] {
            for index in order {
                let read = try journal.read(records[index].location, readAhead: &readAhead)
                #expect(read.sequence == records[index].sequence)
                #expect(read.payload == records[index].payload)
            }
        }
        // At the tail: the held bytes end where the file did; records appended after them
        // are read afresh, not mistaken for what the held bytes had there.
        _ = try journal.read(records[records.count - 1].location, readAhead: &readAhead)
        for index in 0..<5 {
            let appended = try Self.append(journal, [Self.payload(1000 + index)]).get()[0]
            #expect(try journal.read(appended.location, readAhead: &readAhead).payload == Self.payload(1000 + index))
        }
    }

    /// A reader that jumps about (deliveries to thousands of tenants) gets small refills, not
    /// 64 KiB per record; one going in order gets the whole read-ahead back.
    @Test func readAheadShrinksForJumpsAndGrowsBackInOrder() throws {
        let scratch = Scratch()
        let journal = try Self.open(scratch.path)
        defer { journal.close() }
        // About 1 MiB of 2 KiB records: far apart, each refill would hold ~30 of them.
        let records = try Self.append(journal, (0..<500).map { [UInt8](repeating: UInt8($0 % 251), count: 2048) }).get()
        var readAhead = JournalReadAhead()
        #expect(readAhead.window == JournalReadAhead.size)
        for index in stride(from: 0, to: 500, by: 50) {
            #expect(try journal.read(records[index].location, readAhead: &readAhead).payload == records[index].payload)
        }
        #expect(readAhead.window == JournalReadAhead.smallestWindow)
        for index in 0..<500 {
            #expect(try journal.read(records[index].location, readAhead: &readAhead).payload == records[index].payload)
        }
        #expect(readAhead.window == JournalReadAhead.size)
    }

    @Test func readAheadRefusesARecordDamagedOnDisk() throws {
        let scratch = Scratch()
        let journal = try Self.open(scratch.path)
        defer { journal.close() }
        let records = try Self.append(journal, (0..<10).map(Self.payload)).get()
        let damaged = records[4].location
        let file = FileHandle(forUpdatingAtPath: scratch.path + "/" + SegmentFile.name(base: damaged.segment))!
        try file.seek(toOffset: damaged.offset + UInt64(damaged.length) - 2)
        try file.write(contentsOf: [0xFF])
        try file.close()
        var readAhead = JournalReadAhead()
        #expect(try journal.read(records[3].location, readAhead: &readAhead).payload == Self.payload(3))
        #expect(throws: JournalError.self) { try journal.read(damaged, readAhead: &readAhead) }
        #expect(throws: JournalError.self) { try journal.read(damaged) }
        #expect(try journal.read(records[5].location, readAhead: &readAhead).payload == Self.payload(5))
    }

    @Test func concurrentAppendersShareSyncs() throws {
        let scratch = Scratch()
        let journal = try Self.open(scratch.path)
        defer { journal.close() }
        let failures = Atomic<Int>(0)
        // Sixteen real threads (not a pool sized to the two cores), each blocked in its own
        // append: while one sync runs, the others queue behind it.
        let done = DispatchGroup()
        for worker in 0..<16 {
            done.enter()
            Thread.detachNewThread {
                for index in 0..<50 {
                    if case .failure = Self.append(journal, [Self.payload(worker * 1000 + index)]) {
                        failures.add(1, ordering: .relaxed)
                    }
                }
                done.leave()
            }
        }
        done.wait()
        #expect(failures.load(ordering: .relaxed) == 0)
        let stats = journal.statistics
        #expect(stats.records == 800)
        // One sync per record would mean group commit is not happening.
        #expect(stats.syncs < 800)
    }

    // Async, so its waits of a second and more leave the test pool's threads to others.
    @Test func lazyAppendsSkipTheSyncUntilADurableOneCoversThem() async throws {
        let scratch = Scratch()
        let fold = Fold()
        do {
            let journal = try Self.open(scratch.path, fold: fold)
            _ = try Self.append(journal, [Self.payload(0)]).get()
            let synced = journal.statistics.syncs
            // Lazy ones are written, folded and readable at once, without a sync (all within
            // the one-second allowance, as a test machine runs them).
            var lazy: [JournalRecord] = []
            for index in 1...20 { lazy += try Self.append(journal, [Self.payload(index)], durable: false).get() }
            #expect(journal.statistics.syncs <= synced + 1)
            #expect(fold.all.count == 21)
            #expect(try journal.read(lazy[19].location).payload == Self.payload(20))
            // A durable append syncs, covering them too.
            let beforeDurable = journal.statistics.syncs
            _ = try Self.append(journal, [Self.payload(21)]).get()
            #expect(journal.statistics.syncs == beforeDurable + 1)
            // Lazy appends alone still sync once the allowance has passed.
            let before = journal.statistics.syncs
            _ = try Self.append(journal, [Self.payload(22)], durable: false).get()
            try await Task.sleep(for: .microseconds(Journal.lazySyncInterval + 50_000))
            _ = try Self.append(journal, [Self.payload(23)], durable: false).get()
            #expect(journal.statistics.syncs > before)
            // An idle writer syncs what lazy appends left, once the allowance has passed.
            let beforeIdle = journal.statistics.syncs
            _ = try Self.append(journal, [Self.payload(24)], durable: false).get()
            let idleDeadline = Date().addingTimeInterval(Double(Journal.lazySyncInterval) / 1_000_000 + 2)
            while journal.statistics.syncs == beforeIdle && Date() < idleDeadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(journal.statistics.syncs > beforeIdle)
            // Close syncs what is left.
            _ = try Self.append(journal, [Self.payload(25)], durable: false).get()
            journal.close()
        }
        let reopened = Fold()
        let journal = try Self.open(scratch.path, fold: reopened)
        defer { journal.close() }
        #expect(reopened.all.map(\.payload) == (0...25).map(Self.payload))
    }

    @Test func aSegmentIsSyncedBeforeItIsSealedEvenWithOnlyLazyAppends() throws {
        let scratch = Scratch()
        do {
            let journal = try Self.open(scratch.path, segmentSize: 4096)
            for index in 0..<300 { _ = try Self.append(journal, [Self.payload(index)], durable: false).get() }
            // Every roll synced the segment it sealed.
            #expect(journal.statistics.syncs >= (try SegmentFile.list(in: scratch.path)).count - 1)
            journal.close()
        }
        let fold = Fold()
        let journal = try Self.open(scratch.path, fold: fold)
        defer { journal.close() }
        #expect(fold.all.map(\.payload) == (0..<300).map(Self.payload))
    }

    @Test func segmentsRollAndReopenAcrossThem() throws {
        let scratch = Scratch()
        do {
            let journal = try Self.open(scratch.path, segmentSize: 4096)
            for index in 0..<300 { _ = try Self.append(journal, [Self.payload(index)]).get() }
            journal.close()
        }
        let segments = try SegmentFile.list(in: scratch.path)
        #expect(segments.count > 3)
        #expect(segments.first == 1)
        let fold = Fold()
        let reopened = try Self.open(scratch.path, segmentSize: 4096, fold: fold)
        defer { reopened.close() }
        #expect(fold.all.map(\.sequence) == Array(1...300))
        let record = fold.all[150]
        #expect(try reopened.read(record.location).payload == Self.payload(150))
    }

    /// Cuts the last segment at every offset inside its last records: recovery keeps exactly
    /// the records that were whole before the cut, and appends continue after them.
    @Test func tornTailIsCutBackToTheLastCompleteRecord() throws {
        let scratch = Scratch()
        var ends: [Int] = []  // file size after each record
        do {
            let journal = try Self.open(scratch.path)
            for index in 0..<20 {
                let record = try Self.append(journal, [Self.payload(index)]).get()[0]
                ends.append(Int(record.location.offset) + Int(record.location.length))
            }
            journal.close()
        }
        let segment = scratch.path + "/" + SegmentFile.name(base: 1)
        // The data only: the zeros prepared after it have their own test.
        let original = try Data(contentsOf: URL(fileURLWithPath: segment)).prefix(ends[19])
        let cutFrom = ends[16]
        for cut in cutFrom...original.count {
            try original.prefix(cut).write(to: URL(fileURLWithPath: segment))
            let whole = ends.filter { $0 <= cut }.count
            let fold = Fold()
            let journal = try Self.open(scratch.path, fold: fold)
            #expect(fold.all.count == whole, "cut at \(cut)")
            #expect(journal.recovery.truncatedBytes == cut - ends[whole - 1], "cut at \(cut)")
            let next = try Self.append(journal, [[9]]).get()[0]
            #expect(next.sequence == UInt64(whole + 1))
            journal.close()
        }
    }

    @Test func flippedBytesInTheLastSegmentKeepEverythingBeforeThem() throws {
        let scratch = Scratch()
        var ends: [Int] = []
        do {
            let journal = try Self.open(scratch.path)
            for index in 0..<10 {
                let record = try Self.append(journal, [Self.payload(index)]).get()[0]
                ends.append(Int(record.location.offset) + Int(record.location.length))
            }
            journal.close()
        }
        let segment = scratch.path + "/" + SegmentFile.name(base: 1)
        let original = try Data(contentsOf: URL(fileURLWithPath: segment))
        // Every byte of record 8 (the 8th, index 7) and 9, one at a time.
        for position in ends[6]..<ends[8] {
            var damaged = original
            damaged[position] ^= 0x40
            try damaged.write(to: URL(fileURLWithPath: segment))
            let fold = Fold()
            let journal = try Self.open(scratch.path, fold: fold)
            let kept = ends.firstIndex { $0 > position }!
            #expect(fold.all.count == kept, "flip at \(position)")
            #expect(fold.all.map(\.payload) == (0..<kept).map(Self.payload))
            journal.close()
            try original.write(to: URL(fileURLWithPath: segment))
        }
    }

    /// The active segment is kept written with zeros ahead of its data (so a sync commits
    /// data only); those zeros are not damage, sealed segments end at their last record.
    @Test func zerosPreparedAfterTheDataAreNotDamageAndSealedSegmentsEndAtTheirData() throws {
        let scratch = Scratch()
        var ends: [UInt64: Int] = [:]  // segment -> end of its last record
        do {
            let journal = try Self.open(scratch.path, segmentSize: 4096)
            for index in 0..<200 {
                let location = try Self.append(journal, [Self.payload(index)]).get()[0].location
                ends[location.segment] = Int(location.offset) + Int(location.length)
            }
            journal.close()
        }
        let segments = try SegmentFile.list(in: scratch.path)
        #expect(segments.count > 2)
        func size(_ base: UInt64) throws -> Int {
            try FileManager.default.attributesOfItem(atPath: scratch.path + "/" + SegmentFile.name(base: base))[.size] as! Int
        }
        for sealed in segments.dropLast() { #expect(try size(sealed) == ends[sealed], "sealed segment \(sealed)") }
        let last = try #require(segments.last)
        #expect(try size(last) > ends[last]!, "the active segment has zeros prepared after its data")
        let fold = Fold()
        let reopened = try Self.open(scratch.path, segmentSize: 4096, fold: fold)
        #expect(fold.all.count == 200)
        #expect(reopened.recovery.truncatedBytes == 0)
        #expect(try Self.append(reopened, [[1]]).get()[0].sequence == 201)
        reopened.close()
        #expect(try Self.open(scratch.path, segmentSize: 4096, fold: Fold()).recovery.truncatedBytes == 0)
    }

    /// Zeros followed by data are not prepared space: a record was written after a gap (a
    /// write reordered by a crash). In the last segment that is a torn tail, cut back; in a
    /// sealed one, damage that stops start-up.
    @Test func zerosFollowedByDataAreATornTailOrDamage() throws {
        let scratch = Scratch()
        var locations: [RecordLocation] = []
        do {
            let journal = try Self.open(scratch.path, segmentSize: 2048)
            for index in 0..<100 { locations.append(try Self.append(journal, [Self.payload(index)]).get()[0].location) }
            journal.close()
        }
        let lastSegment = locations.last!.segment
        let inLast = locations.filter { $0.segment == lastSegment }
        try #require(inLast.count >= 3)
        let lastPath = scratch.path + "/" + SegmentFile.name(base: lastSegment)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: lastPath))
        let gap = inLast[1]
        bytes.replaceSubrange(Int(gap.offset)..<(Int(gap.offset) + Int(gap.length)), with: Data(count: Int(gap.length)))
        try bytes.write(to: URL(fileURLWithPath: lastPath))
        let fold = Fold()
        let reopened = try Self.open(scratch.path, segmentSize: 2048, fold: fold)
        #expect(fold.all.count == locations.count - inLast.count + 1)
        #expect(reopened.recovery.truncatedBytes > 0)
        reopened.close()

        let sealed = locations[3]
        let sealedPath = scratch.path + "/" + SegmentFile.name(base: sealed.segment)
        var sealedBytes = try Data(contentsOf: URL(fileURLWithPath: sealedPath))
        try #require(sealed.segment != lastSegment && sealedBytes.count >= Int(sealed.offset) + 8, "\(sealed) in \(sealedBytes.count) bytes, last \(lastSegment)")
        sealedBytes.replaceSubrange(Int(sealed.offset)..<(Int(sealed.offset) + 8), with: Data(count: 8))
        try sealedBytes.write(to: URL(fileURLWithPath: sealedPath))
        #expect(throws: JournalError.self) { _ = try Self.open(scratch.path, segmentSize: 2048) }
    }

    @Test func damageInASealedSegmentStopsStartupNamingFileAndOffset() throws {
        let scratch = Scratch()
        var victim: RecordLocation?
        do {
            let journal = try Self.open(scratch.path, segmentSize: 2048)
            for index in 0..<100 {
                let record = try Self.append(journal, [Self.payload(index)]).get()[0]
                if index == 5 { victim = record.location }
            }
            journal.close()
        }
        let location = try #require(victim)
        let path = scratch.path + "/" + SegmentFile.name(base: location.segment)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[Int(location.offset) + RecordFraming.headerSize + 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: JournalError.corrupt(file: path, offset: Int(location.offset), reason: "checksum mismatch")) {
            _ = try Self.open(scratch.path, segmentSize: 2048)
        }
    }

    @Test func aSegmentWithoutItsHeaderIsRefused() throws {
        let scratch = Scratch()
        do {
            let journal = try Self.open(scratch.path, segmentSize: 2048)
            for index in 0..<50 { _ = try Self.append(journal, [Self.payload(index)]).get() }
            journal.close()
        }
        let first = scratch.path + "/" + SegmentFile.name(base: 1)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: first))
        bytes[0] = UInt8(ascii: "X")
        try bytes.write(to: URL(fileURLWithPath: first))
        #expect(throws: JournalError.self) { _ = try Self.open(scratch.path, segmentSize: 2048) }
    }

    /// A real full filesystem: a tmpfs with 512 KiB left once a filler file is in it, and
    /// segments of 64 KiB, so the disk fills in a segment or at a roll. The group that does not
    /// fit is refused with `.diskFull`; nothing of it stays in the file; the journal is not
    /// stuck: once the filler is deleted the next append succeeds, without a reopen, with the
    /// next sequence number; and a reopen reads back exactly what was acknowledged.
    @Test(.enabled(if: Capabilities.canMountTmpfs, "cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)"))
    func aFullDiskRefusesWhatDoesNotFitAndWritesResumeOnceSpaceIsFreed() throws {
        let scratch = Scratch()
        try #require(Capabilities.run("/bin/mount", "-t", "tmpfs", "-o", "size=768k", "tmpfs", scratch.path))
        defer { Capabilities.run("/bin/umount", "-l", scratch.path) }
        let filler = scratch.path + "/filler"
        try Data(count: 256 * 1024).write(to: URL(fileURLWithPath: filler))
        let directory = scratch.path + "/journal"
        let segmentSize = 64 * 1024
        let journal = try Self.open(directory, segmentSize: segmentSize)
        var acknowledged: [JournalRecord] = []
        var refusal: JournalError?
        let big = [UInt8](repeating: UInt8(ascii: "z"), count: 8 * 1024)
        for _ in 0..<200 where refusal == nil {
            switch Self.append(journal, [big]) {
            case .success(let records): acknowledged += records
            case .failure(let error): refusal = error
            }
        }
        guard case .diskFull = try #require(refusal) else {
            Issue.record("expected a refusal for lack of space, got \(String(describing: refusal))")
            return
        }
        #expect(acknowledged.count > 20)
        #expect(journal.failure == nil, "a full disk must not be sticky")
        #expect(journal.shortOfSpace == refusal)
        // Nothing of the refused group is left: the last segment ends at the last acknowledged
        // record (prepared zeros cut too), and no half-made segment follows it.
        let last = try #require(acknowledged.last).location
        #expect(try SegmentFile.list(in: directory).last == last.segment)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + SegmentFile.name(base: last.segment))
        #expect((attributes[.size] as? Int) == Int(last.offset) + Int(last.length))
        // A lazy append is refused the same way, and does not end the shortage.
        guard case .failure(.diskFull) = Self.append(journal, [big], durable: false) else {
            Issue.record("a lazy append succeeded on a full disk")
            return
        }
        #expect(journal.shortOfSpace != nil)

        try FileManager.default.removeItem(atPath: filler)
        let resumed = try Self.append(journal, [big]).get()
        #expect(resumed.map(\.sequence) == [UInt64(acknowledged.count + 1)], "refused records use no sequence numbers")
        #expect(journal.shortOfSpace == nil)
        acknowledged += resumed
        // And on, across a segment roll.
        for _ in 0..<10 { acknowledged += try Self.append(journal, [big]).get() }
        #expect(Set(acknowledged.suffix(11).map(\.location.segment)).count > 1)
        journal.close()

        let fold = Fold()
        let reopened = try Self.open(directory, segmentSize: segmentSize, fold: fold)
        #expect(reopened.recovery.truncatedBytes == 0)
        #expect(fold.all.map(\.sequence) == acknowledged.map(\.sequence))
        #expect(fold.all.allSatisfy { $0.payload == big })
        reopened.close()
    }

    /// No room for the next segment (a tmpfs that has run out of inodes: the root, the filler,
    /// the journal's directory and its first segment use all four): the group that needed the
    /// roll is refused, and the next one tries it again. A journal reopened in that state keeps
    /// the full segment active rather than failing to start, and rolls once a file can be made.
    @Test(.enabled(if: Capabilities.canMountTmpfs, "cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)"))
    func noRoomForTheNextSegmentRefusesUntilThereIsEvenAcrossARestart() throws {
        let scratch = Scratch()
        try #require(Capabilities.run("/bin/mount", "-t", "tmpfs", "-o", "size=4m,nr_inodes=4", "tmpfs", scratch.path))
        defer { Capabilities.run("/bin/umount", "-l", scratch.path) }
        let filler = scratch.path + "/filler"
        try #require(FileManager.default.createFile(atPath: filler, contents: nil))
        let directory = scratch.path + "/journal"
        let segmentSize = 32 * 1024
        let record = [UInt8](repeating: UInt8(ascii: "r"), count: 1000)
        let journal = try Self.open(directory, segmentSize: segmentSize)
        var acknowledged = 0
        var refusal: JournalError?
        for _ in 0..<100 where refusal == nil {
            switch Self.append(journal, [record]) {
            case .success(let records): acknowledged += records.count
            case .failure(let error): refusal = error
            }
        }
        let next = UInt64(acknowledged + 1)
        #expect(refusal == .diskFull(file: directory + "/" + SegmentFile.name(base: next)))
        #expect(acknowledged * (record.count + RecordFraming.headerSize) >= segmentSize - SegmentFile.headerSize)
        #expect(journal.failure == nil)
        // Tried again, refused again; and nothing of the failed segment is left behind.
        #expect(Self.append(journal, [record]).failure == .diskFull(file: directory + "/" + SegmentFile.name(base: next)))
        #expect(try SegmentFile.list(in: directory) == [1])
        journal.close()

        let fold = Fold()
        let reopened = try Self.open(directory, segmentSize: segmentSize, fold: fold, shortOfSpaceHold: .milliseconds(200))
        #expect(fold.all.count == acknowledged)
        #expect(Self.append(reopened, [record]).failure == .diskFull(file: directory + "/" + SegmentFile.name(base: next)))
        // With no durable append to clear it, the shortage is reported only for a while: a
        // gateway that readiness took out of rotation gets traffic again to find out.
        #expect(reopened.shortOfSpace != nil)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(reopened.shortOfSpace == nil)
        try FileManager.default.removeItem(atPath: filler)
        let resumed = try Self.append(reopened, [record]).get()
        #expect(resumed.map(\.sequence) == [next])
        #expect(resumed.map(\.location.segment) == [next])
        #expect(try SegmentFile.list(in: directory) == [1, next])
        reopened.close()
    }

    /// What the writer may undo and go on after (see `Journal.refuseForSpace`), and what stays
    /// sticky.
    @Test func onlyNoSpaceErrorsAreUndoneRatherThanSticky() {
        for code in [ENOSPC, EDQUOT, EFBIG] {
            #expect(JournalError.io(call: "pwrite", errno: code, file: "f").isLackOfSpace, "errno \(code)")
        }
        for code in [EIO, EROFS, EBADF, EINVAL] {
            #expect(!JournalError.io(call: "pwrite", errno: code, file: "f").isLackOfSpace, "errno \(code)")
        }
        // Made by `failed` from any errno: only the writer, having undone the write, says `.diskFull`.
        #expect(JournalError.failed("fdatasync", ENOSPC, file: "f") == .io(call: "fdatasync", errno: ENOSPC, file: "f"))
    }

    /// The producer's answer to a full disk: 503, Retry-After, a detail that says what is wrong
    /// and that a retry can work, and no server path in it.
    @Test func aFullDiskIsA503WithRetryAfterThatSaysSo() {
        let error = GatewayError.unavailable(StoreError(JournalError.diskFull(file: "/var/lib/gateway/journal/x.seg")))
        #expect(error.status == 503)
        #expect(error.retryAfter != nil)
        #expect(error.detail.hasPrefix("The event was not stored: the disk is full"), "\(error.detail)")
        #expect(error.detail.contains("once space is freed"))
        #expect(!error.detail.contains("/var/lib"))
    }
}

private extension Result {
    /// The error, if it failed (a test's `#expect` compares it).
    var failure: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
