import Foundation
import HTTPServer
import JSON
import Runtime

/// `POST/GET /v1/subscriptions`, `GET/PATCH/DELETE /v1/subscriptions/{id}`,
/// `POST /v1/subscriptions/{id}/pause|resume|rotate-secret|test`, `GET …/stats`, and the
/// dead letters. Each change is a core operation; a change names only what it changes.
///
/// The admin and tenants may call every route; a tenant sees only its own subscriptions, and
/// another's id answers 404 before anything else is looked at.
struct SubscriptionsAPI {
    let core: GatewayCore
    let auth: Authenticator

    func register(on router: inout Router) {
        router.route(.post, "/v1/subscriptions") { request, context in
            let owner = try auth.owner(request)
            let body = try jsonBody(request)
            return reply(context, render: Self.show(status: 201)) { done throws(GatewayError) in
                try core.createSubscription(body, by: owner, completion: done)
            }
        }
        router.route(.get, "/v1/subscriptions") { request, _ in .response(try list(request)) }
        router.route(.get, "/v1/subscriptions/{id}") { request, _ in
            .response(.json(200, try owned(request).apiJSON(now: wallClockMicroseconds())))
        }
        router.route(.patch, "/v1/subscriptions/{id}") { request, context in
            // An unknown subscription is 404 before its body is looked at.
            let id = try owned(request).id
            let body = try jsonBody(request)
            return reply(context, render: Self.show(status: 200)) { done throws(GatewayError) in
                try core.updateSubscription(id, fields: body, completion: done)
            }
        }
        router.route(.delete, "/v1/subscriptions/{id}") { request, context in
            let id = try owned(request).id
            return reply(context, render: { HTTPResponse(status: 204) }) { done throws(GatewayError) in
                try core.deleteSubscription(id, completion: done)
            }
        }
        router.route(.post, "/v1/subscriptions/{id}/pause") { request, context in
            let id = try owned(request).id
            return reply(context, render: Self.show(status: 200)) { done throws(GatewayError) in
                try core.setPaused(id, true, completion: done)
            }
        }
        router.route(.post, "/v1/subscriptions/{id}/resume") { request, context in
            let id = try owned(request).id
            return reply(context, render: Self.show(status: 200)) { done throws(GatewayError) in
                try core.setPaused(id, false, completion: done)
            }
        }
        router.route(.post, "/v1/subscriptions/{id}/rotate-secret") { request, context in try rotate(request, context) }
        router.route(.get, "/v1/subscriptions/{id}/stats") { request, _ in .response(try stats(request)) }
        router.route(.post, "/v1/subscriptions/{id}/test") { request, context in
            let id = try owned(request).id
            return reply(context, render: { .json(202, EventsAPI.receiptJSON($0, markingDuplicate: false)) }) { done throws(GatewayError) in
                try core.ping(id, completion: done)
            }
        }
        router.route(.get, "/v1/subscriptions/{id}/dead-letters") { request, _ in .response(try deadLetters(request)) }
        router.route(.post, "/v1/subscriptions/{id}/dead-letters/redeliver") { request, context in try redeliver(request, context) }
        router.route(.delete, "/v1/subscriptions/{id}/dead-letters/{eventId}") { request, context in
            let id = try owned(request).id
            let eventID = request.pathParameters["eventId"] ?? ""
            return reply(context, render: { HTTPResponse(status: 204) }) { done throws(GatewayError) in
                try core.discardDeadLetter(id, eventID: eventID, completion: done)
            }
        }
    }

    /// The subscription the path names, if the caller may see it (else 404, or 401/403 for
    /// the token).
    private func owned(_ request: HTTPRequest) throws -> Subscription {
        try core.subscription(request.pathParameters["id"] ?? "", ownedBy: try auth.owner(request))
    }

    /// The admin's list has every subscription, or one tenant's (`?tenant=`); a tenant's has
    /// its own.
    private func list(_ request: HTTPRequest) throws -> HTTPResponse {
        let owner = try auth.owner(request)
        let subscriptions: [Subscription]
        switch (owner, request.queryValue("tenant")) {
        case (.admin, nil):
            subscriptions = core.store.subscriptions()
        case (.admin, let tenant?):
            subscriptions = core.store.subscriptions(ofTenant: try core.tenant(tenant).id)
        case (.tenant(let own), let tenant):
            if let tenant, tenant != own { throw HTTPError(404, "No tenant with id '\(tenant)'.") }
            subscriptions = core.store.subscriptions(ofTenant: own)
        }
        let now = wallClockMicroseconds()
        var json = JSONObjectWriter()
        json.add("subscriptions", array: subscriptions.map { $0.apiJSON(now: now) })
        return .json(200, json.finish())
    }

    private static func show(status: Int) -> @Sendable (Subscription) -> HTTPResponse {
        { .json(status, $0.apiJSON(now: wallClockMicroseconds())) }
    }

    /// The body is empty (the configured overlap) or `{"overlapSeconds": N}`.
    private func rotate(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        let id = try owned(request).id
        var overlap: Duration?
        if !request.body.isEmpty {
            let body = try jsonBody(request)
            guard case .object(let members) = body else {
                throw HTTPError(422, "The body must be an object such as {\"overlapSeconds\": 3600}, or empty.")
            }
            if let unknown = members.first(where: { $0.key != "overlapSeconds" }) {
                throw HTTPError(422, "Unknown field '\(unknown.key)'.")
            }
            if let value = body["overlapSeconds"] {
                guard value.isInteger, case .number(let seconds) = value, (0...(7 * 86_400)).contains(seconds) else {
                    throw HTTPError(422, "'overlapSeconds' must be an integer from 0 to 604800 (7 days).")
                }
                overlap = .seconds(Int(seconds))
            }
        }
        return reply(context, render: Self.show(status: 200)) { done throws(GatewayError) in
            try core.rotateSecret(id, overlap: overlap, completion: done)
        }
    }

    /// Delivery counts since the journal began (they survive restarts).
    private func stats(_ request: HTTPRequest) throws -> HTTPResponse {
        let subscription = try owned(request)
        let counts = core.store.deliveryCounts(for: subscription.id)
        var json = JSONObjectWriter()
        json.add("pending", number: counts.pending)
        json.add("delivered", number: counts.delivered)
        json.add("deadLettered", number: counts.deadLettered)
        json.add("attempts", number: counts.attempts)
        json.add("failedAttempts", number: counts.failedAttempts)
        let rate = counts.attempts == 0 ? 1.0 : Double(counts.attempts - counts.failedAttempts) / Double(counts.attempts)
        json.add("successRate", raw: Array(String(format: "%.4f", rate).utf8))
        let null = Array("null".utf8)
        func milliseconds(_ microseconds: Int64?) -> [UInt8] {
            microseconds.map { Array(String(format: "%.3f", Double($0) / 1000).utf8) } ?? null
        }
        func timestamp(_ microseconds: Int64?) -> [UInt8] {
            microseconds.map { JSONFragment.string(Timestamp.format(microseconds: $0)).bytes } ?? null
        }
        json.add("latencyP50Ms", raw: milliseconds(counts.p50DurationMicroseconds))
        json.add("latencyP99Ms", raw: milliseconds(counts.p99DurationMicroseconds))
        json.add("lastError", raw: counts.lastError.map { JSONFragment.string($0).bytes } ?? null)
        json.add("lastErrorAt", raw: timestamp(counts.lastErrorAt))
        json.add("status", string: subscription.disabledReason != nil ? "disabled" : (subscription.paused ? "paused" : "active"))
        let lane = core.deliveryStatus.status(of: subscription.id)
        json.add("inFlight", number: lane?.inFlight ?? 0)
        json.add("circuit", string: (lane?.circuit ?? .closed).rawValue)
        json.add("circuitOpenedAt", raw: timestamp(lane?.circuitOpenedAt))
        json.add("nextProbeAt", raw: timestamp(lane?.nextProbeAt))
        return .json(200, json.finish())
    }

    // MARK: - Dead letters

    private func deadLetters(_ request: HTTPRequest) throws -> HTTPResponse {
        let subscription = try owned(request)
        var items: [[UInt8]] = []
        for letter in core.store.deadLetters(for: subscription.id) {
            guard let event = try readingStore({ () throws(StoreError) in try core.store.event(at: letter.event) }) else { continue }
            var json = JSONObjectWriter()
            json.add("eventId", string: event.id)
            json.add("type", string: event.type)
            json.add("sequence", number: Int(letter.sequence))
            json.add("attempts", number: letter.attempts)
            json.add("deadLetteredAt", string: Timestamp.format(microseconds: letter.deadLetteredAt))
            json.add("lastError", string: letter.reason)
            items.append(json.finish())
        }
        var json = JSONObjectWriter()
        json.add("deadLetters", array: items)
        return .json(200, json.finish())
    }

    /// Puts all dead letters (empty body) or those named in `{"eventIds": [...]}` back in line.
    private func redeliver(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        let id = try owned(request).id
        var eventIDs: [String]?
        if !request.body.isEmpty {
            let body = try jsonBody(request)
            guard case .object(let members) = body, members.allSatisfy({ $0.key == "eventIds" }),
                  case .array(let ids)? = body["eventIds"] else {
                throw HTTPError(422, "The body must be empty (redeliver all) or {\"eventIds\": [...]}.")
            }
            eventIDs = try ids.map { (value) throws(HTTPError) -> String in
                guard case .string(let id) = value else {
                    throw HTTPError(422, "'eventIds' must list ids of events in this subscription's dead letters.")
                }
                return id
            }
        }
        return reply(context, render: { count in
            var json = JSONObjectWriter()
            json.add("redelivered", number: count)
            return .json(count == 0 ? 200 : 202, json.finish())
        }) { done throws(GatewayError) in
            try core.redeliverDeadLetters(id, eventIDs: eventIDs, completion: done)
        }
    }
}
