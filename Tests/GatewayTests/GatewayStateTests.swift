@testable import Gateway
import JSON
import Synchronization
import Testing

/// The lock and the observer around the fold (`GatewayState`).
@Suite("Gateway state")
struct GatewayStateTests {
    /// The observer of new deliveries is called once per commit with fan-outs, for the life of
    /// the process. Stored as a bare closure in a `Mutex`, every read wrapped it in two more
    /// re-abstraction thunks, so the call chain grew without bound: after 300,000 commits it is
    /// 600,000 calls deep and overflows the stack (a crash of this test). Held by reference,
    /// each call is one call.
    @Test func theDeliveryObserverStaysOneCallAfterManyCommits() {
        let state = GatewayState(idempotencyWindow: .seconds(3600), clock: { 1_800_000_000_000_000 })
        let subscription = Subscription(id: "sub_1", url: "https://example.com/hook", eventTypes: [EventTypePattern("*")!],
                                        secrets: [.init(value: "whsec_x", expiresAt: nil)])
        state.apply([record(1, .subscriptionUpserted, JSONParser.serialize(subscription.storedJSON()))])
        let delivered = Atomic(0)
        state.observeDeliveries { fanOuts in delivered.add(fanOuts.count, ordering: .relaxed) }
        let commits = 300_000
        let event = EventRecord(id: "evt", type: "order.created", source: "admin", partitionKey: nil, occurredAt: nil,
                                idempotencyKey: nil, bodyDigest: [], data: Array("{}".utf8)).encode()
        for sequence in 2..<(2 + commits) {
            state.apply([record(UInt64(sequence), .event, event)])
        }
        #expect(delivered.load(ordering: .relaxed) == commits)
    }

    private func record(_ sequence: UInt64, _ kind: RecordKind, _ payload: [UInt8]) -> JournalRecord {
        JournalRecord(sequence: sequence, timestamp: 1_800_000_000_000_000, kind: kind, payload: payload,
                      location: RecordLocation(segment: 1, offset: sequence * 100, length: UInt32(payload.count)))
    }
}
