@testable import Delivery
import Testing

/// The engine hands libcurl at most `limit` transfers per host; the rest wait in order.
@Suite("Host gate")
struct HostGateTests {
    static func request(_ tag: UInt64, _ url: String) -> DeliveryRequest {
        DeliveryRequest(tag: tag, url: url, headers: [], body: [])
    }

    @Test(arguments: [
        ("https://example.com/hook?x=1", "https://example.com"),
        ("http://127.0.0.1:8080/a/b", "http://127.0.0.1:8080"),
        ("http://[::1]:9000#frag", "http://[::1]:9000"),
        ("https://example.com", "https://example.com"),
        ("not a url", "not a url"),
    ])
    func hostsAreSchemeAndAuthority(_ url: String, _ host: String) {
        #expect(HostGate.host(of: url) == host)
    }

    @Test func aHostGetsItsLimitAndTheRestWaitInOrder() {
        var gate = HostGate(limit: 2)
        let admitted = [(1, "http://a/x"), (2, "http://a/y"), (3, "http://a/z"), (4, "http://a/z"), (5, "http://b/x")]
            .map { gate.admit(Self.request($0.0, $0.1)) }
        // Two of host a, then held; host b is not held up by a.
        #expect(admitted == [true, true, false, false, true])
        #expect(gate.heldCount == 2)
        // Each end hands its slot to the next held request of the same host, oldest first.
        let handedOn = [2, 1, 5, 3, 4].map { gate.finished($0)?.tag }
        #expect(handedOn == [3, 4, nil, nil, nil])
        #expect(gate.heldCount == 0)
        // All slots free again; an unknown tag (never admitted) changes nothing.
        let again = [6, 7].map { gate.admit(Self.request($0, "http://a/x")) }
        let unknown = gate.finished(99)
        let third = gate.admit(Self.request(8, "http://a/x"))
        #expect(again == [true, true] && unknown == nil && !third)
    }

    @Test func noLimitHoldsNothing() {
        var gate = HostGate(limit: 0)
        let admitted = (0..<1000).map { gate.admit(Self.request(UInt64($0), "http://a/x")) }
        #expect(admitted.allSatisfy { $0 })
        #expect(gate.heldCount == 0)
    }

    @Test func stoppingTakesEverythingHeld() {
        var gate = HostGate(limit: 1)
        for tag in 0..<5 { _ = gate.admit(Self.request(UInt64(tag), tag % 2 == 0 ? "http://a/" : "http://b/")) }
        let held = gate.takeAllHeld()
        #expect(Set(held.map(\.tag)) == [2, 3, 4])
        #expect(gate.heldCount == 0)
    }
}
