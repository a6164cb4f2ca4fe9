import HTTPServer
import JSON
import Runtime

/// `POST /v1/sources`, `GET /v1/sources`, `DELETE /v1/sources/{name}`,
/// `POST /v1/sources/{name}/rotate-secret`. A source is a producer with its own token: it
/// may only publish, and its events carry its name. With `verification` it also takes its
/// provider's webhooks at `/in/{name}` (`InboundAPI`).
struct SourcesAPI {
    let core: GatewayCore
    let auth: Authenticator

    func register(on router: inout Router) {
        router.route(.post, "/v1/sources") { request, context in try create(request, context) }
        router.route(.get, "/v1/sources") { request, _ in .response(try list(request)) }
        router.route(.delete, "/v1/sources/{name}") { request, context in try revoke(request, context) }
        router.route(.post, "/v1/sources/{name}/rotate-secret") { request, context in try rotate(request, context) }
    }

    private func create(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let body = try jsonBody(request)
        guard case .object(let members) = body, case .string(let name)? = body["name"] else {
            throw HTTPError(422, "The body must be {\"name\": \"...\"}, with 'verification' for a provider's webhooks.")
        }
        if let unknown = members.first(where: { !["name", "verification", "eventType", "allowedIps"].contains($0.key) }) {
            throw HTTPError(422, "Unknown field '\(unknown.key)'.")
        }
        var inbound: InboundConfiguration?
        if body["verification"] != nil {
            do {
                inbound = try InboundConfiguration(body, sourceName: name)
            } catch {
                throw HTTPError(422, error.detail)
            }
        } else if body["eventType"] != nil || body["allowedIps"] != nil {
            throw HTTPError(422, "'eventType' and 'allowedIps' are for provider webhooks: give 'verification' too.")
        }
        let configured = inbound
        return reply(context, render: { created in
            var json = JSONObjectWriter()
            json.add("name", string: name)
            // Shown this once; only its digest is kept.
            json.add("token", string: created.token)
            json.add("createdAt", string: Timestamp.format(microseconds: created.createdAt))
            Self.addInbound(configured, name: name, to: &json)
            return .json(201, json.finish())
        }) { done throws(GatewayError) in try core.createSource(name, inbound: configured, completion: done) }
    }

    /// The inbound configuration without its secrets, and where the provider posts.
    private static func addInbound(_ inbound: InboundConfiguration?, name: String, to json: inout JSONObjectWriter) {
        guard let inbound else { return }
        json.add("inbound", raw: JSONParser.serialize(inbound.json(showingSecrets: false, now: wallClockMicroseconds())))
        json.add("path", string: "/in/" + name)
    }

    /// What `/in/{name}` did since the gateway started: accepted, duplicates, Slack
    /// challenges, and refusals by reason.
    private static func statistics(_ counts: [InboundOutcome: Int]) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("accepted", number: counts[.accepted] ?? 0)
        json.add("duplicates", number: counts[.duplicate] ?? 0)
        json.add("challenges", number: counts[.challenge] ?? 0)
        var rejected = JSONObjectWriter()
        for outcome in InboundOutcome.allCases where outcome.isRejection {
            if let count = counts[outcome] { rejected.add(outcome.rawValue, number: count) }
        }
        json.add("rejected", raw: rejected.finish())
        return json.finish()
    }

    private func list(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let items = core.store.sources().map { source in
            var json = JSONObjectWriter()
            json.add("name", string: source.name)
            json.add("createdAt", string: Timestamp.format(microseconds: source.createdAt))
            Self.addInbound(source.inbound, name: source.name, to: &json)
            if source.inbound != nil { json.add("stats", raw: Self.statistics(core.inboundStatistics.counts(of: source.name))) }
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

    /// `{"secret": "...", "overlapSeconds"?: N}`: the new secret verifies from now on; those
    /// in force keep verifying until the overlap (default 24 h) has passed, so the provider
    /// can be switched over without a refused delivery.
    private func rotate(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let name = request.pathParameters["name"] ?? ""
        guard let source = core.store.source(named: name) else { throw HTTPError(404, "No source named '\(name)'.") }
        guard source.inbound != nil else { throw HTTPError(409, "The source '\(name)' takes no provider webhooks (it has no verification), so it has no secret to rotate.") }
        let body = try jsonBody(request)
        guard case .object(let members) = body, members.allSatisfy({ ["secret", "overlapSeconds"].contains($0.key) }),
              case .string(let secret)? = body["secret"], !secret.isEmpty, secret.utf8.count <= 512 else {
            throw HTTPError(422, "The body must be {\"secret\": \"<the new secret, 1 to 512 bytes>\", \"overlapSeconds\": 86400}.")
        }
        var overlap: Duration?
        if let value = body["overlapSeconds"] {
            guard value.isInteger, case .number(let seconds) = value, (0...(7 * 86_400)).contains(seconds) else {
                throw HTTPError(422, "'overlapSeconds' must be an integer from 0 to 604800 (7 days).")
            }
            overlap = .seconds(Int(seconds))
        }
        let createdAt = source.createdAt
        return reply(context, render: { rotated in
            var json = JSONObjectWriter()
            json.add("name", string: name)
            json.add("createdAt", string: Timestamp.format(microseconds: createdAt))
            Self.addInbound(rotated, name: name, to: &json)
            return .json(200, json.finish())
        }) { done throws(GatewayError) in
            try core.rotateSourceSecret(name, to: secret, overlap: overlap, completion: done)
        }
    }
}
