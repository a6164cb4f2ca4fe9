import JSON
/// Refuses schemas whose validation work cannot be bounded. The node table shares every
/// subschema, so a small schema can reach one subschema along exponentially many paths:
/// `$defs` level k = `{"allOf": [{"$ref": "#/$defs/a(k+1)"}, {"$ref": "#/$defs/a(k+1)"}]}`
/// compiles 40 levels in a millisecond, passes `SchemaCycleCheck` (no loop, short chains),
/// and then evaluates 2⁴⁰ subschemas for every event. Child-location applicators build the
/// same blow-up one instance level at a time (`allOf` of two `properties` that both send
/// member `a` to the next level, against a deeply nested instance).
///
/// So before any instance is seen, the compiler counts how many subschema evaluations one
/// evaluation of the root can cause at a single instance location d levels down, for every d
/// up to `JSONSchema.maximumEvaluationDepth` (no evaluation reaches deeper). An instance with
/// n locations (its values, plus its member names for `propertyNames`) then costs at most n
/// times the largest count, and `JSONSchema.maximumEvaluationsPerLocation` caps that count.
///
/// The counts are upper bounds, from a dynamic programme over (node, depth) on the applicator
/// graph, saturating instead of overflowing:
/// - at depth 0, a node counts itself;
/// - same-location applicators (`$ref`, `allOf`, `anyOf`, `oneOf`, `not`, `if`,
///   `dependentSchemas`) may all run, so their counts add; `then` and `else` exclude each
///   other, so only the larger counts (2020-12 core §10.2.2);
/// - child-location applicators add one level, and which of them apply depends on the child:
///   a member matches at most one `properties` name, any number of `patternProperties`, and
///   `additionalProperties` only when nothing else matched (2020-12 core §10.3.2); an item
///   gets `prefixItems` at its index or else `items` (§10.3.1), plus `contains`;
///   `unevaluated*` may add to either (§11). A member's name is a location of its own, which
///   `propertyNames` evaluates — twice when a failure's reasons are collected
///   (`SchemaEvaluator.messages`).
/// So below depth 0 a node's count is kept per class of the first step down — each name that
/// some `properties` spells out (by code points), any other name, each `prefixItems` position,
/// any later position, a member's name — and summed over same-location applicators class by
/// class: a child is in one class only, so the largest class is the node's count. That keeps
/// recursive schemas acceptable: a tree whose `left` and `right` both refer to the tree has
/// 2^d paths d levels down, but each lands on a different location; the "any JSON value"
/// schema (`anyOf` of an `items` branch and an `additionalProperties` branch, both recursing)
/// sends a child down one branch only, as a member or as an item.
///
/// The bound stays conservative in two ways, both refusing a schema only when it is deep
/// enough to pass the limit: every `patternProperties` entry is assumed to match every name
/// (unanchored regexes often overlap), and classes are told apart one level down only, so
/// two same-location branches that both apply to member `x` and then recurse through
/// different names below it are counted as if one deeper member met both. Several `oneOf`
/// branches that each recurse through the same member (say `children`) are not counted
/// conservatively: validation really does evaluate that member once per branch, at every level.
enum SchemaEvaluationBound {
    /// Throws `unboundedEvaluation` unless every instance location costs at most
    /// `JSONSchema.maximumEvaluationsPerLocation` evaluations. `inPlaceOrder` lists the nodes
    /// with every node after its in-place successors (`SchemaCycleCheck.verify` found no loop
    /// among those, so the order exists).
    static func verify(_ nodes: [SchemaNode], root: SchemaNodeID, inPlaceOrder: [SchemaNodeID]) throws(SchemaError) {
        let limit = JSONSchema.maximumEvaluationsPerLocation
        // Subschemas the root cannot reach (unreferenced `$defs`) are never evaluated; leaving
        // them out also lets the counts settle sooner below.
        let reachable = reachableNodes(from: root, nodes)
        let order = inPlaceOrder.filter { reachable[$0] }
        var nameClasses: [CodePointKey: Int] = [:]
        var fanouts = [Fanout?](repeating: nil, count: nodes.count)
        for id in order {
            fanouts[id] = Fanout(nodes[id], nameClasses: &nameClasses)
        }

        // levelAbove[id]: evaluations that one evaluation of `id` causes at one location
        // depth - 1 levels below its own; current[id]: the same, depth levels below; classes
        // holds the current level's counts per class of child (depth ≥ 1).
        var levelAbove = [Int](repeating: 0, count: nodes.count)
        var current = levelAbove
        var classes = [ChildCounts](repeating: ChildCounts(), count: nodes.count)
        // The nodes still counting something at this depth, in `order`. A node with nothing d
        // levels down has nothing deeper either (every deeper path passes through depth d),
        // so the list only shrinks, and deep levels cost only the recursive part of a schema.
        var live = order
        // Brent's cycle detection over the levels: a level seen before, from depth 1 on.
        var checkpoint: [Int] = []
        var stepsSinceCheckpoint = 0
        var checkpointInterval = 1
        for depth in 0...JSONSchema.maximumEvaluationDepth {
            for id in live {
                guard let fanout = fanouts[id] else { continue }
                if depth == 0 {
                    current[id] = fanout.evaluationsInPlace(current)
                } else {
                    let counts = fanout.evaluations(atDepth: depth, sameLevel: classes, sameLevelTotals: current,
                                                    levelAbove: levelAbove)
                    current[id] = counts.maximum
                    classes[id] = counts
                }
            }
            if current[root] > limit {
                let culprit = lowestOverLimit(from: root, fanouts, current, limit: limit)
                throw SchemaError(.unboundedEvaluation(evaluations: current[root], instanceDepth: depth, limit: limit),
                                  at: nodes[culprit].location)
            }
            // No evaluation reaches this deep, so none reaches deeper: a path to a deeper
            // location passes through this level.
            if current[root] == 0 { return }
            // Every level from depth 2 on is the same function of the counts one level up, so
            // once a level repeats an earlier one (depth 1 or later), the levels between them
            // repeat forever, and all of those passed the check above. Recursive schemas end
            // here: a tree settles into one level repeated, mutual recursion into a cycle of a
            // few (the suite's ref.json has one of three). Brent's method finds any cycle
            // within a few times its length with a single stored level.
            if depth >= 1 {
                // Dropped nodes are never computed again, so both buffers must read 0 for them.
                live.removeAll { id in
                    guard current[id] == 0 else { return false }
                    levelAbove[id] = 0
                    classes[id] = ChildCounts()
                    return true
                }
                // Levels are compared on the live nodes; the list only shrinks, so two lists
                // of one length hold the same nodes.
                let level = live.map { current[$0] }
                if level == checkpoint { return }
                stepsSinceCheckpoint += 1
                if depth == 1 || stepsSinceCheckpoint == checkpointInterval {
                    checkpoint = level
                    checkpointInterval = depth == 1 ? 1 : checkpointInterval * 2
                    stepsSinceCheckpoint = 0
                }
            }
            swap(&levelAbove, &current)
        }
    }

    /// The node to blame: from the root, down same-location applicators while one of them
    /// alone is still over the limit. For the doubling chain that is the level where the count
    /// first passes the limit, rather than the root that only references it.
    private static func lowestOverLimit(from root: SchemaNodeID, _ fanouts: [Fanout?], _ counts: [Int], limit: Int)
        -> SchemaNodeID
    {
        var node = root
        while let fanout = fanouts[node],
              let next = (fanout.inPlace + fanout.exclusive).max(by: { counts[$0] < counts[$1] }),
              counts[next] > limit {
            node = next
        }
        return node
    }

    private static func reachableNodes(from root: SchemaNodeID, _ nodes: [SchemaNode]) -> [Bool] {
        var reachable = [Bool](repeating: false, count: nodes.count)
        reachable[root] = true
        var pending = [root]
        while let id = pending.popLast() {
            for next in nodes[id].keywords.applicators where !reachable[next] {
                reachable[next] = true
                pending.append(next)
            }
        }
        return reachable
    }

    /// One node's applicators, grouped by how their counts combine (see the type's comment).
    private struct Fanout {
        /// Same location, all of them may run.
        var inPlace: [SchemaNodeID] = []
        /// Same location, at most one runs: `then`, `else`.
        var exclusive: [SchemaNodeID] = []
        /// `properties`, by name class (ascending): a member matches at most one of them.
        var named: [(name: Int, schema: SchemaNodeID)] = []
        /// `patternProperties`: any number may match any member.
        var patterned: [SchemaNodeID] = []
        /// `additionalProperties`: only members nothing above matched.
        var additional: SchemaNodeID?
        /// `unevaluatedProperties`: any member, on top of the others.
        var memberExtra: SchemaNodeID?
        /// `prefixItems`, by position.
        var prefix: [SchemaNodeID] = []
        /// `items`: every position after `prefix`.
        var items: SchemaNodeID?
        /// `contains` and `unevaluatedItems`: any item, on top of the others.
        var itemExtra: [SchemaNodeID] = []
        /// `propertyNames`, applied to each member's name.
        var names: SchemaNodeID?

        init(_ node: SchemaNode, nameClasses: inout [CodePointKey: Int]) {
            let keywords = node.keywords
            inPlace = keywords.allOf + keywords.anyOf + keywords.oneOf + keywords.dependentSchemas.map(\.schema)
            for id in [keywords.ref, keywords.not, keywords.ifSchema] {
                if let id { inPlace.append(id) }
            }
            for id in [keywords.thenSchema, keywords.elseSchema] {
                if let id { exclusive.append(id) }
            }
            for entry in keywords.properties.entries {
                let key = CodePointKey(entry.name)
                let name = nameClasses[key] ?? nameClasses.count
                nameClasses[key] = name
                named.append((name, entry.schema))
            }
            named.sort { $0.name < $1.name }
            patterned = keywords.patternProperties.map(\.schema)
            additional = keywords.additionalProperties
            memberExtra = keywords.unevaluatedProperties
            prefix = keywords.prefixItems
            items = keywords.items
            for id in [keywords.contains, keywords.unevaluatedItems] {
                if let id { itemExtra.append(id) }
            }
            names = keywords.propertyNames
        }

        /// Evaluations at the node's own location: itself and its same-location applicators,
        /// whose counts (`sameLevel`) are already known.
        func evaluationsInPlace(_ sameLevel: [Int]) -> Int {
            var total = 1
            for id in inPlace {
                total = sum(total, sameLevel[id])
            }
            return sum(total, exclusive.lazy.map { sameLevel[$0] }.max() ?? 0)
        }

        /// Evaluations per class of child at `depth` ≥ 1 levels below the node, given the
        /// same for its same-location applicators (`sameLevel`, already computed, with their
        /// largest class in `sameLevelTotals`) and the count of every node one level up
        /// (`levelAbove`).
        func evaluations(atDepth depth: Int, sameLevel: [ChildCounts], sameLevelTotals: [Int],
                         levelAbove: [Int]) -> ChildCounts {
            var counts = ChildCounts()
            if !named.isEmpty || !patterned.isEmpty || additional != nil || memberExtra != nil {
                let patterns = patterned.reduce(0) { sum($0, levelAbove[$1]) }
                let extra = memberExtra.map { levelAbove[$0] } ?? 0
                var members: [(name: Int, count: Int)] = []
                members.reserveCapacity(named.count)
                for entry in named {
                    // Duplicate names (possible only in a hand-built JSONValue) both apply.
                    let count = sum(sum(levelAbove[entry.schema], patterns), extra)
                    if let last = members.last, last.name == entry.name {
                        members[members.count - 1].count = sum(last.count, count)
                    } else {
                        members.append((entry.name, count))
                    }
                }
                counts.members = members
                counts.otherMembers = sum(max(patterns, additional.map { levelAbove[$0] } ?? 0), extra)
            }
            if !prefix.isEmpty || items != nil || !itemExtra.isEmpty {
                let extra = itemExtra.reduce(0) { sum($0, levelAbove[$1]) }
                counts.items = prefix.map { sum(levelAbove[$0], extra) }
                counts.otherItems = sum(items.map { levelAbove[$0] } ?? 0, extra)
            }
            // A name is a string: it has no children, so it exists one level down only.
            if depth == 1, let names {
                counts.names = sum(levelAbove[names], levelAbove[names])
            }
            for id in inPlace where sameLevelTotals[id] != 0 {
                counts = counts.combined(with: sameLevel[id], by: sum)
            }
            if exclusive.contains(where: { sameLevelTotals[$0] != 0 }) {
                let branch = exclusive.dropFirst().reduce(sameLevel[exclusive[0]]) { $0.combined(with: sameLevel[$1], by: max) }
                counts = counts.combined(with: branch, by: sum)
            }
            return counts
        }
    }

    /// Evaluations at one child location, by the class of the step down to it. A class not
    /// listed counts the class's "other" value: a name no `properties` here spells, a position
    /// past every `prefixItems` here.
    fileprivate struct ChildCounts {
        /// By name class, ascending.
        var members: [(name: Int, count: Int)] = []
        var otherMembers = 0
        /// By position.
        var items: [Int] = []
        var otherItems = 0
        /// At a member's name (`propertyNames`).
        var names = 0

        /// The most any one child location costs.
        var maximum: Int {
            var result = max(otherMembers, otherItems, names)
            for member in members {
                result = max(result, member.count)
            }
            for item in items {
                result = max(result, item)
            }
            return result
        }

        /// Class by class: `sum` for applicators that both run, `max` for alternatives.
        func combined(with other: ChildCounts, by combine: (Int, Int) -> Int) -> ChildCounts {
            var result = ChildCounts()
            result.otherMembers = combine(otherMembers, other.otherMembers)
            result.otherItems = combine(otherItems, other.otherItems)
            result.names = combine(names, other.names)
            // Merge the two ascending name lists; a name one side lacks gets its "other".
            result.members.reserveCapacity(max(members.count, other.members.count))
            var left = 0
            var right = 0
            while left < members.count || right < other.members.count {
                if right == other.members.count || (left < members.count && members[left].name < other.members[right].name) {
                    result.members.append((members[left].name, combine(members[left].count, other.otherMembers)))
                    left += 1
                } else if left == members.count || other.members[right].name < members[left].name {
                    result.members.append((other.members[right].name, combine(otherMembers, other.members[right].count)))
                    right += 1
                } else {
                    result.members.append((members[left].name, combine(members[left].count, other.members[right].count)))
                    left += 1
                    right += 1
                }
            }
            let positions = max(items.count, other.items.count)
            result.items.reserveCapacity(positions)
            for position in 0..<positions {
                let a = position < items.count ? items[position] : otherItems
                let b = position < other.items.count ? other.items[position] : other.otherItems
                result.items.append(combine(a, b))
            }
            return result
        }
    }
}

/// Addition that sticks at `Int.max`: 2⁶⁴ paths are as refused as 2⁶³.
private func sum(_ a: Int, _ b: Int) -> Int {
    let (result, overflow) = a.addingReportingOverflow(b)
    return overflow ? .max : result
}
