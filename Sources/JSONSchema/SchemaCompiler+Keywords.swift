import JSON

/// Checking and converting each keyword's value. Every malformed value is refused with the
/// keyword and its location: a schema that says `"minimum": "5"` was meant to constrain
/// something, and validating as if it were absent would hide the mistake.
extension SchemaCompiler {
    mutating func compileKeywords(_ members: [(key: String, value: JSONValue)], at pointer: String)
        throws(SchemaError) -> SchemaNode.Keywords
    {
        var keywords = SchemaNode.Keywords()
        for (keyword, value) in members {
            let location = JSONPointer.appending(keyword, to: pointer)
            switch keyword {
            // Core. `$id` and `$anchor` were checked and indexed by SchemaResourceIndex.
            case "$id", "$anchor":
                break
            case "$ref":
                guard case .string(let reference) = value else {
                    throw invalid(keyword, "a URI reference string", value, pointer)
                }
                keywords.ref = try resolveReference(reference, from: pointer)
            case "$defs":
                // Compiled for their errors even when nothing references them.
                _ = try subschemaMap(value, keyword, location, pointer)

            // Applicators.
            case "allOf": keywords.allOf = try subschemaArray(value, keyword, location, pointer)
            case "anyOf": keywords.anyOf = try subschemaArray(value, keyword, location, pointer)
            case "oneOf": keywords.oneOf = try subschemaArray(value, keyword, location, pointer)
            case "not": keywords.not = try compileSubschema(value, at: location)
            case "if": keywords.ifSchema = try compileSubschema(value, at: location)
            case "then": keywords.thenSchema = try compileSubschema(value, at: location)
            case "else": keywords.elseSchema = try compileSubschema(value, at: location)
            case "dependentSchemas":
                keywords.dependentSchemas = try subschemaMap(value, keyword, location, pointer)
                    .map { (property: $0.key, schema: $0.schema) }
            case "prefixItems": keywords.prefixItems = try subschemaArray(value, keyword, location, pointer)
            case "items":
                if case .array = value {
                    throw invalid(keyword, "a schema (2020-12 puts per-position schemas in \"prefixItems\")", value, pointer)
                }
                keywords.items = try compileSubschema(value, at: location)
            case "contains": keywords.contains = try compileSubschema(value, at: location)
            case "properties":
                keywords.properties = SchemaPropertyTable(try subschemaMap(value, keyword, location, pointer))
            case "patternProperties":
                keywords.patternProperties = try subschemaMap(value, keyword, location, pointer).map {
                    (entry) throws(SchemaError) in
                    (pattern: try pattern(entry.key, keyword, pointer), schema: entry.schema)
                }
            case "additionalProperties": keywords.additionalProperties = try compileSubschema(value, at: location)
            case "propertyNames": keywords.propertyNames = try compileSubschema(value, at: location)
            case "unevaluatedItems": keywords.unevaluatedItems = try compileSubschema(value, at: location)
            case "unevaluatedProperties": keywords.unevaluatedProperties = try compileSubschema(value, at: location)

            // Validation, any type.
            case "type": keywords.types = try types(value, pointer)
            case "enum":
                guard case .array(let values) = value else { throw invalid(keyword, "an array", value, pointer) }
                keywords.enumValues = values
            case "const": keywords.constValue = value

            // Numbers.
            case "minimum": keywords.minimum = try number(value, keyword, pointer)
            case "maximum": keywords.maximum = try number(value, keyword, pointer)
            case "exclusiveMinimum": keywords.exclusiveMinimum = try number(value, keyword, pointer)
            case "exclusiveMaximum": keywords.exclusiveMaximum = try number(value, keyword, pointer)
            case "multipleOf":
                let divisor = try number(value, keyword, pointer)
                guard divisor > 0 else { throw invalid(keyword, "a number greater than 0", value, pointer) }
                keywords.multipleOf = SchemaMultipleOf(divisor)

            // Strings.
            case "minLength": keywords.minLength = try count(value, keyword, pointer)
            case "maxLength": keywords.maxLength = try count(value, keyword, pointer)
            case "pattern":
                guard case .string(let source) = value else { throw invalid(keyword, "a string", value, pointer) }
                keywords.pattern = try pattern(source, keyword, pointer)

            // Arrays.
            case "minItems": keywords.minItems = try count(value, keyword, pointer)
            case "maxItems": keywords.maxItems = try count(value, keyword, pointer)
            case "minContains": keywords.minContains = try count(value, keyword, pointer)
            case "maxContains": keywords.maxContains = try count(value, keyword, pointer)
            case "uniqueItems":
                guard case .bool(let flag) = value else { throw invalid(keyword, "a boolean", value, pointer) }
                keywords.uniqueItems = flag

            // Objects.
            case "required": keywords.required = try uniqueStrings(value, keyword, pointer)
            case "dependentRequired":
                guard case .object(let entries) = value else { throw invalid(keyword, "an object", value, pointer) }
                keywords.dependentRequired = try entries.map { (entry) throws(SchemaError) in
                    (property: entry.key, required: try uniqueStrings(entry.value, keyword, pointer))
                }
            case "minProperties": keywords.minProperties = try count(value, keyword, pointer)
            case "maxProperties": keywords.maxProperties = try count(value, keyword, pointer)

            default:
                try acceptAnnotation(keyword, value, pointer)
            }
        }
        return keywords
    }

    private func acceptAnnotation(_ keyword: String, _ value: JSONValue, _ pointer: String) throws(SchemaError) {
        if SchemaKeyword.annotationOnly.contains(keyword) {
            // Embedded resources may carry `$schema` too; none may switch dialects.
            if keyword == "$schema" {
                try Self.checkDialect(value, at: pointer)
            } else if let expected = Self.annotationShape(keyword, value) {
                throw invalid(keyword, expected, value, pointer)
            }
            return
        }
        if SchemaKeyword.unsupported.contains(keyword) {
            throw SchemaError(.unsupportedKeyword(keyword), at: pointer)
        }
        throw SchemaError(.unknownKeyword(keyword), at: pointer)
    }

    /// What an annotation keyword's value should have been, or nil when it is well formed.
    /// Annotations assert nothing, but a malformed one is still a mistake worth naming.
    private static func annotationShape(_ keyword: String, _ value: JSONValue) -> String? {
        switch (keyword, value) {
        case ("$comment", .string), ("title", .string), ("description", .string), ("format", .string),
             ("contentMediaType", .string), ("contentEncoding", .string),
             ("deprecated", .bool), ("readOnly", .bool), ("writeOnly", .bool),
             ("examples", .array), ("contentSchema", .object), ("contentSchema", .bool), ("default", _):
            return nil
        case ("deprecated", _), ("readOnly", _), ("writeOnly", _): return "a boolean"
        case ("examples", _): return "an array"
        case ("contentSchema", _): return "a schema"
        default: return "a string"
        }
    }

    // MARK: Value readers

    private func invalid(_ keyword: String, _ expected: String, _ value: JSONValue, _ pointer: String) -> SchemaError {
        SchemaError(.invalidValue(keyword: keyword, expected: expected, found: SchemaMessageFormat.typed(value)),
                    at: pointer)
    }

    private mutating func subschemaArray(_ value: JSONValue, _ keyword: String, _ location: String, _ pointer: String)
        throws(SchemaError) -> [SchemaNodeID]
    {
        guard case .array(let elements) = value, !elements.isEmpty else {
            throw invalid(keyword, "a non-empty array of schemas", value, pointer)
        }
        var ids: [SchemaNodeID] = []
        ids.reserveCapacity(elements.count)
        for (offset, element) in elements.enumerated() {
            ids.append(try compileSubschema(element, at: location + "/" + String(offset)))
        }
        return ids
    }

    private mutating func subschemaMap(_ value: JSONValue, _ keyword: String, _ location: String, _ pointer: String)
        throws(SchemaError) -> [(key: String, schema: SchemaNodeID)]
    {
        guard case .object(let entries) = value else {
            throw invalid(keyword, "an object whose values are schemas", value, pointer)
        }
        var result: [(key: String, schema: SchemaNodeID)] = []
        result.reserveCapacity(entries.count)
        for entry in entries {
            let id = try compileSubschema(entry.value, at: JSONPointer.appending(entry.key, to: location))
            result.append((key: entry.key, schema: id))
        }
        return result
    }

    private func types(_ value: JSONValue, _ pointer: String) throws(SchemaError) -> JSONTypeSet {
        let expected = "a type name (null, boolean, object, array, number, string, integer) or an array of them"
        func type(named value: JSONValue) throws(SchemaError) -> JSONTypeSet {
            guard case .string(let name) = value, let match = JSONTypeSet.byName.first(where: { $0.name == name }) else {
                throw invalid("type", expected, value, pointer)
            }
            return match.type
        }
        guard case .array(let names) = value else { return try type(named: value) }
        var set: JSONTypeSet = []
        for name in names {
            let member = try type(named: name)
            guard !set.contains(member) else {
                throw invalid("type", "an array of distinct type names", value, pointer)
            }
            set.insert(member)
        }
        guard !set.isEmpty else { throw invalid("type", expected, value, pointer) }
        return set
    }

    private func number(_ value: JSONValue, _ keyword: String, _ pointer: String) throws(SchemaError) -> Double {
        guard case .number(let number) = value, number.isFinite else { throw invalid(keyword, "a number", value, pointer) }
        return number
    }

    /// A non-negative integer (`2.0` counts, 2020-12 validation §6 uses JSON's number model).
    private func count(_ value: JSONValue, _ keyword: String, _ pointer: String) throws(SchemaError) -> Int {
        guard case .number(let number) = value, value.isInteger, number >= 0 else {
            throw invalid(keyword, "a non-negative integer", value, pointer)
        }
        // Limits beyond Int's range cannot be reached by any instance; clamp rather than trap.
        return number >= Double(Int.max) ? Int.max : Int(number)
    }

    private func uniqueStrings(_ value: JSONValue, _ keyword: String, _ pointer: String) throws(SchemaError) -> [String] {
        let expected = "an array of distinct strings"
        guard case .array(let elements) = value else { throw invalid(keyword, expected, value, pointer) }
        // Distinct by code points: `["caf\u{E9}", "cafe\u{301}"]` names two properties.
        var seen = Set<CodePointKey>()
        var strings: [String] = []
        for element in elements {
            guard case .string(let string) = element, seen.insert(CodePointKey(string)).inserted else {
                throw invalid(keyword, expected, value, pointer)
            }
            strings.append(string)
        }
        return strings
    }

    /// Compiled here (or found compiled, see `SchemaPattern.compiled`): a bad pattern is the
    /// schema author's error, and finding it on the first event that reaches it would be too
    /// late.
    private func pattern(_ source: String, _ keyword: String, _ pointer: String) throws(SchemaError) -> SchemaPattern {
        guard let pattern = SchemaPattern.compiled(source) else {
            // NSRegularExpression's errors name no position or reason beyond "invalid pattern".
            let detail = "the regular expression engine (ICU, close to ECMA-262) rejects it"
            throw SchemaError(.invalidPattern(keyword: keyword, pattern: source, detail: detail), at: pointer)
        }
        return pattern
    }
}
