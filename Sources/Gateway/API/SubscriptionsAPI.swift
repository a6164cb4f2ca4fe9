import Runtime
import JSON
import Foundation
import HTTPServer

/// `POST/GET /v1/subscriptions`, `GET/PATCH/DELETE /v1/subscriptions/{id}`,
/// `POST /v1/subscriptions/{id}/pause|resume|rotate-secret`. Every change is one journal
/// record holding the subscription's whole configuration.
struct SubscriptionsAPI {
    let core: GatewayCore
    let auth: Authenticator
    let ids = EventIDGenerator(prefix: "sub_")

    func register(on router: inout Router) {
        router.route(.post, "/v1/subscriptions") { request, context in try create(request, context) }
        router.route(.get, "/v1/subscriptions") { request, _ in .response(try list(request)) }
        router.route(.get, "/v1/subscriptions/{id}") { request, _ in .response(try show(request)) }
        router.route(.patch, "/v1/subscriptions/{id}") { request, context in try update(request, context) }
        router.route(.delete, "/v1/subscriptions/{id}") { request, context in try delete(request, context) }
        router.route(.post, "/v1/subscriptions/{id}/pause") { request, context in
            try change(request, context, status: 200) { $0.paused = true }
        }
        router.route(.post, "/v1/subscriptions/{id}/resume") { request, context in
            try change(request, context, status: 200) { subscription in
                subscription.paused = false
                subscription.disabledReason = nil
            }
        }
        router.route(.post, "/v1/subscriptions/{id}/rotate-secret") { request, context in try rotate(request, context) }
        router.route(.get, "/v1/subscriptions/{id}/stats") { request, _ in .response(try stats(request)) }
        router.route(.post, "/v1/subscriptions/{id}/test") { request, context in try ping(request, context) }
        router.route(.get, "/v1/subscriptions/{id}/dead-letters") { request, _ in .response(try deadLetters(request)) }
        router.route(.post, "/v1/subscriptions/{id}/dead-letters/redeliver") { request, context in try redeliver(request, context) }
        router.route(.delete, "/v1/subscriptions/{id}/dead-letters/{eventId}") { request, context in try discard(request, context) }
    }

    /// Sends a `gateway.ping` event to this subscription alone (its patterns and filter do
    /// not apply): a way to check the endpoint, its signature verification and the path.
    private func ping(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let subscription = try existing(request)
        if subscription.disabledReason != nil {
            throw HTTPError(409, "The subscription is disabled (\(subscription.disabledReason ?? "")); resume it first.")
        }
        let id = core.ids.next()
        var data = JSONObjectWriter()
        data.add("subscriptionId", string: subscription.id)
        data.add("message", string: "This is a test event from webhook-gateway.")
        let event = EventRecord(id: id, type: "gateway.ping", source: "gateway", partitionKey: nil, occurredAt: nil,
                                idempotencyKey: nil, bodyDigest: [], data: data.finish(), targetSubscription: subscription.id)
        return core.commit([JournalEntry(kind: .event, payload: event.encode())], context: context) { records in
            .json(202, EventsAPI.receiptJSON(EventReceipt(id: id, sequence: records[0].sequence, receivedAt: records[0].timestamp)))
        }
    }

    /// Delivery counts since the journal began (they survive restarts).
    private func stats(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let subscription = try existing(request)
        let counts = core.state.deliveryCounts(for: subscription.id)
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
        json.add("circuit", string: lane?.circuitOpenedAt == nil ? "closed" : "open")
        json.add("circuitOpenedAt", raw: timestamp(lane?.circuitOpenedAt))
        json.add("nextProbeAt", raw: timestamp(lane?.nextProbeAt))
        return .json(200, json.finish())
    }

    // MARK: - Dead letters

    private func deadLetters(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let subscription = try existing(request)
        var items: [[UInt8]] = []
        for letter in core.state.deadLetters(for: subscription.id) {
            guard let record = try? core.journal.read(letter.location),
                  let event = try? EventRecord.decode(record.payload, includeData: false) else { continue }
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
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let subscription = try existing(request)
        let parked = core.state.deadLetters(for: subscription.id)
        var sequences = parked.map(\.sequence)
        if !request.body.isEmpty {
            let body = try jsonBody(request)
            guard case .object(let members) = body, members.allSatisfy({ $0.key == "eventIds" }),
                  case .array(let ids)? = body["eventIds"] else {
                throw HTTPError(422, "The body must be empty (redeliver all) or {\"eventIds\": [...]}.")
            }
            let wanted = try ids.map { (value) throws(HTTPError) -> UInt64 in
                guard case .string(let id) = value, let entry = core.state.event(id: id) else {
                    throw HTTPError(422, "'eventIds' must list ids of events in this subscription's dead letters.")
                }
                return entry.sequence
            }
            let parkedSet = Set(sequences)
            if let missing = wanted.first(where: { !parkedSet.contains($0) }) {
                throw HTTPError(422, "The event with sequence \(missing) is not a dead letter of this subscription.")
            }
            var seen = Set<UInt64>()
            sequences = wanted.filter { seen.insert($0).inserted }
        }
        let count = sequences.count
        if count == 0 { return .response(.json(200, #"{"redelivered":0}"#)) }
        let change = DeadLettersChangedRecord(subscriptionID: subscription.id, action: .redeliver, sequences: sequences)
        return core.commit([JournalEntry(kind: .deadLettersChanged, payload: change.encode())], context: context) { _ in
            var json = JSONObjectWriter()
            json.add("redelivered", number: count)
            return .json(202, json.finish())
        }
    }

    private func discard(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let subscription = try existing(request)
        let eventID = request.pathParameters["eventId"] ?? ""
        guard let entry = core.state.event(id: eventID),
              core.state.deadLetters(for: subscription.id).contains(where: { $0.sequence == entry.sequence }) else {
            throw HTTPError(404, "The event '\(eventID)' is not a dead letter of this subscription.")
        }
        let change = DeadLettersChangedRecord(subscriptionID: subscription.id, action: .discard, sequences: [entry.sequence])
        return core.commit([JournalEntry(kind: .deadLettersChanged, payload: change.encode())], context: context) { _ in
            HTTPResponse(status: 204)
        }
    }

    private func create(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        let input = try parse(request, partial: false)
        let id = ids.next()
        let subscription: Subscription
        do {
            subscription = try input.build(id: id, defaultSecret: Subscription.generateSecret())
        } catch {
            throw HTTPError(422, error.detail)
        }
        return store(subscription, context, status: 201, checkingTarget: true)
    }

    private func list(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let now = wallClockMicroseconds()
        var json = JSONObjectWriter()
        json.add("subscriptions", array: core.state.subscriptions().map { $0.apiJSON(now: now) })
        return .json(200, json.finish())
    }

    private func show(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        return .json(200, try existing(request).apiJSON(now: wallClockMicroseconds()))
    }

    private func update(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        var subscription = try existing(request)
        let input = try parse(request, partial: true)
        input.apply(to: &subscription)
        return store(subscription, context, status: 200, checkingTarget: input.url != nil)
    }

    private func delete(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let subscription = try existing(request)
        let record = NameRecord(name: subscription.id)
        return core.commit([JournalEntry(kind: .subscriptionDeleted, payload: record.encode())], context: context) { _ in
            HTTPResponse(status: 204)
        }
    }

    /// A new secret signs from now on; the old one keeps signing too until the overlap ends,
    /// so subscribers can switch without dropping a delivery.
    private func rotate(_ request: HTTPRequest, _ context: RequestContext) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        var subscription = try existing(request)
        var overlap = core.configuration.secretRotationOverlap
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
        let now = wallClockMicroseconds()
        let expiry = now + overlap.microseconds
        let previous = subscription.activeSecrets(at: now).first.map { Subscription.Secret(value: $0, expiresAt: expiry) }
        subscription.secrets = [Subscription.Secret(value: Subscription.generateSecret(), expiresAt: nil)] + (previous.map { [$0] } ?? [])
        return store(subscription, context, status: 200)
    }

    private func change(
        _ request: HTTPRequest, _ context: RequestContext, status: Int, _ edit: (inout Subscription) -> Void
    ) throws -> Reply {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        var subscription = try existing(request)
        edit(&subscription)
        return store(subscription, context, status: status)
    }

    // MARK: - Helpers

    private func parse(_ request: HTTPRequest, partial: Bool) throws -> SubscriptionInput {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let body = try jsonBody(request)
        do {
            return try SubscriptionInput(body, partial: partial)
        } catch {
            throw HTTPError(422, error.detail)
        }
    }

    private func existing(_ request: HTTPRequest) throws -> Subscription {
        let id = request.pathParameters["id"] ?? ""
        guard let subscription = core.state.subscription(id) else { throw HTTPError(404, "No subscription with id '\(id)'.") }
        return subscription
    }

    /// Stores the subscription's new configuration. With `checkingTarget`, the URL is first
    /// judged by the target (SSRF) policy; when that needs a DNS lookup, which blocks, it runs
    /// on the core's bounded pool of checking threads rather than the event loop.
    private func store(_ subscription: Subscription, _ context: RequestContext, status: Int, checkingTarget: Bool = false) -> Reply {
        let state = core.state
        let id = subscription.id
        let entry = JournalEntry(kind: .subscriptionUpserted, payload: JSONParser.serialize(subscription.storedJSON()))
        let respond: @Sendable ([JournalRecord]) -> HTTPResponse = { _ in
            guard let stored = state.subscription(id) else {
                return .problem(status: 500, detail: "The subscription was stored but cannot be read back.")
            }
            return .json(status, stored.apiJSON(now: wallClockMicroseconds()))
        }
        guard checkingTarget else { return core.commit([entry], context: context, then: respond) }
        let policy = core.configuration.targetPolicy
        let url = subscription.url
        switch policy.judgeWithoutLookup(url) {
        case .allowed: return core.commit([entry], context: context, then: respond)
        case .refused(let refusal): return .response(HTTPError(422, refusal).response)
        case .needsLookup: break
        }
        let pending = context.makePending()
        let core = self.core
        let queued = core.targetChecks.submit {
            if let refusal = policy.refusal(ofURL: url) {
                pending.complete(HTTPError(422, refusal).response)
            } else {
                core.commit([entry], answering: pending, then: respond)
            }
        }
        if !queued {
            pending.complete(HTTPError(
                503, "Too many subscription URLs are being checked right now; retry shortly.",
                headers: ["Retry-After": "1"]).response)
        }
        return .pending(pending)
    }
}
