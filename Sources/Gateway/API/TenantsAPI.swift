import HTTPServer
import JSON
import Runtime

/// `POST/GET /v1/tenants`, `GET/PATCH/DELETE /v1/tenants/{id}` and the tenant's tokens,
/// `POST/GET /v1/tenants/{id}/tokens`, `DELETE /v1/tenants/{id}/tokens/{tokenId}`. The admin
/// manages tenants; a tenant's token may read its own tenant (its quotas), nothing more.
struct TenantsAPI {
    let core: GatewayCore
    let auth: Authenticator

    func register(on router: inout Router) {
        router.route(.post, "/v1/tenants") { request, context in
            try auth.admin(request)
            let body = try jsonBody(request)
            return reply(context, render: show(status: 201)) { done throws(GatewayError) in
                try core.createTenant(body, completion: done)
            }
        }
        router.route(.get, "/v1/tenants") { request, _ in .response(try list(request)) }
        router.route(.get, "/v1/tenants/{id}") { request, _ in
            let id = request.pathParameters["id"] ?? ""
            if case .tenant(let own) = try auth.owner(request), own != id { throw HTTPError(404, "No tenant with id '\(id)'.") }
            return .response(show(status: 200)(try core.tenant(id)))
        }
        router.route(.patch, "/v1/tenants/{id}") { request, context in
            try auth.admin(request)
            let id = request.pathParameters["id"] ?? ""
            _ = try core.tenant(id)
            let body = try jsonBody(request)
            return reply(context, render: show(status: 200)) { done throws(GatewayError) in
                try core.updateTenant(id, fields: body, completion: done)
            }
        }
        router.route(.delete, "/v1/tenants/{id}") { request, context in
            try auth.admin(request)
            return reply(context, render: { HTTPResponse(status: 204) }) { done throws(GatewayError) in
                try core.deleteTenant(request.pathParameters["id"] ?? "", completion: done)
            }
        }
        router.route(.post, "/v1/tenants/{id}/tokens") { request, context in try issueToken(request, context) }
        router.route(.get, "/v1/tenants/{id}/tokens") { request, _ in
            try auth.admin(request)
            let tenant = try core.tenant(request.pathParameters["id"] ?? "")
            var json = JSONObjectWriter()
            json.add("tokens", array: core.store.tenantTokens(of: tenant.id).map { $0.apiJSON() })
            return .response(.json(200, json.finish()))
        }
        router.route(.delete, "/v1/tenants/{id}/tokens/{tokenId}") { request, context in
            try auth.admin(request)
            return reply(context, render: { HTTPResponse(status: 204) }) { done throws(GatewayError) in
                try core.revokeTenantToken(request.pathParameters["id"] ?? "", tokenID: request.pathParameters["tokenId"] ?? "", completion: done)
            }
        }
    }

    private func show(status: Int) -> @Sendable (Tenant) -> HTTPResponse {
        { [core] tenant in
            .json(status, tenant.apiJSON(defaults: core.configuration.tenantDefaults,
                                         subscriptionCount: core.store.subscriptionCount(ofTenant: tenant.id)))
        }
    }

    /// Sorted by id, a page at a time: `?limit=` (1-1000, default 100) after `?after=<id>`.
    private func list(_ request: HTTPRequest) throws -> HTTPResponse {
        try auth.admin(request)
        let limit = try request.queryValue("limit").map { text throws(HTTPError) -> Int in
            guard let value = EventsAPI.decimalInteger(text), (1...1000).contains(value) else { throw HTTPError(400, "'limit' must be 1 to 1000.") }
            return Int(value)
        } ?? 100
        let after = request.queryValue("after")
        let sorted = core.store.tenants().filter { after == nil || $0.id > after! }
        let page = sorted.prefix(limit)
        let defaults = core.configuration.tenantDefaults
        var json = JSONObjectWriter()
        json.add("tenants", array: page.map { $0.apiJSON(defaults: defaults, subscriptionCount: core.store.subscriptionCount(ofTenant: $0.id)) })
        if sorted.count > limit, let last = page.last {
            json.add("next", string: last.id)
        } else {
            json.add("next", raw: Array("null".utf8))
        }
        return .json(200, json.finish())
    }

    /// `{description?, expiresAt?}`; the answer carries the token, shown this once.
    private func issueToken(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        try auth.admin(request)
        let tenantID = request.pathParameters["id"] ?? ""
        _ = try core.tenant(tenantID)
        var description = ""
        var expiresAt: Int64?
        if !request.body.isEmpty {
            let body = try jsonBody(request)
            guard case .object(let members) = body else { throw HTTPError(422, "The body must be an object such as {\"description\": \"CI\", \"expiresAt\": \"2027-01-01T00:00:00Z\"}, or empty.") }
            if let unknown = members.first(where: { $0.key != "description" && $0.key != "expiresAt" }) {
                throw HTTPError(422, "Unknown field '\(unknown.key)'.")
            }
            if let value = body["description"] {
                guard case .string(let text) = value, text.utf8.count <= 1024 else {
                    throw HTTPError(422, "'description' must be a string of at most 1024 bytes.")
                }
                description = text
            }
            if let value = body["expiresAt"], value != .null {
                guard case .string(let text) = value, let time = Timestamp.parse(text) else {
                    throw HTTPError(422, "'expiresAt' must be an RFC 3339 date-time such as 2027-01-01T00:00:00Z, or null.")
                }
                expiresAt = time
            }
        }
        return reply(context, render: { issued in
            var json = JSONObjectWriter()
            json.add("id", string: issued.record.id)
            json.add("tenantId", string: issued.record.tenantID)
            // Shown this once; only its digest is kept.
            json.add("token", string: issued.token)
            json.add("description", string: issued.record.description)
            json.add("expiresAt", raw: issued.record.expiresAt.map { JSONFragment.string(Timestamp.format(microseconds: $0)).bytes } ?? Array("null".utf8))
            json.add("createdAt", string: Timestamp.format(microseconds: issued.record.createdAt))
            return .json(201, json.finish())
        }) { done throws(GatewayError) in
            try core.issueTenantToken(tenantID, description: description, expiresAt: expiresAt, completion: done)
        }
    }
}
