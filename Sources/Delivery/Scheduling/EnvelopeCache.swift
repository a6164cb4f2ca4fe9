import Runtime
import Gateway

/// Request bodies of recent events, by journal sequence, so an event fanned out to several
/// subscriptions is read back from the journal and serialized once, not once per
/// subscription (its signature still differs per subscription and attempt). Bounded by
/// entries and by bytes; the oldest entry goes first. Owned by the dispatcher's thread.
struct EnvelopeCache {
    private var entries: [UInt64: WebhookEnvelope] = [:]
    /// Insertion order, oldest first.
    private var order = ChunkedQueue<UInt64>()
    private(set) var byteCount = 0
    let maxEntries: Int
    let maxBytes: Int

    init(maxEntries: Int = 4096, maxBytes: Int = 16 << 20) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = maxBytes
    }

    var count: Int { entries.count }

    /// The cached envelope, or the one `build` makes: cached when `keep` says another
    /// subscription may want it, unless it alone exceeds the byte bound. Nil when `build` has
    /// nothing.
    mutating func envelope(for sequence: UInt64, keep: Bool = true, build: () -> WebhookEnvelope?) -> WebhookEnvelope? {
        if let cached = entries[sequence] { return cached }
        guard let built = build() else { return nil }
        guard keep, built.body.count <= maxBytes else { return built }
        while entries.count >= maxEntries || byteCount + built.body.count > maxBytes {
            evictOldest()
        }
        entries[sequence] = built
        byteCount += built.body.count
        order.push(sequence)
        return built
    }

    private mutating func evictOldest() {
        guard let oldest = order.first else { return }
        order.popFirst()
        if let removed = entries.removeValue(forKey: oldest) { byteCount -= removed.body.count }
    }
}
