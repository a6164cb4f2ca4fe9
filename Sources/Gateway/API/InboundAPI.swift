import HTTPServer
import JSON
import Runtime
import TargetPolicy

/// `POST /in/{source}`: a provider's webhook (issue 12). No bearer token: the signature is
/// the authentication. In order: the source (404), its IP allowlist (403), the signature
/// (401, the detail naming the check that failed), Slack's challenge (answered at once), the
/// event type, then the same durable ingest as `POST /v1/events` — `202` once stored, `200`
/// for a repeated delivery (the provider's delivery id is the idempotency key).
struct InboundAPI {
    let core: GatewayCore

    func register(on router: inout Router) {
        router.route(.post, "/in/{source}") { request, context in try receive(request, context) }
    }

    private func receive(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        let name = request.pathParameters["source"] ?? ""
        guard let source = core.store.source(named: name), let inbound = source.inbound else {
            throw HTTPError(404, "No source '\(name)' takes provider webhooks.")
        }
        let observe: @Sendable (InboundOutcome) -> Void = { [core] outcome in
            core.inboundStatistics.record(name, outcome)
            core.configuration.inboundObserver?.inboundRequest(source: name, outcome: outcome)
        }
        if !inbound.allowedNetworks.isEmpty {
            guard let peer = context.peer, let address = IPAddress(peer.host), inbound.allows(address) else {
                observe(.ipNotAllowed)
                throw HTTPError(403, "Requests to this source are not accepted from this address.")
            }
        }
        let received = InboundRequest(headers: request.headers.map { ($0.name, $0.value) }, body: request.body)
        let verified: VerifiedRequest
        switch ProviderVerifier.verify(received, with: inbound.verification, now: wallClockMicroseconds()) {
        case .success(let result): verified = result
        case .failure(let failure):
            observe(InboundOutcome(failure.check))
            throw HTTPError(401, "The request is not verified (\(failure.check.rawValue)): \(failure.detail)")
        }
        if let challenge = verified.challenge {
            observe(.challenge)
            var json = JSONObjectWriter()
            json.add("challenge", string: challenge)
            return .response(.json(200, json.finish()))
        }
        let (data, isJSON) = Self.data(of: request, knownJSON: verified.bodyIsJSONObject)
        // A tree of the body only when a JSON pointer needs one.
        var parsed: JSONValue?
        if isJSON, case .pointer = inbound.eventType.source { parsed = try? JSONParser.parse(data) }
        let type = inbound.eventType.type(of: received, verified: verified, body: parsed)
        var envelope = EventEnvelope(type: type, data: data)
        envelope.headers = Self.keptHeaders(request, verification: inbound.verification)
        return reply(context, render: { receipts in
            .json(receipts[0].duplicate ? 200 : 202, EventsAPI.receiptJSON(receipts[0], markingDuplicate: true))
        }, nowOrLater: { done in
            let counted: @Sendable (Result<[EventReceipt], GatewayError>) -> Result<[EventReceipt], GatewayError> = { result in
                switch result {
                case .success(let receipts): observe(receipts[0].duplicate ? .duplicate : .accepted)
                case .failure(let error): observe(error.status >= 500 ? .unavailable : .refused)
                }
                return result
            }
            return core.ingest([envelope], headerKey: verified.deliveryID, from: .source(name), batch: false) { done(counted($0)) }
                .map(counted)
        })
    }

    /// Headers never kept: credentials and signatures (whoever reads an event must not be
    /// able to replay the request), and what describes the connection rather than the event.
    static let droppedHeaders: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "x-gitlab-token", "x-hub-signature", "x-hub-signature-256",
        "stripe-signature", "x-shopify-hmac-sha256", "x-slack-signature", "webhook-signature", "svix-signature",
        "host", "connection", "keep-alive", "content-length", "transfer-encoding", "te", "trailer", "upgrade", "expect",
    ]
    static let keptHeaderLimit = 50

    /// The provider's headers a subscriber may need (`X-GitHub-Event`, `X-Shopify-Shop-Domain`,
    /// `webhook-id`, `Content-Type`, ...), kept with the event: every header but the dropped
    /// ones and the `hmac` scheme's own signature header, at most 50, values of at most 1 KiB.
    static func keptHeaders(_ request: HTTPRequest, verification: VerificationSettings) -> [(name: String, value: String)] {
        let signature = verification.header?.lowercased()
        var kept: [(name: String, value: String)] = []
        for field in request.headers where kept.count < keptHeaderLimit && field.value.utf8.count <= 1024 {
            let name = field.name.lowercased()
            if droppedHeaders.contains(name) || name == signature { continue }
            kept.append((field.name, field.value))
        }
        return kept
    }

    /// The body as the event's `data`: a JSON body as it came, byte for byte; anything else
    /// (form-encoded, XML, text, binary) as `{"contentType": ..., "body": "<text>"}`, or
    /// `"bodyBase64"` when it is not UTF-8 — delivered faithfully, never reinterpreted.
    /// `knownJSON`: the verifier already found it one strict JSON object.
    static func data(of request: HTTPRequest, knownJSON: Bool) -> (data: [UInt8], isJSON: Bool) {
        let contentType = request.headers["content-type"] ?? ""
        if EventsAPI.isJSONMediaType(contentType.utf8), knownJSON || (try? JSONParser.validate(request.body)) != nil {
            return (request.body, true)
        }
        var json = JSONObjectWriter()
        json.add("contentType", string: contentType)
        if let text = String(validating: request.body, as: UTF8.self) {
            json.add("body", string: text)
        } else {
            json.add("bodyBase64", string: Base64.encode(request.body))
        }
        return (json.finish(), false)
    }
}
