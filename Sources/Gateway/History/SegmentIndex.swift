#if canImport(Glibc)
import Glibc
#endif
import CPlatform
import Runtime
import Synchronization

/// Where a record is inside its segment.
struct SegmentPosition: Sendable, Equatable {
    var offset: UInt32
    var length: UInt32

    func location(in segment: UInt64) -> RecordLocation {
        RecordLocation(segment: segment, offset: UInt64(offset), length: length)
    }
}

/// One event in a segment's position table, in journal order: what listing by sequence,
/// time and type needs without reading the event.
struct IndexedEvent: Sendable, Equatable {
    var sequence: UInt64
    var timestamp: Int64
    var position: SegmentPosition
    /// `StableHash` of the type, cut to 32 bits; a match is confirmed against the record.
    var typeHash: UInt32

    static let size = 32
}

/// A delivery-attempt record of one event, for `GET /v1/events/{id}/attempts`.
struct IndexedAttempt: Sendable, Equatable {
    var eventSequence: UInt64
    var position: SegmentPosition

    static let size = 16
}

/// The index of one journal segment (Kafka's `.index`/`.timeindex`, in one file): events by
/// position and time, ids by hash, attempts by event. Built in memory while the segment is
/// the active one (`SegmentIndexBuilder`); written beside it once it is sealed
/// (`SegmentIndexFile`), after which only a summary of it stays in memory.
///
/// Ids are looked up by a 64-bit `StableHash` in an open-addressing table kept at most half
/// full, so a lookup is one small `pread` per segment; every hit is confirmed by reading the
/// record, so a collision or a damaged file can make a lookup slower, never wrong.
enum SegmentIndexFormat {
    static let magic: [UInt8] = Array("WHGIDX01".utf8)
    static let suffix = ".idx"
    static let headerSize = 72
    static let slotSize = 16

    static func name(base: UInt64) -> String {
        String(SegmentFile.name(base: base).dropLast(SegmentFile.suffix.count)) + suffix
    }

    /// A table twice the number of ids (at least 16 slots), so probes stay short.
    static func slotCount(ids: Int) -> Int { max(16, ids * 2) }

    /// 0 marks an empty slot, so no id may hash to it.
    static func slotHash(_ hash: UInt64) -> UInt64 { hash == 0 ? 1 : hash }
}

/// What a segment's index knows about it as a whole: enough to decide, without opening the
/// index, whether a query or a retention pass concerns the segment.
struct SegmentSummary: Sendable, Equatable {
    var base: UInt64
    /// Bytes of the segment the index covers (the sealed segment's size).
    var length: Int
    /// The last record's sequence (state records included).
    var lastSequence: UInt64
    /// Commit times of the first and last event (0 when it holds none).
    var minTime: Int64
    var maxTime: Int64
    var eventCount: Int
    var slotCount: Int
    var attemptCount: Int
}

/// The active segment's index, in memory, fed every committed record in order.
struct SegmentIndexBuilder: Sendable {
    private(set) var summary: SegmentSummary
    private(set) var events: [IndexedEvent] = []
    /// Id hash → the record holding that id (an event, or retention's carried copy).
    private var ids: [UInt64: SegmentPosition] = [:]
    /// Further records whose id hash equals one already in `ids` (a collision or a carried
    /// copy of an id seen earlier in the segment): rare.
    private var collisions: [(hash: UInt64, position: SegmentPosition)] = []
    private(set) var attempts: [IndexedAttempt] = []

    init(base: UInt64) {
        summary = SegmentSummary(base: base, length: SegmentFile.headerSize, lastSequence: base &- 1, minTime: 0, maxTime: 0,
                                 eventCount: 0, slotCount: 0, attemptCount: 0)
    }

    var base: UInt64 { summary.base }
    var idCount: Int { ids.count + collisions.count }

    mutating func add(_ record: JournalRecord) {
        let position = SegmentPosition(offset: UInt32(record.location.offset), length: record.location.length)
        summary.lastSequence = record.sequence
        summary.length = Int(record.location.offset) + Int(record.location.length)
        switch record.kind {
        case .event:
            guard let fields = try? EventRecord.envelopeFields(record.payload) else { return }
            if events.isEmpty { summary.minTime = record.timestamp }
            summary.maxTime = record.timestamp
            events.append(IndexedEvent(sequence: record.sequence, timestamp: record.timestamp, position: position,
                                       typeHash: UInt32(truncatingIfNeeded: StableHash.of(record.payload[fields.type]))))
            addID(StableHash.of(record.payload[fields.id]), position)
        case .eventCarried:
            // Found by id (it is still owed), never listed: its time is its original's, older
            // than this segment's, and listing stays in journal order.
            guard let original = record.unwrappingCarried(), original.kind == .event,
                  let fields = try? EventRecord.envelopeFields(original.payload) else { return }
            addID(StableHash.of(original.payload[fields.id]), position)
        case .deliveryAttempted:
            guard let sequence = DeliveryAttemptRecord.eventSequence(in: record.payload) else { return }
            attempts.append(IndexedAttempt(eventSequence: sequence, position: position))
        default:
            break
        }
        summary.eventCount = events.count
        summary.attemptCount = attempts.count
    }

    private mutating func addID(_ hash: UInt64, _ position: SegmentPosition) {
        let hash = SegmentIndexFormat.slotHash(hash)
        if ids[hash] == nil { ids[hash] = position } else { collisions.append((hash, position)) }
    }

    /// Reads a segment from its first record to its last good one and indexes it, handing
    /// each batch of records to `each` too; returns the index and what the scan found.
    static func scan(
        segment base: UInt64, directory: String, maxRecordSize: Int, each: @escaping @Sendable ([JournalRecord]) -> Void = { _ in }
    ) throws(JournalError) -> (SegmentIndexBuilder, JournalRecovery.SegmentScan) {
        let builder = Mutex(SegmentIndexBuilder(base: base))
        let scan = try JournalRecovery.scanSegment(
            path: directory + "/" + SegmentFile.name(base: base), base: base, maxRecord: maxRecordSize
        ) { records in
            builder.withLock { index in records.forEach { index.add($0) } }
            each(records)
        }
        return (builder.withLock { $0 }, scan)
    }

    /// Records that may hold the id with this hash.
    func candidates(idHash: UInt64) -> [SegmentPosition] {
        let hash = SegmentIndexFormat.slotHash(idHash)
        guard let first = ids[hash] else { return [] }
        return [first] + collisions.filter { $0.hash == hash }.map(\.position)
    }

    /// The first position-table entry after sequence `after` and not before `since`.
    func firstEvent(after: UInt64, since: Int64?) -> Int {
        var low = 0
        var high = events.count
        while low < high {
            let middle = (low + high) / 2
            if events[middle].sequence > after && (since.map { events[middle].timestamp >= $0 } ?? true) {
                high = middle
            } else {
                low = middle + 1
            }
        }
        return low
    }

    func attempts(ofEvent sequence: UInt64) -> [SegmentPosition] {
        attempts.filter { $0.eventSequence == sequence }.map(\.position)
    }

    /// The index file's bytes: header, position table, id table, attempt table.
    func encode() -> [UInt8] {
        let slotCount = SegmentIndexFormat.slotCount(ids: idCount)
        var slots = [(hash: UInt64, position: SegmentPosition)](repeating: (0, SegmentPosition(offset: 0, length: 0)), count: slotCount)
        for (hash, position) in ids.map({ ($0.key, $0.value) }) + collisions.map({ ($0.hash, $0.position) }) {
            var slot = Int(hash % UInt64(slotCount))
            while slots[slot].hash != 0 { slot = (slot + 1) % slotCount }
            slots[slot] = (hash, position)
        }
        // Attempts sorted by event, then by place, so one event's are adjacent and in order.
        let sortedAttempts = attempts.sorted { ($0.eventSequence, $0.position.offset) < ($1.eventSequence, $1.position.offset) }
        var body: [UInt8] = []
        body.reserveCapacity(events.count * IndexedEvent.size + slotCount * SegmentIndexFormat.slotSize + attempts.count * IndexedAttempt.size)
        for event in events {
            appendLittleEndian(event.sequence, to: &body)
            appendLittleEndian(UInt64(bitPattern: event.timestamp), to: &body)
            appendLittleEndian(event.position.offset, to: &body)
            appendLittleEndian(event.position.length, to: &body)
            appendLittleEndian(event.typeHash, to: &body)
            appendLittleEndian(UInt32(0), to: &body)
        }
        for slot in slots {
            appendLittleEndian(slot.hash, to: &body)
            appendLittleEndian(slot.position.offset, to: &body)
            appendLittleEndian(slot.position.length, to: &body)
        }
        for attempt in sortedAttempts {
            appendLittleEndian(attempt.eventSequence, to: &body)
            appendLittleEndian(attempt.position.offset, to: &body)
            appendLittleEndian(attempt.position.length, to: &body)
        }
        var summary = self.summary
        summary.slotCount = slotCount
        var header = SegmentIndexFormat.magic
        appendLittleEndian(summary.base, to: &header)
        appendLittleEndian(UInt64(summary.length), to: &header)
        appendLittleEndian(summary.lastSequence, to: &header)
        appendLittleEndian(UInt64(bitPattern: summary.minTime), to: &header)
        appendLittleEndian(UInt64(bitPattern: summary.maxTime), to: &header)
        appendLittleEndian(UInt32(summary.eventCount), to: &header)
        appendLittleEndian(UInt32(slotCount), to: &header)
        appendLittleEndian(UInt32(summary.attemptCount), to: &header)
        appendLittleEndian(body.withUnsafeBytes { RecordFraming.checksum($0) }, to: &header)
        appendLittleEndian(header.withUnsafeBytes { RecordFraming.checksum($0) }, to: &header)
        appendLittleEndian(UInt32(0), to: &header)
        return header + body
    }
}

/// A sealed segment's index file, read with `pread` (never mapped or loaded: the page cache
/// keeps what is hot, and it does not count towards the process's memory).
final class SegmentIndexFile: Sendable {
    let summary: SegmentSummary
    let path: String
    private let fd: Int32

    private var eventsOffset: Int { SegmentIndexFormat.headerSize }
    private var slotsOffset: Int { eventsOffset + summary.eventCount * IndexedEvent.size }
    private var attemptsOffset: Int { slotsOffset + summary.slotCount * SegmentIndexFormat.slotSize }
    private var fileSize: Int { attemptsOffset + summary.attemptCount * IndexedAttempt.size }

    enum OpenError: Error, CustomStringConvertible {
        case missing
        case damaged(String)

        var description: String {
            switch self {
            case .missing: "missing"
            case .damaged(let reason): reason
            }
        }
    }

    /// Opens the index of the segment at `base`, checking its header (magic, checksum, that it
    /// describes this segment and its size). The body's checksum is checked by `verify()`.
    init(directory: String, base: UInt64, segmentLength: Int) throws(OpenError) {
        path = directory + "/" + SegmentIndexFormat.name(base: base)
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? .missing : .damaged("cannot open: errno \(errno)") }
        var header = [UInt8](repeating: 0, count: SegmentIndexFormat.headerSize)
        do {
            try Self.read(fd, into: &header, at: 0)
        } catch {
            close(fd)
            throw error
        }
        func u64(_ at: Int) -> UInt64 { header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian } }
        func u32(_ at: Int) -> UInt32 { header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian } }
        let checksum = header.withUnsafeBytes { RecordFraming.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<64])) }
        guard Array(header[0..<8]) == SegmentIndexFormat.magic, u32(64) == checksum else {
            close(fd)
            throw .damaged("bad header")
        }
        summary = SegmentSummary(base: u64(8), length: Int(u64(16)), lastSequence: u64(24), minTime: Int64(bitPattern: u64(32)),
                                 maxTime: Int64(bitPattern: u64(40)), eventCount: Int(u32(48)), slotCount: Int(u32(52)),
                                 attemptCount: Int(u32(56)))
        bodyChecksum = u32(60)
        var info = stat()
        guard summary.base == base, summary.length == segmentLength, fstat(fd, &info) == 0, Int(info.st_size) == fileSize else {
            // Every stored property is set by now, so `deinit` runs and closes `fd`: closing it
            // here too closed whatever another thread had opened under that number meanwhile
            // (an HTTP connection, in a full test run: its event loop read EBADF and trapped).
            throw .damaged("does not describe this segment")
        }
    }

    private let bodyChecksum: UInt32

    /// Also after a throw once every stored property was set (the last check of `init`).
    deinit { close(fd) }

    /// Checks the body against its checksum: one sequential read of the file, a MiB at a
    /// time (the maintainer checks every sealed index after a start; memory stays flat).
    func verify() -> Bool {
        var crc: UInt32 = 0
        var offset = SegmentIndexFormat.headerSize
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while offset < fileSize {
            let count = min(chunk.count, fileSize - offset)
            if count < chunk.count { chunk = [UInt8](repeating: 0, count: count) }
            guard (try? Self.read(fd, into: &chunk, at: offset)) != nil else { return false }
            crc = chunk.withUnsafeBytes { csystem_crc32c(crc, $0.baseAddress, count) }
            offset += count
        }
        return RecordFraming.mask(crc) == bodyChecksum
    }

    /// Records of this segment that may hold the id with this hash.
    func candidates(idHash: UInt64) -> [SegmentPosition] {
        guard summary.slotCount > 0 else { return [] }
        let hash = SegmentIndexFormat.slotHash(idHash)
        var slot = Int(hash % UInt64(summary.slotCount))
        var found: [SegmentPosition] = []
        // Linear probing: read a run of slots at a time until an empty one ends the chain.
        var visited = 0
        while visited < summary.slotCount {
            let run = min(16, summary.slotCount - slot)
            var bytes = [UInt8](repeating: 0, count: run * SegmentIndexFormat.slotSize)
            guard (try? Self.read(fd, into: &bytes, at: slotsOffset + slot * SegmentIndexFormat.slotSize)) != nil else { return found }
            for index in 0..<run {
                let at = index * SegmentIndexFormat.slotSize
                let stored = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian }
                if stored == 0 { return found }
                if stored == hash {
                    found.append(bytes.withUnsafeBytes {
                        SegmentPosition(offset: $0.loadUnaligned(fromByteOffset: at + 8, as: UInt32.self).littleEndian,
                                        length: $0.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self).littleEndian)
                    })
                }
            }
            visited += run
            slot = (slot + run) % summary.slotCount
        }
        return found
    }

    /// Position-table entries `range` (clamped to the table).
    func events(_ range: Range<Int>) -> [IndexedEvent] {
        let range = range.clamped(to: 0..<summary.eventCount)
        guard !range.isEmpty else { return [] }
        var bytes = [UInt8](repeating: 0, count: range.count * IndexedEvent.size)
        guard (try? Self.read(fd, into: &bytes, at: eventsOffset + range.lowerBound * IndexedEvent.size)) != nil else { return [] }
        return bytes.withUnsafeBytes { raw in
            (0..<range.count).map { index in
                let at = index * IndexedEvent.size
                return IndexedEvent(
                    sequence: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian,
                    timestamp: Int64(bitPattern: raw.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self).littleEndian),
                    position: SegmentPosition(offset: raw.loadUnaligned(fromByteOffset: at + 16, as: UInt32.self).littleEndian,
                                              length: raw.loadUnaligned(fromByteOffset: at + 20, as: UInt32.self).littleEndian),
                    typeHash: raw.loadUnaligned(fromByteOffset: at + 24, as: UInt32.self).littleEndian)
            }
        }
    }

    /// The first position-table entry for which `isAfter` holds (entries are in journal
    /// order, so sequence and time both only grow): a binary search, one small read a step.
    func firstEvent(where isAfter: (IndexedEvent) -> Bool) -> Int {
        var low = 0
        var high = summary.eventCount
        while low < high {
            let middle = (low + high) / 2
            guard let entry = events(middle..<(middle + 1)).first else { return summary.eventCount }
            if isAfter(entry) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The attempt records of the event at `sequence`, in journal order.
    func attempts(ofEvent sequence: UInt64) -> [SegmentPosition] {
        func attempt(_ index: Int) -> IndexedAttempt? {
            var bytes = [UInt8](repeating: 0, count: IndexedAttempt.size)
            guard (try? Self.read(fd, into: &bytes, at: attemptsOffset + index * IndexedAttempt.size)) != nil else { return nil }
            return bytes.withUnsafeBytes {
                IndexedAttempt(eventSequence: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian,
                               position: SegmentPosition(offset: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian,
                                                         length: $0.loadUnaligned(fromByteOffset: 12, as: UInt32.self).littleEndian))
            }
        }
        var low = 0
        var high = summary.attemptCount
        while low < high {
            let middle = (low + high) / 2
            guard let entry = attempt(middle) else { return [] }
            if entry.eventSequence >= sequence { high = middle } else { low = middle + 1 }
        }
        var found: [SegmentPosition] = []
        while low < summary.attemptCount, let entry = attempt(low), entry.eventSequence == sequence {
            found.append(entry.position)
            low += 1
        }
        return found
    }

    private static func read(_ fd: Int32, into bytes: inout [UInt8], at offset: Int) throws(OpenError) {
        do {
            _ = try SegmentFile.read(fd, into: &bytes, atLeast: bytes.count, at: offset, file: "index")
        } catch {
            throw .damaged("short or failed read at \(offset)")
        }
    }

    /// Writes `builder`'s index beside its segment: to a temporary name, synced, then
    /// renamed into place and the directory synced, so a crash leaves the whole file or none.
    static func write(_ builder: SegmentIndexBuilder, directory: String) throws(JournalError) {
        let name = SegmentIndexFormat.name(base: builder.base)
        try AtomicFile.write(builder.encode(), to: directory + "/" + name, directory: directory, step: "index")
    }
}

extension DeliveryAttemptRecord {
    /// The event sequence of an encoded attempt, without decoding the rest.
    static func eventSequence(in payload: [UInt8]) -> UInt64? {
        var reader = BinaryReader(payload)
        guard (try? reader.byte()) == 1, (try? reader.blobRange()) != nil else { return nil }
        return try? reader.integer(UInt64.self)
    }
}
