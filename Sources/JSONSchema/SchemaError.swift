import JSON
/// Why a schema was refused. Compilation refuses rather than ignores: a keyword we do not
/// implement would otherwise validate nothing, and events the operator meant to reject
/// would be accepted without a word.
public struct SchemaError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// A subschema that is neither an object nor a boolean.
        case notASchema(found: String)
        /// A 2020-12 keyword this validator does not implement (`$dynamicRef`, ...).
        case unsupportedKeyword(String)
        /// A keyword that is not in draft 2020-12 at all (typo, draft-07 spelling, extension).
        case unknownKeyword(String)
        /// A keyword whose value has the wrong shape, e.g. `"minimum": "x"`.
        case invalidValue(keyword: String, expected: String, found: String)
        /// A `pattern` or `patternProperties` key the regex engine refused.
        case invalidPattern(keyword: String, pattern: String, detail: String)
        /// `$schema` names a dialect other than 2020-12.
        case unsupportedDialect(String)
        /// `$ref` to a document other than this one; nothing is ever fetched.
        case remoteReference(String)
        /// `$ref` into this document that names nothing.
        case unresolvableReference(String, detail: String)
        /// Two subschemas claim the same `$id` or `$anchor`.
        case duplicateIdentifier(String)
        /// Subschemas nested, or in-place references chained, deeper than
        /// `JSONSchema.maximumSchemaDepth`.
        case tooDeep(limit: Int)
        /// In-place references that loop without stepping into the instance
        /// (`{"$ref": "#"}`): validation would never end. The locations of the loop, in order.
        case referenceCycle([String])
        /// Subschemas reach the same subschemas along so many paths that one value of an
        /// instance, `instanceDepth` levels deep, could cost `evaluations` subschema
        /// evaluations, over `limit` (`JSONSchema.maximumEvaluationsPerLocation`). The
        /// location is the subschema where the count passes the limit.
        case unboundedEvaluation(evaluations: Int, instanceDepth: Int, limit: Int)
    }

    public let reason: Reason
    /// JSON Pointer into the schema: the subschema holding the bad keyword, or the bad value
    /// itself for `notASchema`. "" is the root.
    public let schemaLocation: String

    public init(_ reason: Reason, at schemaLocation: String) {
        self.reason = reason
        self.schemaLocation = schemaLocation
    }

    /// True when the schema was refused only because it references another document.
    public var isRemoteReference: Bool {
        if case .remoteReference = reason { return true }
        return false
    }

    public var description: String {
        let location = schemaLocation.isEmpty ? "the schema root" : schemaLocation
        switch reason {
        case .notASchema(let found):
            return "a schema must be an object or a boolean, got \(found) at \(location)"
        case .unsupportedKeyword(let keyword):
            return "unsupported keyword \"\(keyword)\" at \(location)"
        case .unknownKeyword(let keyword):
            let hint = Self.hints[keyword].map { " (\($0))" } ?? ""
            return "unknown keyword \"\(keyword)\" at \(location)\(hint)"
        case .invalidValue(let keyword, let expected, let found):
            return "\"\(keyword)\" at \(location) must be \(expected), got \(found)"
        case .invalidPattern(let keyword, let pattern, let detail):
            return "\"\(keyword)\" at \(location) has an invalid regular expression \"\(pattern)\": \(detail)"
        case .unsupportedDialect(let uri):
            return "unsupported $schema \"\(uri)\" at \(location): only draft 2020-12 is supported"
        case .remoteReference(let uri):
            return "remote reference \"\(uri)\" at \(location) is not supported: "
                + "only references within this schema resolve, nothing is fetched"
        case .unresolvableReference(let reference, let detail):
            return "$ref \"\(reference)\" at \(location) does not resolve: \(detail)"
        case .duplicateIdentifier(let uri):
            return "\"\(uri)\" at \(location) identifies more than one subschema"
        case .tooDeep(let limit):
            return "subschemas nest or references chain deeper than \(limit) levels at \(location)"
        case .referenceCycle(let locations):
            let loop = locations.map { $0.isEmpty ? "#" : $0 }.joined(separator: " → ")
            return "references loop without consuming the instance, validation would never end: \(loop)"
        case .unboundedEvaluation(let evaluations, let instanceDepth, let limit):
            let count = evaluations == .max ? "more than \(Int.max - 1)" : String(evaluations)
            let value = instanceDepth == 0 ? "one instance value"
                : "one instance value \(instanceDepth) \(instanceDepth == 1 ? "level" : "levels") deep"
            return "the schema's evaluation cannot be bounded: it would evaluate subschemas \(count) times for \(value), "
                + "more than the limit of \(limit); at \(location), applicators (allOf, anyOf, oneOf, $ref, ...) "
                + "reach the same subschemas along several paths, multiplying the work at every level"
        }
    }

    /// Keywords people carry over from older drafts, and what 2020-12 calls them.
    private static let hints: [String: String] = [
        "definitions": "draft 2020-12 uses \"$defs\"",
        "dependencies": "draft 2020-12 splits it into \"dependentRequired\" and \"dependentSchemas\"",
        "additionalItems": "draft 2020-12 uses \"items\" after \"prefixItems\"",
        "$recursiveRef": "draft 2019-09 keyword, replaced by \"$dynamicRef\" which is not supported",
        "$recursiveAnchor": "draft 2019-09 keyword, replaced by \"$dynamicAnchor\" which is not supported",
    ]
}
