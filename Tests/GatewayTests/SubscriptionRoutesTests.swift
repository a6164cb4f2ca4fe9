@testable import Gateway
import PropertyBased
import TestSupport
import Testing

/// The fan-out index: which subscriptions a type may go to, without a scan.
@Suite("Subscription routes")
struct SubscriptionRoutesTests {
    static func routes(_ patterns: [String: [String]]) -> SubscriptionRoutes {
        var routes = SubscriptionRoutes()
        for (id, texts) in patterns { routes.set(id, patterns: texts.map { EventTypePattern($0)! }) }
        return routes
    }

    @Test func exactMiddleAndTrailingWildcards() {
        let routes = Self.routes([
            "exact": ["order.created"], "any": ["*"], "orders": ["order.*"], "shipped": ["order.*.shipped"],
            "two": ["user.created", "order.line.added"],
        ])
        #expect(Set(routes.matches("order.created")) == ["exact", "any", "orders"])
        #expect(Set(routes.matches("order.line.shipped")) == ["any", "orders", "shipped"])
        #expect(Set(routes.matches("order.line.added")) == ["any", "orders", "two"])
        #expect(Set(routes.matches("order")) == ["any"], "a trailing * needs one more segment")
        #expect(Set(routes.matches("user.created")) == ["any", "two"])
        #expect(Set(routes.matches("invoice.paid")) == ["any"])
    }

    @Test func replacingAndRemovingPatternsUnindexesTheOldOnes() {
        var routes = Self.routes(["s": ["order.*", "user.created"]])
        routes.set("s", patterns: [EventTypePattern("invoice.paid")!])
        #expect(routes.matches("order.created").isEmpty)
        #expect(routes.matches("user.created").isEmpty)
        #expect(routes.matches("invoice.paid") == ["s"])
        routes.remove("s")
        #expect(routes.matches("invoice.paid").isEmpty)
        #expect(routes.isEmpty)
    }

    @Test func churnOfWildcardPatternsRebuildsTheTrieAndRoutesCompareByContent() {
        var routes = SubscriptionRoutes()
        for n in 0..<500 {
            routes.set("s\(n % 3)", patterns: [EventTypePattern("t\(n).*.x")!])
        }
        // Three live patterns; hundreds were replaced. Matching is still exact.
        #expect(Set(routes.matches("t499.a.x")) == ["s1"])
        #expect(routes.matches("t10.a.x").isEmpty)
        let fresh = Self.routes(["s0": ["t498.*.x"], "s1": ["t499.*.x"], "s2": ["t497.*.x"]])
        #expect(routes == fresh)
    }

    /// Against `EventTypePattern.matches`, for random patterns and types from a small alphabet
    /// (so they collide), after random replacements and removals.
    @Test func agreesWithMatchingEveryPattern() async {
        let segments = ["a", "b", "c", "*"]
        await propertyCheck(count: 300, input: Gen.int(in: 0...Int.max).array(of: 1...40)) { seeds in
            var random = SplitMix64(seed: UInt64(truncatingIfNeeded: seeds.first ?? 0))
            func text(literalOnly: Bool) -> String {
                let count = 1 + Int(random.next() % 4)
                return (0..<count).map { _ in segments[Int(random.next() % UInt64(literalOnly ? 3 : 4))] }.joined(separator: ".")
            }
            var routes = SubscriptionRoutes()
            var truth: [String: [EventTypePattern]] = [:]
            for seed in seeds {
                let id = "s\(UInt64(truncatingIfNeeded: seed) % 6)"
                if seed % 5 == 0 {
                    routes.remove(id)
                    truth[id] = nil
                } else {
                    let patterns = (0..<(1 + seed % 3)).compactMap { _ in EventTypePattern(text(literalOnly: false)) }
                    routes.set(id, patterns: patterns)
                    truth[id] = patterns
                }
            }
            for _ in 0..<20 {
                let type = text(literalOnly: true)
                let expected = truth.filter { $0.value.contains { $0.matches(type) } }.map(\.key).sorted()
                #expect(routes.matches(type).sorted() == expected, "type \(type)")
            }
        }
    }
}
