import Foundation
@testable import Gateway
import HTTPServer
import JSON
import TestSupport
import Testing

/// openapi.yaml against the server: the same routes with the same methods, schemas our own
/// validator compiles, examples that fit their schemas, and a spec the reference OpenAPI
/// validator accepts. (Every API test also checks each answer against the spec, through
/// `GatewayHarness.request`.)
@Suite("openapi.yaml is the server's contract")
struct OpenAPIContractTests {
    let spec = OpenAPIContract.repository

    /// Operations the spec documents that gatewayd serves from outside `GatewayAPI.register`
    /// (Sources/gatewayd wires them itself); the spec must still list them.
    static let servedOutsideGatewayAPI: Set<OpenAPIContract.Operation> = [
        .init("GET", "/metrics"),
    ]

    @Test func everyRouteIsInTheSpecAndEveryOperationIsARoute() throws {
        let gateway = try GatewayHarness()
        var router = Router()
        GatewayAPI.register(on: &router, core: gateway.core, adminToken: GatewayHarness.adminToken)
        let served = Set(router.routes.map { OpenAPIContract.Operation($0.method.rawValue, $0.template) })
        #expect(served.contains(.init("GET", "/healthz")) && served.contains(.init("GET", "/readyz")))
        let documented = spec.operations
        let expected = served.union(Self.servedOutsideGatewayAPI)
        #expect(expected.subtracting(documented).isEmpty, "served but not in openapi.yaml: \(expected.subtracting(documented).sorted { $0.description < $1.description })")
        #expect(documented.subtracting(expected).isEmpty, "in openapi.yaml but not served: \(documented.subtracting(expected).sorted { $0.description < $1.description })")
        #expect(documented.isSuperset(of: Self.servedOutsideGatewayAPI))
    }

    /// Every schema of the spec compiles with the project's validator: a keyword it cannot
    /// enforce (or a typo) would make the answers' checks silently weaker.
    @Test func everySchemaCompilesWithOurValidator() throws {
        let pointers = schemaPointers()
        #expect(pointers.count > 60)
        for pointer in pointers {
            #expect(throws: Never.self, "\(pointer)") { _ = try spec.schema(at: pointer) }
        }
    }

    /// The examples the spec shows fit the schemas beside them: a stale example teaches users
    /// the wrong shape.
    @Test func everyExampleFitsItsSchema() throws {
        var checked = 0
        for (schemaPointer, example, place) in examples() {
            checked += 1
            for violation in spec.schemaViolations(of: example, against: schemaPointer, what: place) {
                Issue.record(Comment(rawValue: violation))
            }
        }
        #expect(checked > 40)
    }

    /// The reference validator (openapi-spec-validator from PyPI; CI installs it) accepts the
    /// spec as OpenAPI 3.1.
    @Test(.enabled(if: Python.canImport("openapi_spec_validator")))
    func theReferenceValidatorAcceptsTheSpec() throws {
        let file = OpenAPIContract.packageRoot.appendingPathComponent("openapi.yaml").path
        let output = try Python.run("""
            import sys
            from openapi_spec_validator import validate
            from openapi_spec_validator.readers import read_from_filename
            spec, _ = read_from_filename(sys.stdin.read())
            validate(spec)
            print(spec["openapi"])
            """, input: Array(file.utf8))
        #expect(output.hasPrefix("3.1"))
    }

    // MARK: - The checker itself

    /// The checker `GatewayHarness.request` runs catches each kind of disagreement.
    @Test func theCheckerCatchesAnswersTheSpecDoesNotAllow() {
        func response(_ status: Int, _ body: String, type: String? = "application/json", headers: [(String, String)] = []) -> TestResponse {
            TestResponse(status: status, headers: (type.map { [("Content-Type", $0)] } ?? []) + headers, body: Array(body.utf8))
        }
        let receipt = #"{"id":"evt_01JD8X3Q5W7E2M9K4T6V8B0N1P","sequence":1,"receivedAt":"2026-11-27T12:00:00.123456Z"}"#
        #expect(spec.violations("POST", "/v1/events", response(202, receipt)).isEmpty)
        // The wrong shape, a status not listed, the wrong media type, a body where none is.
        #expect(!spec.violations("POST", "/v1/events", response(202, #"{"id":"evt_1","sequence":0}"#)).isEmpty)
        #expect(!spec.violations("POST", "/v1/events", response(201, receipt)).isEmpty)
        #expect(!spec.violations("POST", "/v1/events", response(202, receipt, type: "text/plain")).isEmpty)
        #expect(!spec.violations("DELETE", "/v1/sources/x", response(204, "{}")).isEmpty)
        #expect(spec.violations("DELETE", "/v1/sources/x", response(204, "", type: nil)).isEmpty)
        // Problems: the shape, and the status member agreeing with the answer.
        let problem = #"{"type":"about:blank","title":"Not Found","status":404,"detail":"No event with id 'x'."}"#
        #expect(spec.violations("GET", "/v1/events/x", response(404, problem, type: "application/problem+json")).isEmpty)
        #expect(!spec.violations("GET", "/v1/events/x", response(404, #"{"detail":"x"}"#, type: "application/problem+json")).isEmpty)
        #expect(spec.violations("GET", "/nowhere", response(404, problem, type: "application/problem+json")).isEmpty)
        #expect(!spec.violations("GET", "/nowhere", response(200, "{}")).isEmpty)
        // A required header missing, a header off its schema, an Allow that is not the path's.
        let unauthorized = #"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"x"}"#
        #expect(!spec.violations("GET", "/v1/events", response(401, unauthorized, type: "application/problem+json")).isEmpty)
        let notAllowed = #"{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"x"}"#
        #expect(spec.violations("PUT", "/v1/events", response(405, notAllowed, type: "application/problem+json",
                                                              headers: [("Allow", "GET, HEAD, POST")])).isEmpty)
        #expect(!spec.violations("PUT", "/v1/events", response(405, notAllowed, type: "application/problem+json",
                                                               headers: [("Allow", "GET, HEAD")])).isEmpty)
        let unavailable = #"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"x"}"#
        #expect(!spec.violations("GET", "/readyz", response(503, unavailable, type: "application/problem+json",
                                                           headers: [("Retry-After", "5")])).isEmpty)
        // Literal segments win over parameters, as in the router.
        #expect(spec.template(for: "/v1/events/batch?x=1") == "/v1/events/batch")
        #expect(spec.template(for: "/v1//events/evt_1/attempts") == "/v1/events/{id}/attempts")
        #expect(spec.template(for: "/v1/events/batch/attempts") == nil)
    }

    /// The spec is read as JSON would read it: YAML 1.1's `yes`/`no`/`on`/`off` stay strings,
    /// and a key written twice is refused rather than silently replaced.
    @Test func yamlIsReadAsTheJSONItDescribes() throws {
        let value = try YAMLDocument.parse("""
            a: [yes, no, on, off, true, FALSE, null, ~, 12, -3, 1.5, "12", 0x1F, 1e3, 2026-11-27]
            b: {c: "d"}
            """)
        #expect(value == ["a": ["yes", "no", "on", "off", true, false, .null, .null, 12, -3, 1.5, "12", 31, 1000, "2026-11-27"],
                          "b": ["c": "d"]])
        #expect(throws: (any Error).self) { try YAMLDocument.parse("a: 1\nb: 2\na: 3\n") }
        #expect(throws: (any Error).self) { try YAMLDocument.parse("a:\n  b: 1\n  b: 2\n") }
    }

    // MARK: - Walking the spec

    /// Pointers of every schema the spec holds: each component schema, and each schema of a
    /// parameter, header, request body or response (where it is not only a `$ref`).
    private func schemaPointers() -> [String] {
        var found: [String] = []
        if case .object(let schemas)? = spec.document["components"]?["schemas"] {
            found += schemas.map { "/components/schemas/" + OpenAPIContract.escape($0.key) }
        }
        func walk(_ value: JSONValue, _ pointer: String) {
            switch value {
            case .object(let members):
                // Example values are data, whatever members they have.
                for (key, member) in members where key != "example" && key != "examples" {
                    let child = pointer + "/" + OpenAPIContract.escape(key)
                    if key == "schema", case .object = member { found.append(child) } else { walk(member, child) }
                }
            case .array(let items):
                for (index, item) in items.enumerated() { walk(item, pointer + "/\(index)") }
            default:
                break
            }
        }
        for section in ["paths", "webhooks"] {
            if let value = spec.document[section] { walk(value, "/" + section) }
        }
        for section in ["parameters", "headers", "responses"] {
            if let value = spec.document["components"]?[section] { walk(value, "/components/" + section) }
        }
        return found
    }

    /// Every `example` and `examples` entry of a media type, parameter or header, with the
    /// pointer of its schema; and every schema's own `examples`.
    private func examples() -> [(schema: String, example: JSONValue, place: String)] {
        var found: [(String, JSONValue, String)] = []
        func walk(_ value: JSONValue, _ pointer: String) {
            guard case .object(let members) = value else {
                if case .array(let items) = value {
                    for (index, item) in items.enumerated() { walk(item, pointer + "/\(index)") }
                }
                return
            }
            if value["schema"] != nil {
                let schema = pointer + "/schema"
                if let example = value["example"] { found.append((schema, example, pointer + "/example")) }
                if case .object(let named)? = value["examples"] {
                    for (name, entry) in named {
                        if let example = entry["value"] { found.append((schema, example, pointer + "/examples/" + name)) }
                    }
                }
            }
            for (key, member) in members where key != "example" && key != "examples" {
                walk(member, pointer + "/" + OpenAPIContract.escape(key))
            }
        }
        walk(spec.document, "")
        for pointer in Set(schemaPointers().flatMap(subschemaPointers)) {
            guard case .array(let list)? = spec.value(at: pointer)?["examples"] else { continue }
            for (index, example) in list.enumerated() { found.append((pointer, example, pointer + "/examples/\(index)")) }
        }
        return found
    }

    /// The schema at `pointer` and every subschema inside it (not following `$ref`s).
    private func subschemaPointers(_ pointer: String) -> [String] {
        guard case .object(let members)? = spec.value(at: pointer) else { return [pointer] }
        var found = [pointer]
        for (keyword, value) in members {
            let child = pointer + "/" + OpenAPIContract.escape(keyword)
            switch keyword {
            case "items", "not", "additionalProperties", "propertyNames", "contains", "if", "then", "else",
                 "unevaluatedItems", "unevaluatedProperties":
                found += subschemaPointers(child)
            case "allOf", "anyOf", "oneOf", "prefixItems":
                guard case .array(let items) = value else { continue }
                for index in items.indices { found += subschemaPointers(child + "/\(index)") }
            case "properties", "patternProperties", "$defs", "dependentSchemas":
                guard case .object(let entries) = value else { continue }
                for entry in entries { found += subschemaPointers(child + "/" + OpenAPIContract.escape(entry.key)) }
            default:
                continue
            }
        }
        return found
    }
}
