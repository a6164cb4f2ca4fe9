@testable import Delivery
import Gateway
import Testing

@Suite("Envelope cache")
struct EnvelopeCacheTests {
    static func envelope(_ size: Int) -> WebhookEnvelope {
        WebhookEnvelope(eventID: "evt", body: [UInt8](repeating: 0x61, count: size))
    }

    @Test("an event's body is built once while it stays cached")
    func buildsOnce() {
        var cache = EnvelopeCache(maxEntries: 8, maxBytes: 1 << 20)
        var builds = 0
        for _ in 0..<3 {
            let body = cache.envelope(for: 7) { builds += 1; return Self.envelope(10) }?.body
            #expect(body?.count == 10)
        }
        #expect(builds == 1)
    }

    @Test("an envelope not to be kept is built and returned but not cached, and evicts nothing")
    func notKept() {
        var cache = EnvelopeCache(maxEntries: 1, maxBytes: 1 << 20)
        _ = cache.envelope(for: 1) { Self.envelope(5) }
        var builds = 0
        for _ in 0..<2 {
            #expect(cache.envelope(for: 2, keep: false) { builds += 1; return Self.envelope(10) }?.body.count == 10)
        }
        #expect(builds == 2)
        #expect(cache.count == 1)
        // The entry already held still answers, whatever `keep` says.
        #expect(cache.envelope(for: 1, keep: false) { Issue.record("rebuilt a cached envelope"); return nil }?.body.count == 5)
    }

    @Test("the oldest entries go first when the entry bound is reached")
    func entryBound() {
        var cache = EnvelopeCache(maxEntries: 3, maxBytes: 1 << 20)
        for sequence in UInt64(1)...5 { _ = cache.envelope(for: sequence) { Self.envelope(1) } }
        #expect(cache.count == 3)
        var rebuilt: [UInt64] = []
        // Held: 3, 4, 5. Asking for 1 rebuilds it and evicts 3; 5 is still held; 3 is not.
        for sequence: UInt64 in [1, 5, 3] {
            _ = cache.envelope(for: sequence) { rebuilt.append(sequence); return Self.envelope(1) }
        }
        #expect(rebuilt == [1, 3])
    }

    @Test("the byte bound holds, and a body larger than all of it is returned but not kept")
    func byteBound() {
        var cache = EnvelopeCache(maxEntries: 100, maxBytes: 100)
        for sequence in UInt64(1)...10 { _ = cache.envelope(for: sequence) { Self.envelope(30) } }
        #expect(cache.byteCount <= 100)
        #expect(cache.count == 3)
        let huge = cache.envelope(for: 99) { Self.envelope(500) }
        #expect(huge?.body.count == 500)
        #expect(cache.byteCount <= 100)
        #expect(cache.count == 3)
    }

    @Test("an event that cannot be read is not cached")
    func unreadable() {
        var cache = EnvelopeCache()
        #expect(cache.envelope(for: 1) { nil } == nil)
        #expect(cache.count == 0)
    }

    @Test("many evictions keep the books straight")
    func churn() {
        var cache = EnvelopeCache(maxEntries: 16, maxBytes: 1000)
        for sequence in UInt64(1)...10_000 {
            _ = cache.envelope(for: sequence) { Self.envelope(Int(sequence % 90) + 1) }
            #expect(cache.count <= 16 && cache.byteCount <= 1000)
        }
    }
}
