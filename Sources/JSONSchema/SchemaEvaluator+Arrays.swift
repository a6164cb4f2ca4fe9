import JSON
/// Array keywords: `prefixItems`, `items`, `contains` (with `minContains`/`maxContains`),
/// `minItems`, `maxItems`, `uniqueItems`.
extension SchemaEvaluator {
    mutating func evaluateArray(_ node: SchemaNode, _ elements: [JSONValue],
                                _ annotations: inout EvaluatedLocations?) -> Bool {
        var valid = true
        if let minimum = node.keywords.minItems, elements.count < minimum {
            report("minItems", "must have at least \(minimum) \(Self.items(minimum)), got \(elements.count)")
            valid = false
            if !collecting { return false }
        }
        if let maximum = node.keywords.maxItems, elements.count > maximum {
            report("maxItems", "must have at most \(maximum) \(Self.items(maximum)), got \(elements.count)")
            valid = false
            if !collecting { return false }
        }
        if node.keywords.uniqueItems, let (first, second) = Self.firstDuplicate(in: elements) {
            report("uniqueItems", "items must be unique, but item \(second) equals item \(first)")
            valid = false
            if !collecting { return false }
        }

        let prefixCount = min(node.keywords.prefixItems.count, elements.count)
        for index in 0..<prefixCount {
            let allowed = apply(node.keywords.prefixItems[index], to: elements[index], at: .index(index),
                                keyword: "prefixItems", rejection: "item \(index) is not allowed")
            if !allowed {
                valid = false
                if !collecting { return false }
            }
        }
        if let below = annotations?.itemsBelow {
            annotations?.itemsBelow = max(below, prefixCount)
        }

        // 2020-12: `items` covers only the elements after `prefixItems`.
        if let items = node.keywords.items {
            let allowedCount = node.keywords.prefixItems.count
            for index in allowedCount..<max(allowedCount, elements.count) {
                let allowed = apply(items, to: elements[index], at: .index(index), keyword: "items",
                                    rejection: "item \(index) is not allowed, the array may hold at most \(allowedCount) \(Self.items(allowedCount))")
                if !allowed {
                    valid = false
                    if !collecting { return false }
                }
            }
            annotations?.allItems = true
        }

        if let contains = node.keywords.contains, !evaluateContains(contains, node, elements, &annotations) {
            valid = false
        }
        return valid
    }

    private mutating func evaluateContains(_ contains: SchemaNodeID, _ node: SchemaNode,
                                           _ elements: [JSONValue], _ annotations: inout EvaluatedLocations?) -> Bool {
        let minimum = node.keywords.minContains
        let maximum = node.keywords.maxContains
        var matches = 0
        for (index, element) in elements.enumerated() {
            var none: EvaluatedLocations? = nil
            guard probe(contains, element, &none) else { continue }
            matches += 1
            annotations?.items.insert(index)
            // Stop as soon as the answer is known, unless annotations or a message need the
            // full count.
            guard annotations == nil else { continue }
            if maximum == nil, matches >= minimum { break }
            if let maximum, matches > maximum, !collecting { return false }
        }
        if matches < minimum {
            report(minimum == 1 ? "contains" : "minContains",
                   "must contain at least \(minimum) \(Self.items(minimum)) matching the contains schema, got \(matches)")
            return false
        }
        if let maximum, matches > maximum {
            report("maxContains",
                   "must contain at most \(maximum) \(Self.items(maximum)) matching the contains schema, got \(matches)")
            return false
        }
        return true
    }

    /// Indices of the first pair of equal elements, found by hashing first so that distinct
    /// elements are rarely compared.
    private static func firstDuplicate(in elements: [JSONValue]) -> (Int, Int)? {
        guard elements.count > 1 else { return nil }
        var buckets: [Int: [Int]] = [:]
        buckets.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            let hash = element.schemaEqualityHash
            if let earlier = buckets[hash]?.first(where: { elements[$0].isSchemaEqual(to: element) }) {
                return (earlier, index)
            }
            buckets[hash, default: []].append(index)
        }
        return nil
    }

    private static func items(_ count: Int) -> String {
        count == 1 ? "item" : "items"
    }
}
