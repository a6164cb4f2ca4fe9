import JSON

/// Index of a compiled subschema in `JSONSchema`'s node table. Indices rather than
/// references let recursive `$ref`s point back up the tree without reference cycles.
typealias SchemaNodeID = Int

/// One subschema, compiled: keyword values already checked and converted, regexes built and
/// `$ref`s resolved to node indices, so validation never looks at schema JSON again.
/// A class so that visiting a node costs one retain instead of copying every field.
final class SchemaNode: Sendable {
    /// JSON Pointer of this subschema in the schema document, for error messages.
    let location: String
    /// `true`/`false` for boolean schemas; nil for schema objects.
    let boolean: Bool?
    let keywords: Keywords

    init(location: String, boolean: Bool?, keywords: Keywords) {
        self.location = location
        self.boolean = boolean
        self.keywords = keywords
    }

    /// Every implemented keyword; absent ones keep the value that makes them pass.
    struct Keywords: Sendable {
        // Any instance type.
        var ref: SchemaNodeID?
        var types: JSONTypeSet?
        var enumValues: [JSONValue]?
        var constValue: JSONValue?
        var allOf: [SchemaNodeID] = []
        var anyOf: [SchemaNodeID] = []
        var oneOf: [SchemaNodeID] = []
        var not: SchemaNodeID?
        var ifSchema: SchemaNodeID?
        var thenSchema: SchemaNodeID?
        var elseSchema: SchemaNodeID?

        // Numbers.
        var minimum: Double?
        var maximum: Double?
        var exclusiveMinimum: Double?
        var exclusiveMaximum: Double?
        var multipleOf: SchemaMultipleOf?

        // Strings.
        var minLength: Int?
        var maxLength: Int?
        var pattern: SchemaPattern?

        // Arrays.
        var prefixItems: [SchemaNodeID] = []
        var items: SchemaNodeID?
        var contains: SchemaNodeID?
        /// Meaningful only with `contains`; 2020-12 defaults it to 1.
        var minContains = 1
        var maxContains: Int?
        var minItems: Int?
        var maxItems: Int?
        var uniqueItems = false
        var unevaluatedItems: SchemaNodeID?

        // Objects.
        var properties = SchemaPropertyTable()
        var patternProperties: [(pattern: SchemaPattern, schema: SchemaNodeID)] = []
        var additionalProperties: SchemaNodeID?
        var propertyNames: SchemaNodeID?
        var required: [String] = []
        var dependentRequired: [(property: String, required: [String])] = []
        var dependentSchemas: [(property: String, schema: SchemaNodeID)] = []
        var minProperties: Int?
        var maxProperties: Int?
        var unevaluatedProperties: SchemaNodeID?

        /// Subschemas applied to the same instance location as this one. A loop through
        /// these alone never terminates, so the compiler refuses it.
        var inPlaceApplicators: [SchemaNodeID] {
            var result = allOf + anyOf + oneOf + dependentSchemas.map(\.schema)
            for id in [ref, not, ifSchema, thenSchema, elseSchema] {
                if let id { result.append(id) }
            }
            return result
        }

        /// Every subschema this node applies, in place or to members and items.
        var applicators: [SchemaNodeID] {
            var result = inPlaceApplicators + properties.entries.map(\.schema) + patternProperties.map(\.schema)
                + prefixItems
            for id in [additionalProperties, propertyNames, unevaluatedProperties, items, contains, unevaluatedItems] {
                if let id { result.append(id) }
            }
            return result
        }

        /// Whether this node must know which members and items its neighbours evaluated.
        var needsAnnotations: Bool {
            unevaluatedItems != nil || unevaluatedProperties != nil
        }
    }
}

/// The `type` keyword's set of JSON Schema types.
struct JSONTypeSet: OptionSet, Sendable {
    let rawValue: UInt8

    static let null = JSONTypeSet(rawValue: 1 << 0)
    static let boolean = JSONTypeSet(rawValue: 1 << 1)
    static let object = JSONTypeSet(rawValue: 1 << 2)
    static let array = JSONTypeSet(rawValue: 1 << 3)
    static let number = JSONTypeSet(rawValue: 1 << 4)
    static let string = JSONTypeSet(rawValue: 1 << 5)
    /// A number with an integral value: `1.0` is an integer (2020-12 validation §6.1.1).
    static let integer = JSONTypeSet(rawValue: 1 << 6)

    static let byName: [(name: String, type: JSONTypeSet)] = [
        ("null", .null), ("boolean", .boolean), ("object", .object), ("array", .array),
        ("number", .number), ("string", .string), ("integer", .integer),
    ]

    func admits(_ value: JSONValue) -> Bool {
        switch value {
        case .null: contains(.null)
        case .bool: contains(.boolean)
        case .object: contains(.object)
        case .array: contains(.array)
        case .string: contains(.string)
        case .number: contains(.number) || (contains(.integer) && value.isInteger)
        }
    }

    /// "string or null", in the order of `byName`.
    var description: String {
        let names = Self.byName.filter { contains($0.type) }.map(\.name)
        return names.count <= 2 ? names.joined(separator: " or ")
            : names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
    }
}
