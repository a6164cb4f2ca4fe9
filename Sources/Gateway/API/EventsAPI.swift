import HTTPServer
import JSON

/// `POST /v1/events`, `POST /v1/events/batch`, `GET /v1/events`, `GET /v1/events/{id}`,
/// `GET /v1/events/{id}/attempts`.
///
/// Ingest runs on the event loop and never blocks it: the handler parses the body and hands
/// the events to the core's one ingest path, answering from its completion — the `202` is
/// never sent before the events are durable.
struct EventsAPI {
    let core: GatewayCore
    let auth: Authenticator

    func register(on router: inout Router) {
        router.post("/v1/events") { request, context in ingest(request, context, batch: false) }
        router.post("/v1/events/batch") { request, context in ingest(request, context, batch: true) }
        // Reads are a `pread` per event from the page cache: short enough for the loop.
        router.route(.get, "/v1/events") { request, _ in .response(try list(request)) }
        router.route(.get, "/v1/events/{id}") { request, _ in .response(try show(request)) }
        router.route(.get, "/v1/events/{id}/attempts") { request, _ in .response(try attempts(request)) }
    }

    // MARK: - Ingest

    /// The token, the content type and the body, checked the same way for single events and
    /// batches; then the core's ingest. A single event answers with its receipt (`202` when
    /// new, `200` for a repeat); a batch with one receipt per event (`202` when any is new).
    private func ingest(_ request: HTTPRequest, _ context: RequestContext, batch: Bool) -> Reply {
        // Refusals before the core's ingest are counted here; the core counts its own.
        func refused(_ response: HTTPResponse, violations: Bool = false) -> Reply {
            core.configuration.ingestObserver?.ingestRefused(IngestRefusal(status: response.status, hasViolations: violations))
            return .response(response)
        }
        let publisher: Publisher
        switch auth.authenticate(request) {
        case .success(.admin): publisher = .admin
        case .success(.source(let name)): publisher = .source(name)
        case .success(.tenant):
            return refused(HTTPError(403, "A tenant token may not publish events; use the admin token or a source's token.").response)
        case .failure(let error): return refused(error.response)
        }
        if let refusal = Self.requireJSON(request) { return refused(refusal.response) }
        let envelopes: [EventEnvelope]
        do {
            envelopes = try withBytes(request.body) { (bytes) throws(GatewayError) in
                batch ? try parseBatch(bytes) : [try EventEnvelope.parse(bytes)]
            }
        } catch {
            return refused(error.response, violations: !error.violations.isEmpty)
        }
        let headerKey = batch ? nil : request.headers["idempotency-key"]
        return reply(context, render: { receipts in batch ? Self.batchResponse(receipts) : Self.singleResponse(receipts[0]) },
                     nowOrLater: { done in core.ingest(envelopes, headerKey: headerKey, from: publisher, batch: batch, completion: done) })
    }

    private static func singleResponse(_ receipt: EventReceipt) -> HTTPResponse {
        .json(receipt.duplicate ? 200 : 202, receiptJSON(receipt, markingDuplicate: false))
    }

    private static func batchResponse(_ receipts: [EventReceipt]) -> HTTPResponse {
        var json = JSONObjectWriter()
        json.add("events", array: receipts.map { receiptJSON($0, markingDuplicate: true) })
        return .json(receipts.allSatisfy(\.duplicate) ? 200 : 202, json.finish())
    }

    /// `{"events": [envelope, ...]}`: each element scanned like a single event.
    private func parseBatch(_ bytes: UnsafeBufferPointer<UInt8>) throws(GatewayError) -> [EventEnvelope] {
        let members: [JSONMember]
        do {
            members = try JSONParser.scanObject(bytes)
        } catch {
            throw EventEnvelope.classify(error, in: bytes, what: "The batch")
        }
        guard let events = members.first(where: { $0.key == "events" }), events.kind == .array else {
            throw .invalid("The batch must be an object with an 'events' array.")
        }
        let elements = JSONArrayElements.ranges(in: bytes, array: events.valueRange)
        if elements.isEmpty { throw .invalid("The batch has no events.") }
        let limit = core.configuration.maxBatchEvents
        if elements.count > limit {
            throw GatewayError(status: 413, detail: "The batch has \(elements.count) events; the limit is \(limit).")
        }
        var envelopes: [EventEnvelope] = []
        envelopes.reserveCapacity(elements.count)
        for (index, range) in elements.enumerated() {
            do throws(GatewayError) {
                envelopes.append(try EventEnvelope.parse(UnsafeBufferPointer(rebasing: bytes[range]), offset: range.lowerBound))
            } catch {
                throw error.inBatch(at: index)
            }
        }
        return envelopes
    }

    // MARK: - Reading

    private func list(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        var query = EventQuery()
        // Sequences are shown as JSON integers within int64 (openapi.yaml's `Sequence`), so a
        // cursor is one of those: 0 to 2^63-1.
        query.after = try request.queryValue("after").map { text throws(HTTPError) -> UInt64 in
            guard let value = Self.decimalInteger(text), value >= 0 else {
                throw HTTPError(400, "'after' must be a sequence number from 0 to 9223372036854775807.")
            }
            return UInt64(value)
        } ?? 0
        let limit = try request.queryValue("limit").map { text throws(HTTPError) -> Int in
            guard let value = Self.decimalInteger(text), (1...1000).contains(value) else { throw HTTPError(400, "'limit' must be 1 to 1000.") }
            return Int(value)
        } ?? 100
        query.since = try request.queryValue("since").map { text throws(HTTPError) -> Int64 in
            guard let value = Timestamp.parse(text) else { throw HTTPError(400, "'since' must be an RFC 3339 date-time.") }
            return value
        }
        query.until = try request.queryValue("until").map { text throws(HTTPError) -> Int64 in
            guard let value = Timestamp.parse(text) else { throw HTTPError(400, "'until' must be an RFC 3339 date-time.") }
            return value
        }
        query.type = request.queryValue("type")
        // One more than asked tells whether another page exists.
        query.limit = limit + 1
        var events = try readingStore { () throws(StoreError) in try core.store.events(query) }
        let hasMore = events.count > limit
        if hasMore { events.removeLast() }
        var json = JSONObjectWriter()
        json.add("events", array: events.map(Self.eventJSON))
        if hasMore, let last = events.last {
            json.add("next", number: Int(last.sequence))
        } else {
            json.add("next", raw: Array("null".utf8))
        }
        return .json(200, json.finish())
    }

    /// A tenant reads only events delivered to it; any other is 404, as if it did not exist.
    private func show(_ request: HTTPRequest) throws -> HTTPResponse {
        let owner = try auth.owner(request)
        let id = request.pathParameters["id"] ?? ""
        guard let event = try readingStore({ () throws(StoreError) in try core.store.event(id: id) }) else {
            throw notFound(id)
        }
        if case .tenant(let tenant) = owner, try core.tenantView(of: event, tenant: tenant) == nil {
            throw HTTPError(404, "No event with id '\(id)'.")
        }
        return .json(200, Self.eventJSON(event))
    }

    /// A query integer as openapi.yaml writes one: decimal digits with an optional `-`, within
    /// int64. Swift's `Int64(_:)` would also take a leading `+`, which no spec reader expects.
    static func decimalInteger(_ text: String) -> Int64? {
        let digits = text.utf8.first == UInt8(ascii: "-") ? text.utf8.dropFirst() : text.utf8[...]
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int64(text)
    }

    /// 404 for an id not found, saying so when it names an event older than what retention
    /// keeps (the gateway's ids carry their creation time; a producer's own id cannot be
    /// dated, so its answer says it may have expired).
    private func notFound(_ id: String) -> HTTPError {
        guard let horizon = core.store.retainedSince else { return HTTPError(404, "No event with id '\(id)'.") }
        if let minted = EventID.creationTime(of: id) {
            if minted < horizon {
                return HTTPError(404, "The event '\(id)' has expired: it is older than the retention period, and events before \(Timestamp.format(microseconds: horizon)) have been deleted.")
            }
            return HTTPError(404, "No event with id '\(id)'.")
        }
        return HTTPError(404, "No event with id '\(id)' (it may have expired: events before \(Timestamp.format(microseconds: horizon)) have been deleted).")
    }

    /// Every delivery attempt of an event, to every subscription, oldest first; for a tenant,
    /// those to its own subscriptions of an event delivered to it.
    private func attempts(_ request: HTTPRequest) throws -> HTTPResponse {
        let owner = try auth.owner(request)
        let id = request.pathParameters["id"] ?? ""
        let attempts: [AttemptEntry]
        switch owner {
        case .admin:
            guard let all = try readingStore({ () throws(StoreError) in try core.store.attempts(ofEvent: id) }) else {
                throw notFound(id)
            }
            attempts = all
        case .tenant(let tenant):
            guard let event = try readingStore({ () throws(StoreError) in try core.store.event(id: id) }) else { throw notFound(id) }
            guard let own = try core.tenantView(of: event, tenant: tenant) else { throw HTTPError(404, "No event with id '\(id)'.") }
            attempts = own
        }
        let items = attempts.map { entry in
            let attempt = entry.outcome
            var json = JSONObjectWriter()
            json.add("subscriptionId", string: attempt.subscriptionID)
            json.add("attempt", number: Int(attempt.attempt))
            json.add("at", string: Timestamp.format(microseconds: entry.recordedAt))
            json.add("status", raw: attempt.status.map { Array(String($0).utf8) } ?? Array("null".utf8))
            json.add("error", string: attempt.error)
            json.add("durationMs", raw: Array(String(Double(attempt.durationMicroseconds) / 1000).utf8))
            json.add("response", string: String(decoding: attempt.response, as: UTF8.self))
            json.add("result", string: ["retryScheduled", "delivered", "deadLettered"][Int(attempt.result.rawValue)])
            if attempt.result == .retryScheduled {
                json.add("nextAttemptAt", string: Timestamp.format(microseconds: attempt.nextAttemptAt))
            }
            return json.finish()
        }
        var json = JSONObjectWriter()
        json.add("attempts", array: items)
        return .json(200, json.finish())
    }

    // MARK: - Shared pieces

    static func receiptJSON(_ receipt: EventReceipt, markingDuplicate: Bool) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("id", string: receipt.id)
        json.add("sequence", number: Int(receipt.sequence))
        json.add("receivedAt", string: Timestamp.format(microseconds: receipt.receivedAt))
        if markingDuplicate && receipt.duplicate { json.add("duplicate", bool: true) }
        return json.finish()
    }

    static func eventJSON(_ event: StoredEvent) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("id", string: event.id)
        json.add("type", string: event.type)
        json.add("source", string: event.source)
        json.add("sequence", number: Int(event.sequence))
        json.add("receivedAt", string: Timestamp.format(microseconds: event.receivedAt))
        if let occurredAt = event.occurredAt { json.add("occurredAt", string: occurredAt) }
        if let partitionKey = event.partitionKey { json.add("partitionKey", string: partitionKey) }
        if let tenant = event.tenant { json.add("tenant", string: tenant) }
        if !event.headers.isEmpty {
            // Lowercase names; a header sent twice is one value, joined as RFC 9110 §5.3 allows.
            var merged: [(name: String, value: String)] = []
            for header in event.headers {
                let name = header.name.lowercased()
                if let index = merged.firstIndex(where: { $0.name == name }) {
                    merged[index].value += ", " + header.value
                } else {
                    merged.append((name, header.value))
                }
            }
            var headers = JSONObjectWriter()
            for header in merged { headers.add(header.name, string: header.value) }
            json.add("headers", raw: headers.finish())
        }
        json.add("data", raw: event.data)
        return json.finish()
    }

    /// `415` unless the body is declared as JSON (`application/json` or `application/*+json`,
    /// parameters ignored). Checked on the header's bytes: it runs for every event.
    static func requireJSON(_ request: HTTPRequest) -> HTTPError? {
        let contentType = request.headers["content-type"] ?? ""
        if isJSONMediaType(contentType.utf8) { return nil }
        return HTTPError(
            415,
            contentType.isEmpty
                ? "The body must be JSON, sent with 'Content-Type: application/json'."
                : "The body must be JSON ('Content-Type: application/json'), not '\(contentType)'.")
    }

    /// The media type before any `;`, without surrounding whitespace, compared without case
    /// (RFC 9110 §8.3.1).
    static func isJSONMediaType(_ value: String.UTF8View) -> Bool {
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var type = value.prefix { $0 != UInt8(ascii: ";") }.drop(while: isSpace)
        while let last = type.last, isSpace(last) { type = type.dropLast() }
        func matches(_ part: Substring.UTF8View.SubSequence, _ text: StaticString) -> Bool {
            text.withUTF8Buffer { expected in
                part.count == expected.count && zip(part, expected).allSatisfy { lower($0) == $1 }
            }
        }
        func lower(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte | 0x20 : byte }
        if matches(type[...], "application/json") { return true }
        let prefix = "application/".utf8.count, suffix = "+json".utf8.count
        guard type.count > prefix + suffix else { return false }
        return matches(type.prefix(prefix), "application/") && matches(type.suffix(suffix), "+json")
    }
}
