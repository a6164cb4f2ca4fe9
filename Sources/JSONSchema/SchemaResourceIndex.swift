import JSON
/// Where every `$id` and `$anchor` of a schema document lives, found in one pass before
/// anything is compiled: a `$ref` may name a resource declared anywhere, including after it
/// or inside a subschema nobody else references (2020-12 core §8.2, §9.2).
struct SchemaResourceIndex {
    // Every table is keyed by code points (`CodePointKey`): `$id`s and pointers that differ
    // only in Unicode normalisation name different resources and subschemas.

    /// Absolute URI (no fragment) of each schema resource → JSON Pointer of its root.
    private var resources: [CodePointKey: String] = [:]
    /// `uri#anchor` → JSON Pointer of the subschema carrying the `$anchor`.
    private var anchors: [CodePointKey: String] = [:]
    /// JSON Pointer of each subschema → its base URI (that of the nearest enclosing `$id`).
    private var baseURIs: [CodePointKey: SchemaURI] = [:]

    /// A schema without a root `$id` has this empty base, so `#/$defs/x` resolves to a
    /// reference with an empty document part, which is the root.
    static let defaultBase = SchemaURI(parsing: "")

    init(root: JSONValue) throws(SchemaError) {
        try scan(root, at: "", base: Self.defaultBase, depth: 0)
    }

    /// The index for the subschema at `pointer` inside `document`. Only that subschema is
    /// scanned (the rest of the document need not be a schema), and the document itself is
    /// the resource of the default base, so `#/…` fragments point into the whole document.
    init(document: JSONValue, schemaAt pointer: String) throws(SchemaError) {
        guard !pointer.isEmpty else {
            try scan(document, at: "", base: Self.defaultBase, depth: 0)
            return
        }
        guard let tokens = JSONPointer.tokens(of: pointer), let schema = document.value(at: tokens) else {
            throw SchemaError(.unresolvableReference(pointer, detail: "nothing at \(pointer)"), at: pointer)
        }
        resources[CodePointKey(Self.defaultBase.text)] = ""
        try scan(schema, at: pointer, base: Self.defaultBase, depth: 0)
    }

    /// JSON Pointer of the resource whose absolute URI (no fragment) is `uri`.
    func resource(_ uri: String) -> String? {
        resources[CodePointKey(uri)]
    }

    /// JSON Pointer of the subschema whose `$anchor` is named by `uriAndAnchor` (`uri#name`).
    func anchor(_ uriAndAnchor: String) -> String? {
        anchors[CodePointKey(uriAndAnchor)]
    }

    /// The base URI for a subschema at `pointer`. A `$ref` may point at a location that is
    /// not a subschema position (say into `examples`); it inherits the nearest scanned parent.
    func baseURI(for pointer: String) -> SchemaURI {
        // Unicode scalars, not Characters: a token starting with a combining mark makes the
        // `/` before it part of one Character, which `lastIndex(of: "/")` would step over.
        var current = Substring(pointer).unicodeScalars
        while true {
            if let base = baseURIs[CodePointKey(String(Substring(current)))] { return base }
            guard let slash = current.lastIndex(of: "/") else { return Self.defaultBase }
            current = current[..<slash]
        }
    }

    private mutating func scan(_ schema: JSONValue, at pointer: String, base: SchemaURI, depth: Int) throws(SchemaError) {
        guard depth < JSONSchema.maximumSchemaDepth else {
            throw SchemaError(.tooDeep(limit: JSONSchema.maximumSchemaDepth), at: pointer)
        }
        guard case .object(let members) = schema else {
            baseURIs[CodePointKey(pointer)] = base
            return
        }
        var base = base
        if let id = schema["$id"] {
            guard case .string(let text) = id else {
                throw SchemaError(.invalidValue(keyword: "$id", expected: "a URI reference string",
                                                found: SchemaMessageFormat.typed(id)), at: pointer)
            }
            let resolved = SchemaURI(parsing: text).resolved(against: base)
            // 2020-12 core §8.2.1: an `$id` may end in an empty fragment but never names one.
            if let fragment = resolved.fragment, !fragment.isEmpty {
                throw SchemaError(.invalidValue(keyword: "$id", expected: "a URI without a fragment (use $anchor)",
                                                found: SchemaMessageFormat.quote(text)), at: pointer)
            }
            base = resolved.withoutFragment
            try register(base.text, at: pointer, in: &resources)
        }
        if pointer.isEmpty && resources.isEmpty {
            resources[CodePointKey(base.text)] = pointer
        }
        if let anchor = schema["$anchor"] {
            guard case .string(let name) = anchor, Self.isAnchorName(name) else {
                throw SchemaError(.invalidValue(keyword: "$anchor", expected: "a name matching ^[A-Za-z_][-A-Za-z0-9._]*$",
                                                found: SchemaMessageFormat.typed(anchor)), at: pointer)
            }
            try register(base.text + "#" + name, at: pointer, in: &anchors)
        }
        baseURIs[CodePointKey(pointer)] = base

        // Only subschema positions: an `$id` inside `enum` or `const` is data, not a resource.
        for (keyword, value) in members {
            let location = JSONPointer.appending(keyword, to: pointer)
            if SchemaKeyword.subschema.contains(keyword) {
                try scan(value, at: location, base: base, depth: depth + 1)
            } else if SchemaKeyword.subschemaArray.contains(keyword), case .array(let elements) = value {
                for (offset, element) in elements.enumerated() {
                    try scan(element, at: location + "/" + String(offset), base: base, depth: depth + 1)
                }
            } else if SchemaKeyword.subschemaMap.contains(keyword), case .object(let entries) = value {
                for entry in entries {
                    try scan(entry.value, at: JSONPointer.appending(entry.key, to: location), base: base, depth: depth + 1)
                }
            }
        }
    }

    private func register(_ uri: String, at pointer: String, in table: inout [CodePointKey: String]) throws(SchemaError) {
        if let existing = table[CodePointKey(uri)], !existing.isCodePointEqual(to: pointer) {
            throw SchemaError(.duplicateIdentifier(uri), at: pointer)
        }
        table[CodePointKey(uri)] = pointer
    }

    /// 2020-12 core §8.2.2: an XML NCName-like plain name.
    private static func isAnchorName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isLetterOrUnderscore else { return false }
        return name.unicodeScalars.dropFirst().allSatisfy {
            $0.isLetterOrUnderscore || ("0"..."9").contains($0) || $0 == "-" || $0 == "."
        }
    }
}

private extension Unicode.Scalar {
    var isLetterOrUnderscore: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_" }
}
