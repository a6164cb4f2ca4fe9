/// Turns a schema document into the node table `JSONSchema` validates with. Every subschema is
/// compiled exactly once, keyed by its JSON Pointer, so a `$ref` back to an ancestor reuses the
/// ancestor's node index instead of compiling it again (recursive schemas terminate).
struct SchemaCompiler {
    let document: JSONValue
    let index: SchemaResourceIndex
    /// Slots are reserved before a node's keywords compile, so a `$ref` cycle finds its own
    /// target's index; every slot is filled by the time `compile` returns.
    private var nodes: [SchemaNode?] = []
    private var nodeIDs: [String: SchemaNodeID] = [:]

    /// The nodes of `document`, with the root's index.
    static func compile(_ document: JSONValue) throws(SchemaError) -> (nodes: [SchemaNode], root: SchemaNodeID) {
        if case .object = document, let dialect = document["$schema"] {
            guard case .string(let uri) = dialect, SchemaKeyword.dialects.contains(uri) else {
                throw SchemaError(.unsupportedDialect(SchemaMessageFormat.quote(dialect)), at: "")
            }
        }
        var compiler = SchemaCompiler(document: document, index: try SchemaResourceIndex(root: document))
        let root = try compiler.compileSubschema(document, at: "")
        let nodes = compiler.nodes.compactMap { $0 }
        try SchemaCycleCheck.verify(nodes)
        return (nodes, root)
    }

    private init(document: JSONValue, index: SchemaResourceIndex) {
        self.document = document
        self.index = index
    }

    /// Compiles the subschema `value` found at `pointer`, once.
    mutating func compileSubschema(_ value: JSONValue, at pointer: String) throws(SchemaError) -> SchemaNodeID {
        if let id = nodeIDs[pointer] { return id }
        let id = nodes.count
        nodes.append(nil)
        nodeIDs[pointer] = id
        switch value {
        case .bool(let flag):
            nodes[id] = SchemaNode(location: pointer, boolean: flag, keywords: .init())
        case .object(let members):
            let keywords = try compileKeywords(members, at: pointer)
            nodes[id] = SchemaNode(location: pointer, boolean: nil, keywords: keywords)
        default:
            throw SchemaError(.notASchema(found: SchemaMessageFormat.typed(value)), at: pointer)
        }
        return id
    }

    /// Resolves `reference` (a `$ref` in the subschema at `pointer`) to a node, compiling the
    /// target if nothing has yet.
    mutating func resolveReference(_ reference: String, from pointer: String) throws(SchemaError) -> SchemaNodeID {
        let target = SchemaURI(parsing: reference).resolved(against: index.baseURI(for: pointer))
        let documentURI = target.withoutFragment.text
        guard let resourcePointer = index.resources[documentURI] else {
            throw SchemaError(.remoteReference(target.text), at: pointer)
        }
        let fragment = target.fragment ?? ""
        let targetPointer: String
        if fragment.isEmpty {
            targetPointer = resourcePointer
        } else if fragment.hasPrefix("/") {
            // The fragment is URI-encoded first and a JSON Pointer second (RFC 6901 §6).
            guard let decoded = SchemaURI.percentDecoded(fragment), JSONPointer.tokens(of: decoded) != nil else {
                throw SchemaError(.unresolvableReference(reference, detail: "malformed JSON Pointer fragment"), at: pointer)
            }
            targetPointer = resourcePointer + decoded
        } else {
            guard let name = SchemaURI.percentDecoded(fragment), let anchored = index.anchors[documentURI + "#" + name] else {
                throw SchemaError(.unresolvableReference(reference, detail: "no $anchor \"\(fragment)\" in \"\(documentURI)\""),
                                  at: pointer)
            }
            targetPointer = anchored
        }
        guard let tokens = JSONPointer.tokens(of: targetPointer), let value = document.value(at: tokens) else {
            throw SchemaError(.unresolvableReference(reference, detail: "nothing at \(targetPointer)"), at: pointer)
        }
        return try compileSubschema(value, at: targetPointer)
    }
}

extension JSONValue {
    /// The value reached by following unescaped JSON Pointer `tokens` (RFC 6901 §4).
    func value(at tokens: [String]) -> JSONValue? {
        var current = self
        for token in tokens {
            switch current {
            case .object:
                guard let member = current[token] else { return nil }
                current = member
            case .array(let elements):
                guard let index = JSONPointer.arrayIndex(token), index < elements.count else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }
}

/// Refuses schemas whose in-place applicators (`$ref`, `allOf`, `not`, ...) loop back to
/// themselves without stepping into a property or item: evaluating one would recurse on
/// the same instance forever. Loops through `properties`/`items` are fine (they terminate
/// with the instance), which is what makes recursive schemas useful.
enum SchemaCycleCheck {
    static func verify(_ nodes: [SchemaNode]) throws(SchemaError) {
        // 0 unvisited, 1 on the current path, 2 finished.
        var state = [UInt8](repeating: 0, count: nodes.count)
        var path: [SchemaNodeID] = []
        for start in nodes.indices where state[start] == 0 {
            if let cycle = visit(start, nodes, &state, &path) {
                throw SchemaError(.referenceCycle(cycle.map { nodes[$0].location }), at: nodes[cycle[0]].location)
            }
        }
    }

    private static func visit(_ id: SchemaNodeID, _ nodes: [SchemaNode], _ state: inout [UInt8],
                              _ path: inout [SchemaNodeID]) -> [SchemaNodeID]? {
        state[id] = 1
        path.append(id)
        for next in nodes[id].keywords.inPlaceApplicators {
            if state[next] == 1, let start = path.firstIndex(of: next) {
                return Array(path[start...]) + [next]
            }
            if state[next] == 0, let cycle = visit(next, nodes, &state, &path) {
                return cycle
            }
        }
        path.removeLast()
        state[id] = 2
        return nil
    }
}
