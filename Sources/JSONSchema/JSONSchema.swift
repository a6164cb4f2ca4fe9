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

    private let nodes: [SchemaNode]
    private let root: SchemaNodeID

    public init(_ schema: JSONValue) throws(SchemaError) {
        (nodes, root) = try SchemaCompiler.compile(schema)
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
