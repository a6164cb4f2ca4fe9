/// Keeps a label's values few when they come from input: the first `limit` distinct values
/// seen keep their own label value, every later one is counted as `overflow`. Metrics
/// backends keep one series per label value, forever; a producer sending a new event type
/// per event must not be able to grow them without end.
struct BoundedLabel: Sendable {
    static let overflow = "other"

    let limit: Int
    private(set) var admitted: Set<String> = []

    init(limit: Int) {
        self.limit = limit
    }

    /// The label value `value` is counted under, admitting it while there is room.
    mutating func value(for value: String) -> String {
        if admitted.contains(value) { return value }
        guard admitted.count < limit, value != Self.overflow else { return Self.overflow }
        admitted.insert(value)
        return value
    }
}
