import HTTPServer
import JSON

/// `PUT/GET/DELETE /v1/event-types/{name}`, `GET /v1/event-types`. Registering a type with a
/// schema makes ingest validate events of that type; deleting archives it (old events stay).
/// Tenants may read the types visible to them (what they can subscribe to), nothing else.
struct EventTypesAPI {
    let core: GatewayCore
    let auth: Authenticator

    func register(on router: inout Router) {
        router.route(.put, "/v1/event-types/{name}") { request, context in try put(request, context) }
        router.route(.get, "/v1/event-types") { request, _ in .response(try list(request)) }
        router.route(.get, "/v1/event-types/{name}") { request, _ in .response(try show(request)) }
        router.route(.delete, "/v1/event-types/{name}") { request, context in try archive(request, context) }
    }

    private func put(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let name = request.pathParameters["name"] ?? ""
        // A bad name is 422 before the body is looked at.
        try GatewayCore.checkEventTypeName(name)
        let body = try jsonBody(request)
        guard case .object = body else { throw HTTPError(422, "The body must be an object with 'description' and 'schema'.") }
        var description = ""
        if let value = body["description"] {
            guard case .string(let text) = value else { throw HTTPError(422, "'description' must be a string.") }
            description = text
        }
        var tenantVisible = false
        if let value = body["tenantVisible"] {
            guard case .bool(let flag) = value else { throw HTTPError(422, "'tenantVisible' must be true or false.") }
            tenantVisible = flag
        }
        return reply(context, render: { stored in .json(stored.created ? 201 : 200, Self.json(stored.type)) }) { done throws(GatewayError) in
            try core.putEventType(name, description: description, schema: body["schema"], tenantVisible: tenantVisible, completion: done)
        }
    }

    private func list(_ request: HTTPRequest) throws -> HTTPResponse {
        let owner = try auth.owner(request)
        // Only the two values the contract names: a typo such as `archived=yes` or `=1` is
        // told, not silently read as "no".
        let includeArchived: Bool
        switch request.queryValue("archived") {
        case nil, "false": includeArchived = false
        case "true": includeArchived = true
        default: throw HTTPError(400, "'archived' must be true or false.")
        }
        let types = core.store.eventTypes().filter {
            owner == .admin ? includeArchived || !$0.archived : $0.isVisibleToTenants
        }
        var json = JSONObjectWriter()
        json.add("eventTypes", array: types.map(Self.json))
        return .json(200, json.finish())
    }

    private func show(_ request: HTTPRequest) throws -> HTTPResponse {
        let owner = try auth.owner(request)
        let name = request.pathParameters["name"] ?? ""
        guard let type = core.store.eventType(name), owner == .admin || type.isVisibleToTenants else {
            throw HTTPError(404, "No event type '\(name)'.")
        }
        return .json(200, Self.json(type))
    }

    private func archive(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let name = request.pathParameters["name"] ?? ""
        return reply(context, render: { HTTPResponse(status: 204) }) { done throws(GatewayError) in
            try core.archiveEventType(name, completion: done)
        }
    }

    static func json(_ type: EventTypeState) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("name", string: type.name)
        json.add("description", string: type.description)
        json.add("schema", raw: type.schemaText.isEmpty ? Array("null".utf8) : type.schemaText)
        json.add("archived", bool: type.archived)
        json.add("tenantVisible", bool: type.tenantVisible)
        json.add("createdAt", string: Timestamp.format(microseconds: type.createdAt))
        json.add("updatedAt", string: Timestamp.format(microseconds: type.updatedAt))
        return json.finish()
    }
}
