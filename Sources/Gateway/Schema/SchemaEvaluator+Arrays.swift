/// Array keywords: `prefixItems`, `items`, `contains` (with `minContains`/`maxContains`),
/// `minItems`, `maxItems`, `uniqueItems`.
extension SchemaEvaluator {
    mutating func evaluateArray(_ keywords: SchemaNode.Keywords, _ elements: [JSONValue],
                                _ annotations: inout EvaluatedLocations?) -> Bool {
        var valid = true
        if let minimum = keywords.minItems, elements.count < minimum {
            report("minItems", "must have at least \(minimum) \(Self.items(minimum)), got \(elements.count)")
            valid = false
            if !collecting { return false }
        }
        if let maximum = keywords.maxItems, elements.count > maximum {
            report("maxItems", "must have at most \(maximum) \(Self.items(maximum)), got \(elements.count)")
            valid = false
            if !collecting { return false }
        }
        if keywords.uniqueItems, let (first, second) = Self.firstDuplicate(in: elements) {
            report("uniqueItems", "items must be unique, but item \(second) equals item \(first)")
            valid = false
            if !collecting { return false }
        }

        let prefixCount = min(keywords.prefixItems.count, elements.count)
        for index in 0..<prefixCount {
            let allowed = apply(keywords.prefixItems[index], to: elements[index], at: .index(index),
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
        if let items = keywords.items {
            let allowedCount = keywords.prefixItems.count
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

        if let contains = keywords.contains, !evaluateContains(contains, keywords, elements, &annotations) {
            valid = false
        }
        return valid
    }

    private mutating func evaluateContains(_ contains: SchemaNodeID, _ keywords: SchemaNode.Keywords,
                                           _ elements: [JSONValue], _ annotations: inout EvaluatedLocations?) -> Bool {
        var matches = 0
        for (index, element) in elements.enumerated() {
            var none: EvaluatedLocations? = nil
            guard probe(contains, element, &none) else { continue }
            matches += 1
            annotations?.items.insert(index)
            // Enough is known once the minimum is met, unless an upper bound, annotations or a
            // message still need the full count.
            if annotations == nil, keywords.maxContains == nil, matches >= keywords.minContains { break }
            if let maximum = keywords.maxContains, matches > maximum, !collecting, annotations == nil { return false }
        }
        if matches < keywords.minContains {
            report(keywords.minContains == 1 ? "contains" : "minContains",
                   "must contain at least \(keywords.minContains) \(Self.items(keywords.minContains)) matching the contains schema, got \(matches)")
            return false
        }
        if let maximum = keywords.maxContains, matches > maximum {
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
