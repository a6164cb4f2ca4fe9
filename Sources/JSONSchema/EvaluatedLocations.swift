import JSON
/// The annotations `unevaluatedProperties` and `unevaluatedItems` depend on (2020-12 core
/// §11): which members and items of the current instance some successful keyword already
/// evaluated. Only built when a node with an `unevaluated*` keyword is on the stack, so
/// schemas without them pay nothing.
struct EvaluatedLocations {
    /// Member names by code points: evaluating "caf\u{E9}" does not evaluate "cafe\u{301}".
    var properties: Set<CodePointKey> = []
    /// Items `0..<itemsBelow` were evaluated (by `prefixItems`).
    var itemsBelow = 0
    /// Every item was evaluated (by `items` or `unevaluatedItems`).
    var allItems = false
    /// Items that matched `contains`.
    var items: Set<Int> = []

    func evaluated(item index: Int) -> Bool {
        allItems || index < itemsBelow || items.contains(index)
    }

    mutating func formUnion(_ other: EvaluatedLocations) {
        properties.formUnion(other.properties)
        itemsBelow = max(itemsBelow, other.itemsBelow)
        allItems = allItems || other.allItems
        items.formUnion(other.items)
    }
}
