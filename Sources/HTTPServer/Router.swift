/// A request handler bound to a route.
public typealias RouteHandler = @Sendable (HTTPRequest, RequestContext) -> Reply

/// Routes by method and path template (`/v1/subscriptions/{id}`), matching segment by
/// segment. An unknown path is `404`; a known path without the method is `405` with `Allow`
/// (RFC 9110 §15.5.6). `HEAD` falls back to the `GET` handler; the server drops the body.
public struct Router: HTTPResponder {
    /// Children and handlers are short arrays scanned in order: a node has a handful of each,
    /// and comparing a few short strings is cheaper than hashing one.
    private struct Node: Sendable {
        var literals: [(segment: String, node: Int)] = []
        var parameter: (name: String, node: Int)?
        var handlers: [(method: HTTPMethod, handler: RouteHandler, route: Int)] = []

        func literal<S: StringProtocol>(_ segment: S) -> Int? {
            for literal in literals where literal.segment == segment { return literal.node }
            return nil
        }

        func handler(for method: HTTPMethod) -> (handler: RouteHandler, route: Int)? {
            for entry in handlers where entry.method == method { return (entry.handler, entry.route) }
            return nil
        }
    }

    private var nodes = [Node()]
    /// Every route in the order it was registered. `HEAD` appears only where it was
    /// registered itself; `GET` routes serve it anyway.
    public private(set) var routes: [Route] = []

    public init() {}

    /// Registers `handler` for `method` on `template`. Segments in braces bind parameters.
    public mutating func add(_ method: HTTPMethod, _ template: String, _ handler: @escaping RouteHandler) {
        var current = 0
        let segments = template.split(separator: "/")
        for segment in segments {
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
            } else if let next = nodes[current].literal(segment) {
                current = next
            } else {
                nodes.append(Node())
                nodes[current].literals.append((String(segment), nodes.count - 1))
                current = nodes.count - 1
            }
        }
        precondition(nodes[current].handler(for: method) == nil, "route \(method) \(template) registered twice")
        nodes[current].handlers.append((method, handler, routes.count))
        // As the tree holds it: empty segments gone (`/v1//events/` is `/v1/events`).
        routes.append(Route(method, segments.isEmpty ? "/" : "/" + segments.joined(separator: "/")))
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
        var segments = PathSegments(request.path)
        while let segment = segments.next() {
            if let next = nodes[current].literal(segment) {
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
        let node = nodes[current]
        if node.handlers.isEmpty { return .response(notFound(request)) }
        guard let (handler, route) = node.handler(for: request.method) ?? (request.method == .head ? node.handler(for: .get) : nil) else {
            var allowed = node.handlers.map(\.method.rawValue)
            if node.handler(for: .get) != nil && node.handler(for: .head) == nil { allowed.append("HEAD") }
            let allow = allowed.sorted().joined(separator: ", ")
            return .response(.problem(
                status: 405, detail: "\(request.method) is not allowed on \(request.path); allowed: \(allow).",
                headers: ["Allow": allow]))
        }
        var request = request
        request.pathParameters = parameters
        context.noteRoute(route)
        return handler(request, context)
    }

    /// A method and the path template it was registered on, as the router serves it:
    /// empty segments gone, parameters in braces (`/v1/subscriptions/{id}`). `HTTPServerObserver`
    /// names a route by its index in `routes`; a contract test compares `routes` with a spec.
    public struct Route: Hashable, Sendable, CustomStringConvertible {
        public let method: HTTPMethod
        public let template: String

        public init(_ method: HTTPMethod, _ template: String) {
            self.method = method
            self.template = template
        }

        public var description: String { "\(method) \(template)" }
    }

    private func notFound(_ request: HTTPRequest) -> HTTPResponse {
        .problem(status: 404, detail: "No resource at \(request.path).")
    }
}

/// The non-empty `/`-separated segments of a path, found by scanning UTF-8 bytes; the
/// generic `split` allocates an array and costs several times more per request.
private struct PathSegments: IteratorProtocol {
    private let path: Substring
    private var position: String.Index

    init(_ path: Substring) {
        self.path = path
        self.position = path.startIndex
    }

    mutating func next() -> Substring? {
        let utf8 = path.utf8
        var start = position
        while start < utf8.endIndex && utf8[start] == UInt8(ascii: "/") { start = utf8.index(after: start) }
        guard start < utf8.endIndex else {
            position = start
            return nil
        }
        var end = start
        while end < utf8.endIndex && utf8[end] != UInt8(ascii: "/") { end = utf8.index(after: end) }
        position = end
        return path[start..<end]
    }
}
