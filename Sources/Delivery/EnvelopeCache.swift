/// Request bodies of recent events, by journal sequence, so an event fanned out to several
/// subscriptions is read back from the journal and serialized once, not once per
/// subscription (its signature still differs per subscription and attempt). Bounded by
/// entries and by bytes; the oldest entry goes first. Owned by the dispatcher's thread.
struct EnvelopeCache {
    struct Envelope {
        var eventID: String
        var body: [UInt8]
    }

    private var entries: [UInt64: Envelope] = [:]
    /// Insertion order; `head` is the oldest still cached.
    private var order: [UInt64] = []
    private var head = 0
    private(set) var byteCount = 0
    let maxEntries: Int
    let maxBytes: Int

    init(maxEntries: Int = 4096, maxBytes: Int = 16 << 20) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = maxBytes
    }

    var count: Int { entries.count }

    /// The cached envelope, or the one `build` makes (cached unless it alone exceeds the
    /// byte bound); nil when `build` has nothing.
    mutating func envelope(for sequence: UInt64, build: () -> Envelope?) -> Envelope? {
        if let cached = entries[sequence] { return cached }
        guard let built = build() else { return nil }
        guard built.body.count <= maxBytes else { return built }
        while entries.count >= maxEntries || byteCount + built.body.count > maxBytes {
            evictOldest()
        }
        entries[sequence] = built
        byteCount += built.body.count
        order.append(sequence)
        return built
    }

    private mutating func evictOldest() {
        guard head < order.count else { return }
        if let removed = entries.removeValue(forKey: order[head]) { byteCount -= removed.body.count }
        head += 1
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
