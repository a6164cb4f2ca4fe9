import JSON
/// Validates one instance against compiled nodes. Two modes: `collecting` finds and
/// describes every violation; otherwise the evaluator only answers valid or not, stopping at
/// the first failure and formatting no messages. Branches whose failure is expected
/// (`anyOf`, `oneOf`, `not`, `if`, `contains`, `propertyNames`) always run in the cheap mode.
struct SchemaEvaluator {
    let nodes: [SchemaNode]
    private(set) var collecting: Bool
    private(set) var violations: [SchemaViolation] = []
    /// Where in the instance we are; rendered only when a violation is recorded.
    private var path: [InstancePathComponent] = []
    private var depth = 0

    init(nodes: [SchemaNode], collecting: Bool) {
        self.nodes = nodes
        self.collecting = collecting
    }

    /// Evaluates node `id` against `instance`. When `annotations` is non-nil the caller wants
    /// to know what this node evaluated (for its own `unevaluated*`), and gets it only if the
    /// node is valid: failed subschemas contribute no annotations (2020-12 core §7.7.1.2).
    mutating func evaluate(_ id: SchemaNodeID, _ instance: JSONValue, _ annotations: inout EvaluatedLocations?) -> Bool {
        guard depth < JSONSchema.maximumEvaluationDepth else {
            report("depth", "nests deeper than \(JSONSchema.maximumEvaluationDepth) levels of schema evaluation")
            return false
        }
        depth += 1
        defer { depth -= 1 }
        let node = nodes[id]
        if let boolean = node.boolean {
            if !boolean { report("false", "no value is allowed here (the schema is false)") }
            return boolean
        }
        // The node (one reference) is passed along, never `node.keywords` by value: a copy of
        // that struct retains each of its arrays and costs more than the checks themselves.
        var local: EvaluatedLocations? = annotations != nil || node.keywords.needsAnnotations ? EvaluatedLocations() : nil
        var valid = true

        // Order matters only for unevaluated*, which must run after everything that annotates.
        if !evaluateAssertions(node, instance) {
            valid = false
            if !collecting { return false }
        }
        if !evaluateInPlace(node, instance, &local) {
            valid = false
            if !collecting { return false }
        }
        switch instance {
        case .array(let elements):
            if !evaluateArray(node, elements, &local) {
                valid = false
                if !collecting { return false }
            }
        case .object(let members):
            if !evaluateObject(node, members, &local) {
                valid = false
                if !collecting { return false }
            }
        default:
            break
        }
        if node.keywords.needsAnnotations, !evaluateUnevaluated(node, instance, &local) {
            valid = false
        }
        if valid, let local {
            annotations?.formUnion(local)
        }
        return valid
    }

    /// Records a violation at the current instance path. The message is built only when
    /// collecting.
    mutating func report(_ keyword: String, _ message: @autoclosure () -> String) {
        guard collecting else { return }
        violations.append(SchemaViolation(instancePath: path.jsonPointer, keyword: keyword, message: message()))
    }

    /// Evaluates without recording anything, for branches whose failure is not a violation.
    mutating func probe(_ id: SchemaNodeID, _ instance: JSONValue, _ annotations: inout EvaluatedLocations?) -> Bool {
        let wasCollecting = collecting
        collecting = false
        defer { collecting = wasCollecting }
        return evaluate(id, instance, &annotations)
    }

    /// Applies a subschema to a member or item. A `false` subschema is reported with the
    /// keyword that applied it (`additionalProperties`, `items`, ...), which says far more
    /// than "false".
    mutating func apply(_ id: SchemaNodeID, to instance: JSONValue, at step: InstancePathComponent,
                        keyword: String, rejection: @autoclosure () -> String) -> Bool {
        path.append(step)
        defer { path.removeLast() }
        if nodes[id].boolean == false {
            report(keyword, rejection())
            return false
        }
        var childAnnotations: EvaluatedLocations? = nil
        return evaluate(id, instance, &childAnnotations)
    }

    /// Applies a subschema to the current instance (`$ref`, `allOf`, `then`, ...).
    mutating func applyInPlace(_ id: SchemaNodeID, to instance: JSONValue, keyword: String,
                               _ annotations: inout EvaluatedLocations?) -> Bool {
        if nodes[id].boolean == false {
            report(keyword, "no value is allowed here (the \(keyword) schema is false)")
            return false
        }
        return evaluate(id, instance, &annotations)
    }

    /// Every message a subschema gives for `instance`, for violations that summarise a nested
    /// failure (`propertyNames`). Runs a separate evaluator so paths start fresh.
    func messages(of id: SchemaNodeID, for instance: JSONValue) -> String {
        var nested = SchemaEvaluator(nodes: nodes, collecting: true)
        var none: EvaluatedLocations? = nil
        _ = nested.evaluate(id, instance, &none)
        return nested.violations.map(\.message).joined(separator: "; ")
    }
}
