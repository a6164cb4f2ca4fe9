/// Which subscriptions an event type may go to, without looking at every subscription: exact
/// patterns (`order.created`) in a hash map, wildcard patterns in a trie of segments. The
/// cost of routing an event grows with the subscriptions its type matches and the length of
/// the type, not with the number of subscriptions (a webhook sender with one endpoint per
/// customer has thousands). Kept up to date by the fold as subscriptions change; filters and
/// the disabled state are checked by the caller, on the matches only.
struct SubscriptionRoutes: Sendable, Equatable {
    /// A trie node: one per distinct prefix of the wildcard patterns registered.
    struct Node: Sendable, Equatable {
        var literal: [String: Int] = [:]
        /// The child for a `*` in a middle segment: exactly one segment.
        var wildcard: Int?
        /// Patterns that end here.
        var endsHere: Set<String> = []
        /// Patterns whose trailing `*` sits here: one or more further segments.
        var oneOrMoreMore: Set<String> = []
    }

    private var exact: [String: Set<String>] = [:]
    /// `nodes[0]` is the root. Removing a pattern leaves its nodes in place (emptied, they
    /// match nothing); once most nodes are such leftovers the trie is rebuilt.
    private var nodes: [Node] = [Node()]
    /// The patterns each subscription is indexed under, to take it out again.
    private var indexed: [String: [EventTypePattern]] = [:]
    /// Segments of the wildcard patterns indexed now: what the trie needs at most.
    private var wildcardSegments = 0

    var isEmpty: Bool { indexed.isEmpty }

    /// Equal when they route alike: the same patterns per subscription, however the trie
    /// got its shape.
    static func == (lhs: SubscriptionRoutes, rhs: SubscriptionRoutes) -> Bool {
        lhs.indexed == rhs.indexed
    }

    /// Indexes `id` under `patterns`, replacing what it was indexed under before.
    mutating func set(_ id: String, patterns: [EventTypePattern]) {
        remove(id)
        indexed[id] = patterns
        for pattern in patterns { update(id, pattern, insert: true) }
    }

    mutating func remove(_ id: String) {
        guard let patterns = indexed.removeValue(forKey: id) else { return }
        for pattern in patterns { update(id, pattern, insert: false) }
        if nodes.count > 64 && nodes.count > 4 * (wildcardSegments + 1) { rebuildTrie() }
    }

    private mutating func rebuildTrie() {
        nodes = [Node()]
        wildcardSegments = 0
        for (id, patterns) in indexed {
            for pattern in patterns where pattern.segments.contains(.wildcard) { update(id, pattern, insert: true) }
        }
    }

    private mutating func update(_ id: String, _ pattern: EventTypePattern, insert: Bool) {
        if !pattern.segments.contains(.wildcard) {
            if insert {
                exact[pattern.text, default: []].insert(id)
            } else if exact[pattern.text]?.remove(id) != nil, exact[pattern.text]?.isEmpty == true {
                exact[pattern.text] = nil
            }
            return
        }
        wildcardSegments += insert ? pattern.segments.count : -pattern.segments.count
        var node = 0
        for (position, segment) in pattern.segments.enumerated() {
            let last = position == pattern.segments.count - 1
            switch segment {
            case .wildcard where last:
                if insert { nodes[node].oneOrMoreMore.insert(id) } else { nodes[node].oneOrMoreMore.remove(id) }
                return
            case .wildcard:
                node = child(of: node, wildcard: true, literal: "")
            case .literal(let text):
                node = child(of: node, wildcard: false, literal: String(text))
            }
        }
        if insert { nodes[node].endsHere.insert(id) } else { nodes[node].endsHere.remove(id) }
    }

    private mutating func child(of node: Int, wildcard: Bool, literal: String) -> Int {
        if let existing = wildcard ? nodes[node].wildcard : nodes[node].literal[literal] { return existing }
        nodes.append(Node())
        let created = nodes.count - 1
        if wildcard { nodes[node].wildcard = created } else { nodes[node].literal[literal] = created }
        return created
    }

    /// The subscriptions with a pattern matching `type` (each once, in no particular order).
    func matches(_ type: String) -> [String] {
        var found = exact[type] ?? []
        if nodes.count > 1 || !nodes[0].oneOrMoreMore.isEmpty {
            var frontier = [0]
            var next: [Int] = []
            for segment in type.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
                next.removeAll(keepingCapacity: true)
                let name = String(Substring(segment))
                for node in frontier {
                    // This segment and possibly more remain: trailing wildcards here match.
                    found.formUnion(nodes[node].oneOrMoreMore)
                    if let literal = nodes[node].literal[name] { next.append(literal) }
                    if let wildcard = nodes[node].wildcard { next.append(wildcard) }
                }
                swap(&frontier, &next)
                if frontier.isEmpty { break }
            }
            for node in frontier { found.formUnion(nodes[node].endsHere) }
        }
        return Array(found)
    }
}
