import JSON
import HTTPServer

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
        guard SourceName.isValid(name) else {
            throw HTTPError(422, "'\(name)' is not a valid source name: use 1 to 64 lowercase letters, digits, '_' or '-'.")
        }
        if core.state.source(named: name) != nil { throw HTTPError(409, "A source named '\(name)' already exists.") }
        let token = Tokens.generate(prefix: "src_")
        let record = SourceRecord(name: name, tokenDigest: Authenticator.digest(token))
        return core.commit([JournalEntry(kind: .sourceCreated, payload: record.encode())], context: context) { records in
            var json = JSONObjectWriter()
            json.add("name", string: name)
            // Shown this once; only its digest is kept.
            json.add("token", string: token)
            json.add("createdAt", string: Timestamp.format(microseconds: records[0].timestamp))
            return .json(201, json.finish())
        }
    }

    private func list(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let items = core.state.sources().map { source in
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
        guard core.state.source(named: name) != nil else { throw HTTPError(404, "No source named '\(name)'.") }
        return core.commit([JournalEntry(kind: .sourceRevoked, payload: NameRecord(name: name).encode())], context: context) { _ in
            HTTPResponse(status: 204)
        }
    }
}

/// Random bearer tokens: a prefix that says what they are, then 32 random bytes in hex.
public enum Tokens {
    public static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var characters: [UInt8] = []
        for _ in 0..<32 {
            let byte = UInt8.random(in: 0...255, using: &generator)
            characters.append(hex[Int(byte >> 4)])
            characters.append(hex[Int(byte & 0xF)])
        }
        return prefix + String(decoding: characters, as: UTF8.self)
    }
}
