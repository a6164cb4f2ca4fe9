import JSON
/// The draft 2020-12 vocabulary as this validator sees it. Every keyword of a schema object
/// must be in exactly one of these sets, or compilation refuses the schema: silently
/// skipping a keyword would accept events the schema's author meant to reject.
///
/// Keywords, type names and dialect URIs are matched with `String`'s `==` and hash, which use
/// canonical equivalence rather than code points (see `CodePointKey`). That is exact here: the
/// only non-ASCII strings canonically equivalent to ASCII ones are U+037E, U+1FEF and U+212A
/// (for `;`, a backtick and `K`), and none of these names contains those characters.
enum SchemaKeyword {
    /// Keywords with validation or reference behaviour implemented here.
    static let implemented: Set<String> = [
        // core
        "$id", "$anchor", "$ref", "$defs",
        // applicator
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas",
        "prefixItems", "items", "contains", "properties", "patternProperties",
        "additionalProperties", "propertyNames",
        // unevaluated
        "unevaluatedItems", "unevaluatedProperties",
        // validation
        "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
        "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties",
        "required", "dependentRequired",
    ]

    /// Keywords that only annotate in the 2020-12 default vocabularies: they never change
    /// whether an instance is valid, so accepting and ignoring them is correct. (`format` is
    /// an annotation unless the format-assertion vocabulary is enabled, which we never do.)
    static let annotationOnly: Set<String> = [
        "$schema", "$comment", "title", "description", "default", "examples", "deprecated",
        "readOnly", "writeOnly", "format", "contentMediaType", "contentEncoding", "contentSchema",
    ]

    /// 2020-12 keywords we know and deliberately do not implement; named apart from typos so
    /// the error says "unsupported" rather than "unknown".
    static let unsupported: Set<String> = ["$dynamicRef", "$dynamicAnchor", "$vocabulary"]

    /// The dialect URIs accepted in `$schema`.
    static let dialects: Set<String> = [
        "https://json-schema.org/draft/2020-12/schema",
        "https://json-schema.org/draft/2020-12/schema#",
    ]
}

extension SchemaKeyword {
    /// Keywords whose value is one subschema.
    static let subschema: Set<String> = [
        "items", "contains", "additionalProperties", "propertyNames", "unevaluatedItems",
        "unevaluatedProperties", "not", "if", "then", "else",
    ]
    /// Keywords whose value is an array of subschemas.
    static let subschemaArray: Set<String> = ["allOf", "anyOf", "oneOf", "prefixItems"]
    /// Keywords whose value is an object of subschemas.
    static let subschemaMap: Set<String> = ["properties", "patternProperties", "$defs", "dependentSchemas"]
}
