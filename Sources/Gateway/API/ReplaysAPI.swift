import HTTPServer
import JSON
import Runtime

/// `POST/GET /v1/subscriptions/{id}/replays`, `GET/DELETE …/replays/{replayId}` and
/// `POST /v1/events/{id}/resend` (issue 9): history delivered again, signed, retried and
/// ordered like live traffic, with the events' own ids as `webhook-id`. Tenants may call
/// them for their own subscriptions and the events delivered to them.
struct ReplaysAPI {
    let core: GatewayCore
    let auth: Authenticator

    func register(on router: inout Router) {
        router.route(.post, "/v1/subscriptions/{id}/replays") { request, context in
            let id = try owned(request)
            let body = try jsonBody(request)
            return reply(context, render: { .json(202, Self.json($0)) }) { done throws(GatewayError) in
                try core.startReplay(id, body, completion: done)
            }
        }
        router.route(.get, "/v1/subscriptions/{id}/replays") { request, _ in
            let id = try owned(request)
            var json = JSONObjectWriter()
            json.add("replays", array: core.store.replays(for: id).map(Self.json))
            return .response(.json(200, json.finish()))
        }
        router.route(.get, "/v1/subscriptions/{id}/replays/{replayId}") { request, _ in
            let replay = try core.replay(try owned(request), request.pathParameters["replayId"] ?? "")
            return .response(.json(200, Self.json(replay)))
        }
        router.route(.delete, "/v1/subscriptions/{id}/replays/{replayId}") { request, context in
            let id = try owned(request)
            return reply(context, render: { .json(200, Self.json($0)) }) { done throws(GatewayError) in
                try core.cancelReplay(id, request.pathParameters["replayId"] ?? "", completion: done)
            }
        }
        router.route(.post, "/v1/events/{id}/resend") { request, context in
            let owner = try auth.owner(request)
            var subscriptionID: String?
            if !request.body.isEmpty {
                let body = try jsonBody(request)
                guard case .object(let members) = body, members.allSatisfy({ $0.key == "subscriptionId" }) else {
                    throw HTTPError(422, "The body must be empty (every matching subscription) or {\"subscriptionId\": \"sub_...\"}.")
                }
                if let value = body["subscriptionId"] {
                    guard case .string(let id) = value else { throw HTTPError(422, "'subscriptionId' must be a string.") }
                    subscriptionID = id
                }
            }
            let eventID = request.pathParameters["id"] ?? ""
            return reply(context, render: { ids in
                var json = JSONObjectWriter()
                json.add("eventId", string: eventID)
                json.add("subscriptions", array: ids.map { JSONFragment.string($0).bytes })
                return .json(202, json.finish())
            }) { done throws(GatewayError) in
                try core.resend(eventID, to: subscriptionID, by: owner, completion: done)
            }
        }
    }

    /// The id of the subscription the path names, if the caller may see it (else 404).
    private func owned(_ request: HTTPRequest) throws -> String {
        try core.subscription(request.pathParameters["id"] ?? "", ownedBy: try auth.owner(request)).id
    }

    static func json(_ replay: ReplayState) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("id", string: replay.id)
        json.add("subscriptionId", string: replay.subscriptionID)
        json.add("status", string: replay.status.rawValue)
        json.add("since", string: Timestamp.format(microseconds: replay.since))
        json.add("until", string: Timestamp.format(microseconds: replay.until))
        json.add("types", array: replay.types.map { JSONFragment.string($0).bytes })
        if let total = replay.total { json.add("total", number: total) } else { json.add("total", raw: Array("null".utf8)) }
        json.add("enqueued", number: replay.enqueued)
        json.add("delivered", number: replay.delivered)
        json.add("deadLettered", number: replay.deadLettered)
        json.add("createdAt", string: Timestamp.format(microseconds: replay.createdAt))
        json.add("updatedAt", string: Timestamp.format(microseconds: replay.updatedAt))
        return json.finish()
    }
}
