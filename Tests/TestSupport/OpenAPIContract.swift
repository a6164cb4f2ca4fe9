import Foundation
import JSON
import JSONSchema
import Synchronization

/// openapi.yaml, read once, as a checker of real answers: which operation a request reached,
/// whether the status it got is one the spec lists for it, and whether the body has the
/// media type and the shape (the JSON Schema) the spec gives for that status. The schemas
/// are compiled by the project's own validator, references resolving against the whole
/// spec, so a keyword the spec uses that the validator cannot enforce fails loudly too.
public final class OpenAPIContract: Sendable {
    /// The repository's openapi.yaml.
    public static let repository: OpenAPIContract = {
        do {
            return try OpenAPIContract(contentsOf: packageRoot.appendingPathComponent("openapi.yaml"))
        } catch {
            fatalError("openapi.yaml cannot be read: \(error)")
        }
    }()

    /// <package root>, from this file's place in it (Tests/TestSupport/OpenAPIContract.swift).
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A spec operation: an HTTP method (upper case) on a path template.
    public struct Operation: Hashable, Sendable, CustomStringConvertible {
        public let method: String
        public let template: String
        public init(_ method: String, _ template: String) {
            self.method = method
            self.template = template
        }
        public var description: String { "\(method) \(template)" }
    }

    /// The whole spec as JSON.
    public let document: JSONValue
    /// Path templates with their segments, in the spec's order.
    private let templates: [(template: String, segments: [Substring])]
    /// Compiled schemas by JSON Pointer into `document`: each is compiled on first use.
    private let schemas = Mutex<[String: JSONSchema]>([:])

    public static let httpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    public init(contentsOf file: URL) throws {
        document = try YAMLDocument.parse(String(contentsOf: file, encoding: .utf8))
        guard case .object(let paths)? = document["paths"] else { throw YAMLDocument.Failure(description: "no 'paths'") }
        templates = paths.map { ($0.key, $0.key.split(separator: "/")) }
    }

    /// Every operation the spec describes.
    public var operations: Set<Operation> {
        var found = Set<Operation>()
        for (template, _) in templates {
            for method in Self.httpMethods where document["paths"]?[template]?[method] != nil {
                found.insert(Operation(method.uppercased(), template))
            }
        }
        return found
    }

    /// The spec's path template for `path` (query ignored, empty segments skipped), chosen
    /// the way the router chooses: at each segment a literal beats a parameter.
    /// Like the router's tree, there is no backtracking: once a literal segment matched, a
    /// parameter in its place is not tried (`/v1/events/batch/attempts` matches nothing).
    public func template(for path: String) -> String? {
        let segments = path.prefix { $0 != "?" }.split(separator: "/")
        var candidates = templates
        for (position, segment) in segments.enumerated() {
            candidates = candidates.filter { $0.segments.count > position }
            let literal = candidates.filter { $0.segments[position] == segment }
            candidates = literal.isEmpty ? candidates.filter { $0.segments[position].first == "{" } : literal
        }
        return candidates.first { $0.segments.count == segments.count }?.template
    }

    /// What in `response` (to `method path`) disagrees with the spec; empty when nothing.
    public func violations(_ method: String, _ path: String, _ response: TestResponse) -> [String] {
        var found: [String] = []
        let contentType = response.header("content-type").map(Self.mediaType)
        if contentType == "application/problem+json" {
            found += problemViolations(response)
        }
        guard let template = template(for: path) else {
            // No route: the spec's description promises a 404 problem and nothing else.
            if response.status != 404 { found.append("\(method) \(path) matches no path of the spec but answered \(response.status)") }
            return found
        }
        let operationMethod = method == "HEAD" ? "get" : method.lowercased()
        let pathPointer = "/paths/" + Self.escape(template)
        guard document["paths"]?[template]?[operationMethod] != nil else {
            found += methodNotAllowedViolations(method, template, response)
            return found
        }
        let operation = "\(method) \(template)"
        guard let (responsePointer, described) = responseObject(pointer: pathPointer + "/" + operationMethod, status: response.status) else {
            found.append("\(operation) answered \(response.status), a status the spec does not list for it: \(response.text)")
            return found
        }
        found += headerViolations(responsePointer, described, response, what: "\(operation) \(response.status)")
        guard method != "HEAD" else { return found }
        guard case .object(let media)? = described["content"], !media.isEmpty else {
            if !response.body.isEmpty {
                found.append("\(operation) \(response.status) has a body the spec does not describe: \(response.text)")
            }
            return found
        }
        guard let contentType, media.contains(where: { $0.key == contentType }) else {
            found.append("\(operation) \(response.status) is '\(contentType ?? "(no Content-Type)")', not one of \(media.map(\.key))")
            return found
        }
        guard contentType.hasSuffix("json") else { return found }
        let schemaPointer = responsePointer + "/content/" + Self.escape(contentType) + "/schema"
        found += schemaViolations(of: response.body, against: schemaPointer, what: "\(operation) \(response.status)")
        return found
    }

    /// The response's documented headers: present when `required`, and of their schema
    /// (read as a number where the schema's type is one) when present.
    private func headerViolations(_ responsePointer: String, _ described: JSONValue, _ response: TestResponse, what: String) -> [String] {
        guard case .object(let headers)? = described["headers"] else { return [] }
        var found: [String] = []
        for (name, _) in headers {
            guard let (headerPointer, header) = resolved(responsePointer + "/headers/" + Self.escape(name)) else {
                found.append("\(what): the header '\(name)' has a dangling $ref")
                continue
            }
            guard let value = response.header(name) else {
                if header["required"] == .bool(true) { found.append("\(what): the required header '\(name)' is missing") }
                continue
            }
            let schemaPointer = headerPointer + "/schema"
            let type = resolved(schemaPointer)?.1["type"]
            let numeric = type == .string("integer") || type == .string("number")
            let instance: JSONValue = numeric ? Double(value).map(JSONValue.number) ?? .string(value) : .string(value)
            found += schemaViolations(of: instance, against: schemaPointer, what: "\(what) header '\(name)'")
        }
        return found
    }

    /// Violations of the schema at `pointer` by `body` parsed as JSON.
    public func schemaViolations(of body: [UInt8], against pointer: String, what: String) -> [String] {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body, rejectDuplicateKeys: true)
        } catch {
            return ["\(what): the body is not JSON (\(error)): \(String(decoding: body, as: UTF8.self))"]
        }
        return schemaViolations(of: value, against: pointer, what: what)
    }

    public func schemaViolations(of value: JSONValue, against pointer: String, what: String) -> [String] {
        do {
            let problems = try schema(at: pointer).validate(value)
            return problems.map { "\(what): \($0) in \(String(decoding: JSONParser.serialize(value), as: UTF8.self))" }
        } catch {
            return ["\(what): the spec's schema at \(pointer) does not compile: \(error)"]
        }
    }

    /// The compiled schema at `pointer` (a JSON Pointer into the spec).
    public func schema(at pointer: String) throws -> JSONSchema {
        if let compiled = schemas.withLock({ $0[pointer] }) { return compiled }
        let compiled = try JSONSchema(document, at: pointer)
        schemas.withLock { $0[pointer] = compiled }
        return compiled
    }

    /// The response object for `status` under the operation at `operationPointer`: the exact
    /// code, else its range (`4XX`), else `default`; `$ref`s to components followed. Returns
    /// the pointer of the object actually holding it, for resolving its schema.
    private func responseObject(pointer operationPointer: String, status: Int) -> (String, JSONValue)? {
        guard let operation = value(at: operationPointer), case .object(let responses)? = operation["responses"] else { return nil }
        for key in [String(status), "\(status / 100)XX", "default"] where responses.contains(where: { $0.key == key }) {
            return resolved(operationPointer + "/responses/" + key)
        }
        return nil
    }

    /// Follows local `$ref`s from the object at `pointer` to the object they name.
    public func resolved(_ pointer: String) -> (String, JSONValue)? {
        var pointer = pointer
        for _ in 0..<8 {
            guard let object = value(at: pointer) else { return nil }
            guard case .string(let reference)? = object["$ref"] else { return (pointer, object) }
            guard reference.hasPrefix("#") else { return nil }
            pointer = String(reference.dropFirst())
        }
        return nil
    }

    /// The value at a JSON Pointer into the spec.
    public func value(at pointer: String) -> JSONValue? {
        var current = document
        for raw in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object:
                guard let next = current[token] else { return nil }
                current = next
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    /// A `405` for a method the path lacks: the spec's description promises a problem and an
    /// `Allow` listing the path's methods (`HEAD` wherever `GET` is).
    private func methodNotAllowedViolations(_ method: String, _ template: String, _ response: TestResponse) -> [String] {
        guard response.status == 405 else {
            return ["\(method) \(template) is not in the spec, but answered \(response.status) rather than 405"]
        }
        var allowed = Self.httpMethods.filter { document["paths"]?[template]?[$0] != nil }.map { $0.uppercased() }
        if allowed.contains("GET") && !allowed.contains("HEAD") { allowed.append("HEAD") }
        let expected = allowed.sorted().joined(separator: ", ")
        let allow = response.header("allow") ?? "(none)"
        return allow == expected ? [] : ["405 for \(method) \(template) has 'Allow: \(allow)'; the spec's methods are \(expected)"]
    }

    /// Every problem document, on any path, is a `Problem` whose `status` is the answer's.
    private func problemViolations(_ response: TestResponse) -> [String] {
        var found = schemaViolations(of: response.body, against: "/components/schemas/Problem", what: "problem \(response.status)")
        if let parsed = try? JSONParser.parse(response.body), parsed["status"] != .number(Double(response.status)) {
            found.append("the problem's status member is not \(response.status): \(response.text)")
        }
        return found
    }

    /// The media type without parameters or case (`application/json; charset=utf-8` →
    /// `application/json`).
    static func mediaType(_ header: String) -> String {
        header.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// A JSON Pointer token (RFC 6901 §3).
    public static func escape(_ token: String) -> String {
        token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}

/// A response that disagrees with openapi.yaml; thrown by the API tests' request helper.
public struct ContractViolation: Error, CustomStringConvertible {
    public let violations: [String]
    public init(violations: [String]) { self.violations = violations }
    public var description: String {
        "the answer disagrees with openapi.yaml:\n- " + violations.joined(separator: "\n- ")
    }
}

extension OpenAPIContract {
    /// Throws `ContractViolation` unless `response` to `method path` agrees with the spec.
    public func verify(_ method: String, _ path: String, _ response: TestResponse) throws {
        let found = violations(method, path, response)
        if !found.isEmpty { throw ContractViolation(violations: found) }
    }
}
