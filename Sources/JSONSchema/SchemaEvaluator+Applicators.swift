import JSON
/// Keywords that apply subschemas to the instance in place: `$ref`, the boolean logic
/// keywords, `if`/`then`/`else` and `dependentSchemas`.
extension SchemaEvaluator {
    mutating func evaluateInPlace(_ node: SchemaNode, _ instance: JSONValue,
                                  _ annotations: inout EvaluatedLocations?) -> Bool {
        var valid = true
        if let ref = node.keywords.ref, !applyInPlace(ref, to: instance, keyword: "$ref", &annotations) {
            valid = false
            if !collecting { return false }
        }
        for id in node.keywords.allOf where !applyInPlace(id, to: instance, keyword: "allOf", &annotations) {
            valid = false
            if !collecting { return false }
        }
        if !node.keywords.anyOf.isEmpty, !evaluateAnyOf(node.keywords.anyOf, instance, &annotations) {
            valid = false
            if !collecting { return false }
        }
        if !node.keywords.oneOf.isEmpty, !evaluateOneOf(node.keywords.oneOf, instance, &annotations) {
            valid = false
            if !collecting { return false }
        }
        if let not = node.keywords.not {
            // `not` passes on no annotations whatever happens (2020-12 core §10.2.1.4).
            var discarded: EvaluatedLocations? = nil
            if probe(not, instance, &discarded) {
                report("not", "must not match the schema in not")
                valid = false
                if !collecting { return false }
            }
        }
        if let condition = node.keywords.ifSchema, !evaluateConditional(condition, node, instance, &annotations) {
            valid = false
            if !collecting { return false }
        }
        if !node.keywords.dependentSchemas.isEmpty, case .object(let members) = instance {
            for dependent in node.keywords.dependentSchemas where Self.has(dependent.property, in: members) {
                if !applyInPlace(dependent.schema, to: instance, keyword: "dependentSchemas", &annotations) {
                    valid = false
                    if !collecting { return false }
                }
            }
        }
        return valid
    }

    private mutating func evaluateAnyOf(_ branches: [SchemaNodeID], _ instance: JSONValue,
                                        _ annotations: inout EvaluatedLocations?) -> Bool {
        var matched = false
        for id in branches {
            var branch: EvaluatedLocations? = annotations == nil ? nil : EvaluatedLocations()
            guard probe(id, instance, &branch) else { continue }
            matched = true
            // With annotations wanted, every passing branch contributes, so none may be skipped.
            guard let branch else { break }
            annotations?.formUnion(branch)
        }
        if !matched {
            report("anyOf", "must match at least one schema in anyOf, matched none of \(branches.count)")
        }
        return matched
    }

    private mutating func evaluateOneOf(_ branches: [SchemaNodeID], _ instance: JSONValue,
                                        _ annotations: inout EvaluatedLocations?) -> Bool {
        var matches: [Int] = []
        var matchedAnnotations: EvaluatedLocations? = nil
        for (offset, id) in branches.enumerated() {
            var branch: EvaluatedLocations? = annotations == nil ? nil : EvaluatedLocations()
            guard probe(id, instance, &branch) else { continue }
            matches.append(offset)
            matchedAnnotations = branch
            // A second match settles it; the message lists every match, so only then go on.
            if matches.count > 1 && !collecting { return false }
        }
        switch matches.count {
        case 1:
            if let matchedAnnotations { annotations?.formUnion(matchedAnnotations) }
            return true
        case 0:
            report("oneOf", "must match exactly one schema in oneOf, matched none of \(branches.count)")
        default:
            let list = matches.map(String.init).joined(separator: ", ")
            report("oneOf", "must match exactly one schema in oneOf, matched \(matches.count) (schemas \(list))")
        }
        return false
    }

    /// `then` applies when `if` passes, `else` when it fails; `if` itself never makes the
    /// instance invalid (2020-12 core §10.2.2).
    private mutating func evaluateConditional(_ condition: SchemaNodeID, _ node: SchemaNode,
                                              _ instance: JSONValue, _ annotations: inout EvaluatedLocations?) -> Bool {
        var conditionAnnotations: EvaluatedLocations? = annotations == nil ? nil : EvaluatedLocations()
        if probe(condition, instance, &conditionAnnotations) {
            if let conditionAnnotations { annotations?.formUnion(conditionAnnotations) }
            guard let then = node.keywords.thenSchema else { return true }
            return applyInPlace(then, to: instance, keyword: "then", &annotations)
        }
        guard let otherwise = node.keywords.elseSchema else { return true }
        return applyInPlace(otherwise, to: instance, keyword: "else", &annotations)
    }
}
