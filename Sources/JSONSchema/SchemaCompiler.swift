import JSON
/// Turns a schema document into the node table `JSONSchema` validates with. Every subschema is
/// compiled exactly once, keyed by its JSON Pointer, so a `$ref` back to an ancestor reuses the
/// ancestor's node index instead of compiling it again (recursive schemas terminate).
struct SchemaCompiler {
    let document: JSONValue
    let index: SchemaResourceIndex
    /// Slots are reserved before a node's keywords compile, so a `$ref` cycle finds its own
    /// target's index; every slot is filled by the time `compile` returns.
    private var nodes: [SchemaNode?] = []
    /// Keyed by code points: `/properties/caf\u{E9}` and `/properties/cafe\u{301}` are two
    /// subschemas, which `String` keys would merge into one.
    private var nodeIDs: [CodePointKey: SchemaNodeID] = [:]
    /// Subschemas being compiled right now, nested; bounded so no schema can exhaust the stack.
    private var depth = 0

    /// The nodes of `document`, with the root's index.
    static func compile(_ document: JSONValue) throws(SchemaError) -> (nodes: [SchemaNode], root: SchemaNodeID) {
        try compile(document, at: "")
    }

    /// The nodes of the subschema at `pointer` in `document` (the root when `pointer` is
    /// empty), with that subschema's index.
    static func compile(_ document: JSONValue, at pointer: String) throws(SchemaError) -> (nodes: [SchemaNode], root: SchemaNodeID) {
        guard let tokens = JSONPointer.tokens(of: pointer), let schema = document.value(at: tokens) else {
            throw SchemaError(.unresolvableReference(pointer, detail: "nothing at \(pointer)"), at: pointer)
        }
        // The dialect first: under another draft's rules, every later complaint would mislead.
        if let dialect = schema["$schema"] {
            try checkDialect(dialect, at: pointer)
        }
        let index = try SchemaResourceIndex(document: document, schemaAt: pointer)
        var compiler = SchemaCompiler(document: document, index: index)
        let root = try compiler.compileSubschema(schema, at: pointer)
        // Every reserved slot was filled, or compileSubschema threw; compactMap cannot drop one
        // and shift the indices that $refs hold.
        let nodes = compiler.nodes.compactMap { $0 }
        assert(nodes.count == compiler.nodes.count, "a reserved schema node was never compiled")
        let inPlaceOrder = try SchemaCycleCheck.verify(nodes)
        try SchemaEvaluationBound.verify(nodes, root: root, inPlaceOrder: inPlaceOrder)
        return (nodes, root)
    }

    /// `$schema` must name draft 2020-12: other drafts give the same keywords other meanings
    /// (`items` as an array, `dependencies`), and validating by the wrong rules is worse than
    /// refusing.
    static func checkDialect(_ dialect: JSONValue, at pointer: String) throws(SchemaError) {
        guard case .string(let uri) = dialect else {
            throw SchemaError(.invalidValue(keyword: "$schema", expected: "a URI string",
                                            found: SchemaMessageFormat.typed(dialect)), at: pointer)
        }
        guard SchemaKeyword.dialects.contains(uri) else {
            throw SchemaError(.unsupportedDialect(uri), at: pointer)
        }
    }

    private init(document: JSONValue, index: SchemaResourceIndex) {
        self.document = document
        self.index = index
    }

    /// Compiles the subschema `value` found at `pointer`, once.
    mutating func compileSubschema(_ value: JSONValue, at pointer: String) throws(SchemaError) -> SchemaNodeID {
        if let id = nodeIDs[CodePointKey(pointer)] { return id }
        guard depth < JSONSchema.maximumSchemaDepth else {
            throw SchemaError(.tooDeep(limit: JSONSchema.maximumSchemaDepth), at: pointer)
        }
        depth += 1
        defer { depth -= 1 }
        let id = nodes.count
        nodes.append(nil)
        nodeIDs[CodePointKey(pointer)] = id
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
        guard let resourcePointer = index.resource(documentURI) else {
            throw SchemaError(.remoteReference(target.text), at: pointer)
        }
        let fragment = target.fragment ?? ""
        let targetPointer: String
        if fragment.isEmpty {
            targetPointer = resourcePointer
        } else if fragment.unicodeScalars.first == "/" {
            // The fragment is URI-encoded first and a JSON Pointer second (RFC 6901 §6).
            guard let decoded = SchemaURI.percentDecoded(fragment), JSONPointer.tokens(of: decoded) != nil else {
                throw SchemaError(.unresolvableReference(reference, detail: "malformed JSON Pointer fragment"), at: pointer)
            }
            targetPointer = resourcePointer + decoded
        } else {
            guard let name = SchemaURI.percentDecoded(fragment), let anchored = index.anchor(documentURI + "#" + name) else {
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
