import JSON
/// A JSON Schema (draft 2020-12, see `SchemaKeyword` for the keywords) compiled once and
/// reusable from any thread. Event types hold one; ingest calls `validate` per event.
///
/// Compilation refuses anything it cannot enforce — unknown or unsupported keywords,
/// malformed keyword values, invalid regexes, references to other documents — so a
/// schema that compiles is a schema that is fully checked.
public struct JSONSchema: Sendable {
    /// Deepest nesting of subschemas (counting `$ref` hops while compiling) a schema may have.
    /// Real schemas stay far below; the bound keeps a hostile one from exhausting the stack.
    public static let maximumSchemaDepth = 256

    /// Deepest nesting of subschema evaluations while validating, i.e. instance depth times
    /// the in-place applicators (`$ref`, `allOf`, ...) met on the way. Deeper instances are
    /// reported invalid (keyword `depth`) rather than risking the stack; the JSON parser's
    /// own depth limit should make this unreachable for ordinary schemas.
    public static let maximumEvaluationDepth = 2048

    /// Most subschema evaluations a schema may cause at one instance value (location), as
    /// counted over every path through its applicators when it compiles (see
    /// `SchemaEvaluationBound`); validating an instance of n values then costs at most n times
    /// this many evaluations. Schemas that could exceed it are refused when registered:
    /// shared `$defs` that fan out at every level (`allOf` of two `$ref`s to the next level)
    /// double the work per level, and 40 such levels would take hours per event.
    ///
    /// Why 10 000: it must pass every schema people actually write, and it bounds the worst
    /// case. Every schema of the JSON-Schema-Test-Suite needs at most 7; recursive types (a
    /// tree, a filter expression, "any JSON value") under 10; an OpenAPI-style schema with a
    /// five-level `allOf` inheritance chain of shared `$defs` under a `oneOf` of 40 event
    /// variants needs 400. That leaves a factor of 25 for larger unions and deeper chains.
    /// The price at the limit: a debug build evaluates about a million subschemas a second,
    /// so such a schema may spend some 10 ms on each value of an instance; that is bounded
    /// and linear in the instance, where the doubling chain grows without end. Eleven levels
    /// of that chain (8 190 evaluations) pass; twelve (16 382) are refused.
    public static let maximumEvaluationsPerLocation = 10_000

    private let nodes: [SchemaNode]
    private let root: SchemaNodeID

    public init(_ schema: JSONValue) throws(SchemaError) {
        (nodes, root) = try SchemaCompiler.compile(schema)
    }

    /// The schema at JSON Pointer `pointer` inside a larger `document` that is not itself a
    /// schema, such as an OpenAPI description (`/components/schemas/Event`): fragment
    /// references (`#/components/schemas/Sequence`) resolve against the whole document, as
    /// OpenAPI 3.1 reads them. Only the subschemas reached from `pointer` are compiled and
    /// checked, under the same rules as a standalone schema.
    public init(_ document: JSONValue, at pointer: String) throws(SchemaError) {
        (nodes, root) = try SchemaCompiler.compile(document, at: pointer)
    }

    /// Every violation of the schema by `instance`, in schema-then-document order; empty when
    /// `instance` is valid.
    public func validate(_ instance: JSONValue) -> [SchemaViolation] {
        var evaluator = SchemaEvaluator(nodes: nodes, collecting: true)
        var annotations: EvaluatedLocations? = nil
        _ = evaluator.evaluate(root, instance, &annotations)
        return evaluator.violations
    }

    /// Whether `instance` is valid; cheaper than `validate`, as it stops at the first
    /// violation and builds no messages.
    public func isValid(_ instance: JSONValue) -> Bool {
        var evaluator = SchemaEvaluator(nodes: nodes, collecting: false)
        var annotations: EvaluatedLocations? = nil
        return evaluator.evaluate(root, instance, &annotations)
    }
}
