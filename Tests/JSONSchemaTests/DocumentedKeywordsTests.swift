import Foundation
import JSON
@testable import JSONSchema
import TestSupport
import Testing

/// What README.md and openapi.yaml tell users about schema keywords is what the compiler
/// does: the same enforced, annotation-only and unsupported sets, so neither text can drift
/// from `SchemaKeyword` unnoticed.
@Suite("Documented schema keywords")
struct DocumentedKeywordsTests {
    /// openapi.yaml's `JSONSchemaDocument` lists every set, each keyword in backticks.
    @Test func theSpecListsExactlyTheKeywordsTheCompilerKnows() throws {
        guard case .string(let text)? = OpenAPIContract.repository.value(at: "/components/schemas/JSONSchemaDocument/description") else {
            Issue.record("openapi.yaml has no JSONSchemaDocument description")
            return
        }
        let enforced = try Self.keywords(in: text, from: "Supported:", to: "- accepted and ignored")
        let annotations = try Self.keywords(in: text, from: "- accepted and ignored", to: "Refused:")
        let unsupported = try Self.keywords(in: text, from: "Refused:", to: "(unsupported)")
        #expect(enforced == SchemaKeyword.implemented, "\(enforced.symmetricDifference(SchemaKeyword.implemented))")
        #expect(annotations == SchemaKeyword.annotationOnly, "\(annotations.symmetricDifference(SchemaKeyword.annotationOnly))")
        #expect(unsupported == SchemaKeyword.unsupported)
    }

    /// README.md's schema paragraph names the annotation keywords accepted and not enforced.
    @Test func theReadmeListsTheAnnotationKeywords() throws {
        let readme = try String(contentsOf: OpenAPIContract.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let annotations = try Self.keywords(in: readme, from: "defines as annotations", to: "A schema with any other keyword")
        #expect(annotations == SchemaKeyword.annotationOnly, "\(annotations.symmetricDifference(SchemaKeyword.annotationOnly))")
        let refused = try Self.keywords(in: readme, from: "A schema with any other keyword", to: "remote `$ref`")
        #expect(refused.isSuperset(of: SchemaKeyword.unsupported))
        #expect(refused.isDisjoint(with: SchemaKeyword.implemented.union(SchemaKeyword.annotationOnly)))
    }

    /// Each annotation keyword, with a value that would refuse the instance if it asserted
    /// anything, leaves validity to the other keywords.
    static let annotationValues: [(String, JSONValue)] = [
        ("$comment", "must be a number"), ("title", "t"), ("description", "d"), ("default", 5),
        ("examples", [5]), ("deprecated", true), ("readOnly", true), ("writeOnly", true), ("format", "email"),
        ("contentMediaType", "application/json"), ("contentEncoding", "base64"), ("contentSchema", ["type": "object"]),
        ("$schema", "https://json-schema.org/draft/2020-12/schema"),
    ]

    @Test func everyAnnotationKeywordIsTriedBelow() {
        #expect(Set(Self.annotationValues.map(\.0)) == SchemaKeyword.annotationOnly)
    }

    @Test(arguments: annotationValues)
    func annotationsAreAcceptedAndNotEnforced(_ keyword: String, _ value: JSONValue) throws {
        #expect(SchemaKeyword.annotationOnly.contains(keyword))
        let schema = try JSONSchema(.object([(key: "type", value: .string("string")), (key: keyword, value: value)]))
        #expect(schema.isValid("{not json, not base64, not an email"))
        #expect(!schema.isValid(5))
    }

    /// Keywords of other vocabularies that look like annotations are refused, not ignored.
    @Test(arguments: ["example", "definitions", "dependencies", "nullable", "discriminator"])
    func otherKeywordsAreRefused(_ keyword: String) {
        #expect(throws: SchemaError.self) { try JSONSchema(.object([(key: keyword, value: .string("x"))])) }
    }

    /// The backticked keywords (`$id`, `minItems`, not URIs or `#`) between two markers.
    static func keywords(in text: String, from start: String, to end: String) throws -> Set<String> {
        let from = try #require(text.range(of: start), "no '\(start)'")
        let to = try #require(text.range(of: end, range: from.upperBound..<text.endIndex), "no '\(end)' after '\(start)'")
        let parts = text[from.upperBound..<to.lowerBound].components(separatedBy: "`")
        let quoted = parts.indices.filter { $0 % 2 == 1 }.map { parts[$0] }
        return Set(quoted.filter { $0.range(of: #"^\$?[A-Za-z]+$"#, options: .regularExpression) != nil })
    }
}
