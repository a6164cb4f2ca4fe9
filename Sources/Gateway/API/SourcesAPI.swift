import HTTPServer
import JSON

/// `POST /v1/sources`, `GET /v1/sources`, `DELETE /v1/sources/{name}`. A source is a
/// producer with its own token: it may only publish, and its events carry its name.
struct SourcesAPI {
    let core: GatewayCore
    let auth: Authenticator

    func register(on router: inout Router) {
        router.route(.post, "/v1/sources") { request, context in try create(request, context) }
        router.route(.get, "/v1/sources") { request, _ in .response(try list(request)) }
        router.route(.delete, "/v1/sources/{name}") { request, context in try revoke(request, context) }
    }

    private func create(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let body = try jsonBody(request)
        guard case .string(let name)? = body["name"] else { throw HTTPError(422, "The body must be {\"name\": \"...\"}.") }
        return reply(context, render: { created in
            var json = JSONObjectWriter()
            json.add("name", string: name)
            // Shown this once; only its digest is kept.
            json.add("token", string: created.token)
            json.add("createdAt", string: Timestamp.format(microseconds: created.createdAt))
            return .json(201, json.finish())
        }) { done throws(GatewayError) in try core.createSource(name, completion: done) }
    }

    private func list(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let items = core.store.sources().map { source in
            var json = JSONObjectWriter()
            json.add("name", string: source.name)
            json.add("createdAt", string: Timestamp.format(microseconds: source.createdAt))
            return json.finish()
        }
        var json = JSONObjectWriter()
        json.add("sources", array: items)
        return .json(200, json.finish())
    }

    private func revoke(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let name = request.pathParameters["name"] ?? ""
        return reply(context, render: { HTTPResponse(status: 204) }) { done throws(GatewayError) in
            try core.revokeSource(name, completion: done)
        }
    }
}
