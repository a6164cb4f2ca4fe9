import JSON
/// Refuses schemas whose in-place applicators (`$ref`, `allOf`, `not`, ...) loop back to
/// themselves without stepping into a property or item: evaluating one would recurse on the
/// same instance forever. Loops through `properties`/`items` are fine (they end with the
/// instance), which is what makes recursive schemas useful.
///
/// The same walk bounds the longest loop-free chain of in-place applicators, which
/// validation would otherwise follow as deep recursion on every instance.
enum SchemaCycleCheck {
    /// Depth-first search with an explicit stack: a chain of thousands of `$ref`s must not
    /// overflow the real one. Returns every node in the order the search finished them, which
    /// puts each node after all of its in-place successors (`SchemaEvaluationBound` counts in
    /// that order).
    static func verify(_ nodes: [SchemaNode]) throws(SchemaError) -> [SchemaNodeID] {
        let edges = nodes.map(\.keywords.inPlaceApplicators)
        enum Mark { case unvisited, onPath, done }
        var marks = [Mark](repeating: .unvisited, count: nodes.count)
        // Longest in-place chain starting at each finished node, itself included.
        var heights = [Int](repeating: 0, count: nodes.count)
        // Each frame: a node on the current path and how many of its edges were followed.
        var stack: [(node: SchemaNodeID, followed: Int)] = []
        var finished: [SchemaNodeID] = []
        finished.reserveCapacity(nodes.count)
        for start in nodes.indices where marks[start] == .unvisited {
            marks[start] = .onPath
            stack.append((start, 0))
            while let top = stack.last {
                guard top.followed < edges[top.node].count else {
                    // Every successor is done by now: one still on the path would be a loop.
                    let height = 1 + (edges[top.node].lazy.map { heights[$0] }.max() ?? 0)
                    guard height <= JSONSchema.maximumSchemaDepth else {
                        throw SchemaError(.tooDeep(limit: JSONSchema.maximumSchemaDepth), at: nodes[top.node].location)
                    }
                    heights[top.node] = height
                    marks[top.node] = .done
                    finished.append(top.node)
                    stack.removeLast()
                    continue
                }
                stack[stack.count - 1].followed += 1
                let next = edges[top.node][top.followed]
                switch marks[next] {
                case .unvisited:
                    marks[next] = .onPath
                    stack.append((next, 0))
                case .onPath:
                    let loop = stack.drop { $0.node != next }.map(\.node) + [next]
                    throw SchemaError(.referenceCycle(loop.map { nodes[$0].location }), at: nodes[next].location)
                case .done:
                    break
                }
            }
        }
        return finished
    }
}
