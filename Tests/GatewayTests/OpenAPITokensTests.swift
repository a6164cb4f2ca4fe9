import Foundation
@testable import Gateway
import HTTPServer
import JSON
import TestSupport
import Testing

/// openapi.yaml says, on every operation, which kinds of token may call it: the vendor
/// extension `x-tokens` (`[admin]`, `[admin, source]`, `[admin, tenant]`, or `[]` for none)
/// and the operation's `security`. These tests keep that documentation present for every
/// route, in agreement with itself, and true of the server.
@Suite("openapi.yaml says which tokens may call each operation")
struct OpenAPITokensTests {
    let spec: OpenAPIContract

    init() {
        spec = .repository
    }

    init(spec: OpenAPIContract) {
        self.spec = spec
    }

    static let kinds: Set<String> = ["admin", "source", "tenant"]

    /// The kinds listed in the operation's `x-tokens`, or why they cannot be read.
    func declaredTokens(_ operation: OpenAPIContract.Operation) -> Result<[String], Failure> {
        guard let value = spec.document["paths"]?[operation.template]?[operation.method.lowercased()]?["x-tokens"] else {
            return .failure(Failure("\(operation) has no x-tokens"))
        }
        guard case .array(let items) = value else { return .failure(Failure("\(operation): x-tokens is not a list")) }
        var kinds: [String] = []
        for item in items {
            guard case .string(let kind) = item, Self.kinds.contains(kind) else {
                return .failure(Failure("\(operation): x-tokens holds \(item), not one of \(Self.kinds.sorted())"))
            }
            kinds.append(kind)
        }
        return .success(kinds)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The security schemes that apply to the operation (its own `security`, else the
    /// document's), by name.
    func securitySchemes(_ operation: OpenAPIContract.Operation) -> Set<String> {
        let own = spec.document["paths"]?[operation.template]?[operation.method.lowercased()]?["security"]
        guard case .array(let requirements)? = own ?? spec.document["security"] else { return [] }
        return Set(requirements.flatMap { requirement -> [String] in
            guard case .object(let schemes) = requirement else { return [] }
            return schemes.map(\.key)
        })
    }

    /// Every operation has `x-tokens`, its values are kinds of token, none twice, the admin's
    /// among them whenever any token is (it may do everything), and `security` names the same
    /// schemes (`adminToken`, `sourceToken`, `tenantToken`; none for `[]`), each defined.
    @Test func everyOperationListsTheTokensThatMayCallIt() throws {
        let operations = spec.operations
        #expect(operations.count > 40)
        let defined: Set<String>
        if case .object(let schemes)? = spec.document["components"]?["securitySchemes"] {
            defined = Set(schemes.map(\.key))
        } else {
            defined = []
        }
        #expect(defined == ["adminToken", "sourceToken", "tenantToken"])
        for operation in operations.sorted(by: { $0.description < $1.description }) {
            switch declaredTokens(operation) {
            case .failure(let failure):
                Issue.record(Comment(rawValue: failure.description))
            case .success(let kinds):
                #expect(Set(kinds).count == kinds.count, "\(operation): x-tokens repeats a kind: \(kinds)")
                #expect(kinds.isEmpty || kinds.contains("admin"), "\(operation): the admin token may do everything, but x-tokens is \(kinds)")
                let schemes = securitySchemes(operation)
                #expect(schemes == Set(kinds.map { $0 + "Token" }), "\(operation): x-tokens \(kinds) but security \(schemes.sorted())")
                #expect(schemes.isSubset(of: defined), "\(operation): security names an undefined scheme")
            }
        }
    }

    /// The checks above catch what they should.
    @Test func aMissingOrWrongListIsCaught() throws {
        let text = """
            openapi: 3.1.0
            paths:
              /a:
                get: {x-tokens: [admin, tenant]}
                put: {x-tokens: [admin, root]}
                post: {}
                patch: {x-tokens: admin}
            """
        let file = URL(fileURLWithPath: NSTemporaryDirectory() + "x-tokens-\(UUID().uuidString).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let probe = OpenAPITokensTests(spec: try OpenAPIContract(contentsOf: file))
        #expect((try? probe.declaredTokens(.init("GET", "/a")).get()) == ["admin", "tenant"])
        for method in ["PUT", "POST", "PATCH"] {
            #expect(throws: Failure.self, "\(method)") { try probe.declaredTokens(.init(method, "/a")).get() }
        }
    }

    /// What `x-tokens` says is what the server does: on every route it serves, a kind of
    /// token the list leaves out gets 403, and a kind it names is let through (whatever the
    /// answer is then: 404 for ids nobody has, 422 for an empty body, ...). No route is
    /// skipped, so a new one is checked the day it is added.
    @Test func theServerLetsThroughExactlyTheTokensTheSpecLists() throws {
        let gateway = try GatewayHarness()
        let source = try gateway.request("POST", "/v1/sources", body: #"{"name":"billing"}"#)
        let sourceToken = try #require(source.json["token"] as? String)
        #expect(try gateway.request("POST", "/v1/tenants", body: #"{"id":"acme","name":"Acme"}"#).status == 201)
        let issued = try gateway.request("POST", "/v1/tenants/acme/tokens", contentType: nil)
        let tenantToken = try #require(issued.json["token"] as? String)
        let tokens = ["admin": GatewayHarness.adminToken, "source": sourceToken, "tenant": tenantToken]

        var router = Router()
        GatewayAPI.register(on: &router, core: gateway.core, adminToken: GatewayHarness.adminToken)
        #expect(router.routes.count >= 40)
        for route in router.routes {
            let operation = OpenAPIContract.Operation(route.method.rawValue, route.template)
            guard case .success(let allowed) = declaredTokens(operation) else {
                Issue.record("\(operation) has no valid x-tokens")
                continue
            }
            // Ids nobody has: the answer is then a 404 (or a 422 for the body) wherever the
            // token is let through, never a change to what the other checks rely on.
            let path = route.template.split(separator: "/").map { $0.hasPrefix("{") ? "nobody" : String($0) }.joined(separator: "/")
            let body = ["POST", "PUT", "PATCH"].contains(operation.method) ? "{}" : nil
            for (kind, token) in tokens.sorted(by: { $0.key < $1.key }) {
                let response = try gateway.request(operation.method, "/" + path, token: token, body: body)
                if allowed.isEmpty || allowed.contains(kind) {
                    #expect(response.status != 401 && response.status != 403, "\(operation) with a \(kind) token: \(response.status) \(response.text)")
                } else {
                    #expect(response.status == 403, "\(operation) with a \(kind) token: x-tokens says \(allowed), the server answered \(response.status) \(response.text)")
                }
            }
            if allowed.isEmpty {
                let response = try gateway.request(operation.method, "/" + path, token: nil, body: body)
                #expect(response.status != 401, "\(operation) needs no token, but answered 401 without one")
            } else {
                let response = try gateway.request(operation.method, "/" + path, token: nil, body: body)
                #expect(response.status == 401, "\(operation) without a token: \(response.status)")
            }
        }
    }
}
