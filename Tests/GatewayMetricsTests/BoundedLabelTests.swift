@testable import GatewayMetrics
import Testing

/// The rule that keeps input-derived label values few.
@Suite("Bounded labels")
struct BoundedLabelTests {
    @Test("the first values keep their own label, later ones become 'other', and admitted ones stay")
    func capsDistinctValues() {
        var label = BoundedLabel(limit: 3)
        #expect(["a", "b", "a", "c"].map { label.value(for: $0) } == ["a", "b", "a", "c"])
        #expect(label.value(for: "d") == "other")
        #expect(label.value(for: "e") == "other")
        // Values admitted before the cap keep their label after it.
        #expect(label.value(for: "b") == "b")
        #expect(label.admitted == ["a", "b", "c"])
    }

    @Test("a value spelled like the overflow label takes no slot of its own")
    func overflowIsNotAdmitted() {
        var label = BoundedLabel(limit: 2)
        #expect(label.value(for: "other") == "other")
        #expect(label.value(for: "x") == "x")
        #expect(label.value(for: "y") == "y")
        #expect(label.admitted == ["x", "y"])
    }
}
