/// A request handler bound to a route.
public typealias RouteHandler = @Sendable (HTTPRequest, RequestContext) -> Reply

/// Routes by method and path template (`/v1/subscriptions/{id}`), matching segment by
/// segment. An unknown path is `404`; a known path without the method is `405` with `Allow`
/// (RFC 9110 §15.5.6). `HEAD` falls back to the `GET` handler; the server drops the body.
public struct Router: HTTPResponder {
    private struct Node: Sendable {
        var literals: [String: Int] = [:]
        var parameter: (name: String, node: Int)?
        var handlers: [HTTPMethod: RouteHandler] = [:]
    }

    private var nodes = [Node()]

    public init() {}

    /// Registers `handler` for `method` on `template`. Segments in braces bind parameters.
    public mutating func add(_ method: HTTPMethod, _ template: String, _ handler: @escaping RouteHandler) {
        var current = 0
        for segment in template.split(separator: "/") {
            if segment.hasPrefix("{") && segment.hasSuffix("}") {
                let name = String(segment.dropFirst().dropLast())
                if let existing = nodes[current].parameter {
                    precondition(existing.name == name, "route \(template): parameter {\(name)} conflicts with {\(existing.name)}")
                    current = existing.node
                } else {
                    nodes.append(Node())
                    nodes[current].parameter = (name, nodes.count - 1)
                    current = nodes.count - 1
                }
            } else if let next = nodes[current].literals[String(segment)] {
                current = next
            } else {
                nodes.append(Node())
                nodes[current].literals[String(segment)] = nodes.count - 1
                current = nodes.count - 1
            }
        }
        precondition(nodes[current].handlers[method] == nil, "route \(method) \(template) registered twice")
        nodes[current].handlers[method] = handler
    }

    public mutating func get(_ template: String, _ handler: @escaping RouteHandler) { add(.get, template, handler) }
    public mutating func post(_ template: String, _ handler: @escaping RouteHandler) { add(.post, template, handler) }
    public mutating func put(_ template: String, _ handler: @escaping RouteHandler) { add(.put, template, handler) }
    public mutating func patch(_ template: String, _ handler: @escaping RouteHandler) { add(.patch, template, handler) }
    public mutating func delete(_ template: String, _ handler: @escaping RouteHandler) { add(.delete, template, handler) }

    /// Registers an `async` handler for low-rate routes. It runs in a detached task (never
    /// on the event loop, and never inheriting an actor that may be blocked); thrown
    /// `HTTPError`s become problem responses, anything else a `500`.
    public mutating func addAsync(
        _ method: HTTPMethod, _ template: String,
        _ handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse
    ) {
        add(method, template) { request, context in
            let pending = context.makePending()
            // High priority: a person or a script is waiting on this answer, while background
            // work sharing the concurrency pool can wait.
            Task.detached(priority: .high) {
                do {
                    pending.complete(try await handler(request))
                } catch let error as HTTPError {
                    pending.complete(error.response)
                } catch {
                    pending.complete(.problem(status: 500, detail: "The request failed unexpectedly."))
                }
            }
            return .pending(pending)
        }
    }

    public func respond(to request: HTTPRequest, context: RequestContext) -> Reply {
        var current = 0
        var parameters: [String: String] = [:]
        for segment in request.path.split(separator: "/") {
            if let next = nodes[current].literals[String(segment)] {
                current = next
            } else if let parameter = nodes[current].parameter {
                guard let value = percentDecode(segment) else {
                    return .response(.problem(status: 400, detail: "The path segment '\(segment)' has an invalid percent-encoding."))
                }
                parameters[parameter.name] = value
                current = parameter.node
            } else {
                return .response(notFound(request))
            }
        }
        let handlers = nodes[current].handlers
        if handlers.isEmpty { return .response(notFound(request)) }
        guard let handler = handlers[request.method] ?? (request.method == .head ? handlers[.get] : nil) else {
            var allowed = handlers.keys.map(\.rawValue)
            if handlers[.get] != nil && handlers[.head] == nil { allowed.append("HEAD") }
            let allow = allowed.sorted().joined(separator: ", ")
            return .response(.problem(
                status: 405, detail: "\(request.method) is not allowed on \(request.path); allowed: \(allow).",
                headers: ["Allow": allow]))
        }
        var request = request
        request.pathParameters = parameters
        return handler(request, context)
    }

    private func notFound(_ request: HTTPRequest) -> HTTPResponse {
        .problem(status: 404, detail: "No resource at \(request.path).")
    }
}
