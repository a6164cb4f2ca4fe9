#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Reads every segment at start, checks every record, and replays them in order.
///
/// The last segment may end in a torn write (a crash mid-`pwrite`) or garbage: it is cut back
/// to its last complete, valid record, synced, and the cut is logged — nothing cut was ever
/// acknowledged, because acknowledgement waits for the sync that would have covered it.
/// Damage in an older, sealed segment cannot come from a crash, so startup stops and names
/// the file and offset rather than silently dropping acknowledged events (NATS and Kafka do
/// the same).
enum JournalRecovery {
    struct Result {
        var report: Journal.RecoveryReport
        var segmentBases: [UInt64]
        var lastSegmentSize: Int
        var lastTimestamp: Int64
        /// Commit time of the last segment's first record, if it holds one.
        var lastSegmentFirstTimestamp: Int64?
    }

    static func recover(
        configuration: Journal.Configuration, logger: Logger, replay: Journal.CommitObserver
    ) throws(JournalError) -> Result {
        let directory = configuration.directory
        var bases = try SegmentFile.list(in: directory)
        var report = Journal.RecoveryReport(segments: 0, records: 0, truncatedBytes: 0, lastSequence: 0)
        var lastSize = 0
        var lastTimestamp: Int64 = 0
        var expected: UInt64?
        var lastFirstTimestamp: Int64?
        for (index, base) in bases.enumerated() {
            let isLast = index == bases.count - 1
            let path = directory + "/" + SegmentFile.name(base: base)
            if let expected, base != expected {
                throw JournalError.corrupt(file: path, offset: 0, reason: "segment starts at sequence \(base) but \(expected) was expected next")
            }
            if !isLast && bases[index + 1] <= configuration.recoverFrom && !configuration.alsoRecover.contains(base) {
                // Sealed, and covered by the snapshot recovery starts from: not read (its
                // records were checked when written; `gatewayd journal verify` reads it).
                report.segments += 1
                report.lastSequence = bases[index + 1] - 1
                expected = bases[index + 1]
                continue
            }
            let scan = try scanSegment(path: path, base: base, maxRecord: configuration.maxRecordSize, replay: replay)
            if scan.zeroTail && isLast {
                // The zeros the writer prepares ahead of its data (`Journal.prepareAhead`):
                // not data, nothing lost. Cut so the writer starts from a known file.
                try truncate(path: path, to: scan.validEnd)
            }
            if let damage = scan.damage {
                guard isLast else {
                    throw JournalError.corrupt(file: path, offset: scan.validEnd, reason: damage)
                }
                let cut = scan.fileSize - scan.validEnd
                try truncate(path: path, to: scan.validEnd)
                report.truncatedBytes = cut
                logger.warning("journal tail cut back to its last complete record", metadata: [
                    "file": "\(path)", "offset": "\(scan.validEnd)", "bytes-cut": "\(cut)", "reason": "\(damage)",
                ])
            }
            if scan.validEnd < SegmentFile.headerSize {
                // Created but its header never reached the disk: it holds nothing.
                unlink(path)
                try SegmentFile.syncDirectory(directory)
                bases.removeLast()
                continue
            }
            report.segments += 1
            report.records += scan.records
            if let last = scan.lastSequence { report.lastSequence = last } else if base > 0 { report.lastSequence = base - 1 }
            lastTimestamp = max(lastTimestamp, scan.lastTimestamp)
            expected = report.lastSequence + 1
            lastSize = scan.validEnd
            lastFirstTimestamp = scan.firstTimestamp
        }
        return Result(report: report, segmentBases: bases, lastSegmentSize: lastSize, lastTimestamp: lastTimestamp,
                      lastSegmentFirstTimestamp: lastFirstTimestamp)
    }

    struct SegmentScan {
        var fileSize: Int
        /// Offset just past the last good record (or the header).
        var validEnd: Int
        var records: Int
        var lastSequence: UInt64?
        var lastTimestamp: Int64
        var firstTimestamp: Int64?
        /// Why scanning stopped before the end of the file, if it did.
        var damage: String?
        /// The data ended at zeros that run to the end of the file: prepared ahead, not damage.
        var zeroTail = false
    }

    /// Validates one segment and replays its records, in batches to keep the fold cheap.
    static func scanSegment(
        path: String, base: UInt64, maxRecord: Int, replay: Journal.CommitObserver
    ) throws(JournalError) -> SegmentScan {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.failed("open", errno, file: path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw JournalError.failed("fstat", errno, file: path) }
        let size = Int(info.st_size)
        var scan = SegmentScan(fileSize: size, validEnd: 0, records: 0, lastSequence: nil, lastTimestamp: 0, damage: nil)
        guard size >= SegmentFile.headerSize else {
            scan.damage = "the segment header is incomplete (\(size) bytes)"
            return scan
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapping != MAP_FAILED else {
            throw JournalError.failed("mmap", errno, file: path)
        }
        defer { munmap(mapping, size) }
        madvise(mapping, size, MADV_SEQUENTIAL)
        let bytes = UnsafeRawBufferPointer(start: mapping, count: size)
        guard Array(bytes[0..<8]) == SegmentFile.magic,
              bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian == base else {
            throw JournalError.corrupt(file: path, offset: 0, reason: "not a journal segment for sequence \(base) (bad header)")
        }
        var offset = SegmentFile.headerSize
        var expected = base
        var pending: [JournalRecord] = []
        pending.reserveCapacity(1024)
        scanning: while offset < size {
            // A record's length and masked CRC are never both zero (every payload has at
            // least a version byte), so zeros there are the prepared space after the data,
            // provided nothing but zeros follows them.
            if bytes[offset..<min(size, offset + 8)].allSatisfy({ $0 == 0 }) {
                if let written = bytes[offset...].firstIndex(where: { $0 != 0 }) {
                    scan.damage = "zeros at byte \(offset) are followed by data at byte \(written)"
                } else {
                    scan.zeroTail = true
                }
                break scanning
            }
            switch RecordFraming.decode(bytes, at: offset, maxPayload: maxRecord) {
            case .truncated:
                scan.damage = "a record is cut short (\(size - offset) bytes left)"
                break scanning
            case .corrupt(let reason):
                scan.damage = reason
                break scanning
            case .record(let sequence, let timestamp, let kind, let payload, let framedLength):
                guard sequence == expected else {
                    scan.damage = "record has sequence \(sequence) where \(expected) was expected"
                    break scanning
                }
                pending.append(JournalRecord(
                    sequence: sequence, timestamp: timestamp, kind: kind, payload: Array(bytes[payload]),
                    location: RecordLocation(segment: base, offset: UInt64(offset), length: UInt32(framedLength))))
                if pending.count == 1024 {
                    replay(pending)
                    pending.removeAll(keepingCapacity: true)
                }
                scan.records += 1
                scan.lastSequence = sequence
                scan.lastTimestamp = timestamp
                if scan.firstTimestamp == nil { scan.firstTimestamp = timestamp }
                expected += 1
                offset += framedLength
            }
        }
        if !pending.isEmpty { replay(pending) }
        scan.validEnd = offset
        return scan
    }

    private static func truncate(path: String, to length: Int) throws(JournalError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.failed("open", errno, file: path) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw JournalError.failed("ftruncate", errno, file: path) }
        guard fsync(fd) == 0 else { throw JournalError.failed("fsync", errno, file: path) }
    }
}
