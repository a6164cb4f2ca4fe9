/// A JSON Schema (draft 2020-12, see `SchemaKeyword` for the keywords) compiled once and
/// reusable from any thread. Event types hold one; ingest calls `validate` per event.
///
/// Compilation refuses anything it cannot enforce — unknown or unsupported keywords,
/// malformed keyword values, invalid regexes, references to other documents — so a
/// schema that compiles is a schema that is fully checked.
public struct JSONSchema: Sendable {
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
