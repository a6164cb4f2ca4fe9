/// Bytes of one segment read past the record a reader asked for, so that a reader going
/// through the journal roughly in order (the dispatcher, reading each delivery's event) gets
/// the next records without a system call each. Owned by that reader's thread; filled by
/// `Journal.read(_:readAhead:)`.
///
/// Held bytes are never stale: a record, once written, does not change, and a record is only
/// taken from them when it lies wholly inside and its checksum holds. A record that was still
/// being appended when the bytes were read fails that test and is read again.
public struct JournalReadAhead {
    /// How much one refill reads: about 200 events of 300 bytes.
    public static let size = 64 * 1024

    private var segment: UInt64?
    /// The segment offset `bytes[0]` was read from.
    private var offset = 0
    private var bytes: [UInt8] = []
    /// How many bytes of `bytes` the last refill read.
    private var filled = 0
    /// How much the next refill reads: halved after a refill none of whose bytes served a
    /// further read (a reader jumping about, such as deliveries to thousands of tenants, each
    /// owed events far apart), doubled back towards `size` after one that did.
    private(set) var window = Self.size
    /// Starts as if read-ahead paid, so a first refill reads the whole `size`.
    private var hitsSinceFill = 2
    static let smallestWindow = 4096

    public init() {}

    /// The record at `location` from the held bytes, or nil when they do not hold all of it
    /// (or it does not decode from them).
    mutating func record(at location: RecordLocation,
                         decode: (UnsafeRawBufferPointer, Int, RecordLocation) -> JournalRecord?) -> JournalRecord? {
        guard segment == location.segment else { return nil }
        let start = Int(location.offset) - offset
        let filled = self.filled
        guard start >= 0, start + Int(location.length) <= filled else { return nil }
        let found = bytes.withUnsafeBytes { decode(UnsafeRawBufferPointer(rebasing: $0[0..<filled]), start, location) }
        if found != nil { hitsSinceFill += 1 }
        return found
    }

    /// Reads from `fd` at `offset` as much as fits: at least `count` bytes, up to the window
    /// (at most `size`, or the largest record read so far) when the file has them. Throws when
    /// even `count` bytes are not there.
    mutating func fill(from fd: Int32, segment: UInt64, at offset: Int, atLeast count: Int) throws(JournalError) {
        // The record that caused the last refill is its first hit; a second means it paid, and
        // so does a read that continues just past the held bytes (in order, but with records
        // too large for a small window to hold two).
        let continues = segment == self.segment && offset >= self.offset && offset <= self.offset + filled + Self.smallestWindow
        window = hitsSinceFill > 1 || continues ? min(Self.size, window * 2) : max(Self.smallestWindow, window / 2)
        hitsSinceFill = 0
        if bytes.count < max(Self.size, count) { bytes = [UInt8](repeating: 0, count: max(Self.size, count)) }
        self.segment = nil
        let done = try SegmentFile.read(fd, into: &bytes, atLeast: count, upTo: window, at: offset,
                                        file: SegmentFile.name(base: segment))
        self.segment = segment
        self.offset = offset
        filled = done
    }
}
