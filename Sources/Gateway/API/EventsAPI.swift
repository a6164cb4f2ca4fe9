import JSONSchema
import JSON
import HTTPServer

/// `POST /v1/events`, `POST /v1/events/batch`, `GET /v1/events`, `GET /v1/events/{id}`.
///
/// Ingest runs on the event loop and never blocks it: the handler validates, hands the
/// record to the journal and returns a pending response that the journal's writer completes
/// after the group-commit `fdatasync` — the `202` is never sent before the event is durable.
struct EventsAPI {
    let core: GatewayCore
    let auth: Authenticator

    func register(on router: inout Router) {
        router.post("/v1/events") { request, context in ingest(request, context) }
        router.post("/v1/events/batch") { request, context in ingestBatch(request, context) }
        // Reads are a `pread` per event from the page cache: short enough for the loop.
        router.route(.get, "/v1/events") { request, _ in .response(try list(request)) }
        router.route(.get, "/v1/events/{id}") { request, _ in .response(try show(request)) }
        router.route(.get, "/v1/events/{id}/attempts") { request, _ in .response(try attempts(request)) }
    }

    // MARK: - Ingest

    /// The token and the content type, checked the same way for single events and batches.
    private func admit(_ request: HTTPRequest) -> Result<Principal, HTTPError> {
        let principal = auth.authenticate(request)
        if case .success = principal, let refusal = Self.requireJSON(request) {
            return .failure(refusal)
        }
        return principal
    }

    private func ingest(_ request: HTTPRequest, _ context: RequestContext) -> Reply {
        let principal: Principal
        switch admit(request) {
        case .success(let caller): principal = caller
        case .failure(let error): return .response(error.response)
        }
        let envelope: EventEnvelope
        do {
            envelope = try withBytes(request.body) { (bytes) throws(IngestError) in try EventEnvelope.parse(bytes) }
            try checkType(envelope)
        } catch {
            return .response(Self.problem(error))
        }
        let source = Self.source(of: envelope, for: principal)
        let key = request.headers["idempotency-key"] ?? envelope.id
        if let key, key.isEmpty || key.utf8.count > 255 {
            return .response(.problem(status: 422, detail: "The Idempotency-Key must be 1 to 255 bytes."))
        }
        let digest = key == nil ? [] : GatewayCore.digest(request.body)
        if let key {
            switch core.state.reserve(key: key, source: source, digest: digest) {
            case .fresh: break
            case .repeated(let entry): return .response(repeatedResponse(entry))
            case .conflict: return .response(Self.keyConflict(key))
            case .inFlight:
                return .response(.problem(
                    status: 409, detail: "A request with the key '\(key)' is still being stored; retry it shortly.",
                    headers: ["Retry-After": "1"]))
            }
        }
        if let id = envelope.id, core.state.event(id: id) != nil {
            if let key { core.state.release(key: key, source: source) }
            return .response(.problem(status: 409, detail: "An event with id '\(id)' already exists."))
        }
        let id = envelope.id ?? core.ids.next()
        let record = EventRecord(
            id: id, type: envelope.type, source: source, partitionKey: envelope.partitionKey,
            occurredAt: envelope.occurredAt, idempotencyKey: key, bodyDigest: digest, data: envelope.data)
        let pending = context.makePending()
        let state = core.state
        core.journal.append([JournalEntry(kind: .event, payload: record.encode())]) { result in
            switch result {
            case .success(let records):
                let receipt = EventReceipt(id: id, sequence: records[0].sequence, receivedAt: records[0].timestamp)
                pending.complete(.json(202, Self.receiptJSON(receipt)))
            case .failure(let error):
                if let key { state.release(key: key, source: source) }
                pending.complete(Self.unavailable(error))
            }
        }
        return .pending(pending)
    }

    /// All events are validated before any is stored; one journal append (one `fdatasync`)
    /// covers the whole batch.
    private func ingestBatch(_ request: HTTPRequest, _ context: RequestContext) -> Reply {
        let principal: Principal
        switch admit(request) {
        case .success(let caller): principal = caller
        case .failure(let error): return .response(error.response)
        }
        let items: [EventEnvelope]
        do {
            items = try withBytes(request.body) { (bytes) throws(IngestError) in try parseBatch(bytes) }
        } catch {
            return .response(Self.problem(error))
        }
        var records: [EventRecord] = []
        var reserved: [(key: String, source: String)] = []
        var results: [BatchResult] = []
        var seenIDs = Set<String>()
        func releaseAll() { for held in reserved { core.state.release(key: held.key, source: held.source) } }
        for (index, envelope) in items.enumerated() {
            let source = Self.source(of: envelope, for: principal)
            var digest: [UInt8] = []
            if let id = envelope.id {
                guard seenIDs.insert(id).inserted else {
                    releaseAll()
                    return .response(.problem(status: 422, detail: "events[\(index)]: the id '\(id)' appears twice in the batch."))
                }
                digest = GatewayCore.digest(envelope.data + Array(envelope.type.utf8))
                switch core.state.reserve(key: id, source: source, digest: digest) {
                case .fresh:
                    reserved.append((id, source))
                case .repeated(let entry):
                    results.append(.repeated(id: id, entry))
                    continue
                case .conflict, .inFlight:
                    releaseAll()
                    return .response(Self.keyConflict(id, index: index))
                }
                if core.state.event(id: id) != nil {
                    releaseAll()
                    return .response(.problem(status: 409, detail: "events[\(index)]: an event with id '\(id)' already exists."))
                }
            }
            let id = envelope.id ?? core.ids.next()
            results.append(.new(id: id, recordIndex: records.count))
            records.append(EventRecord(
                id: id, type: envelope.type, source: source, partitionKey: envelope.partitionKey,
                occurredAt: envelope.occurredAt, idempotencyKey: envelope.id, bodyDigest: digest, data: envelope.data))
        }
        if records.isEmpty {
            return .response(.json(200, batchJSON(results, committed: [])))
        }
        let pending = context.makePending()
        let state = core.state
        let held = reserved
        let outcomes = results
        core.journal.append(records.map { JournalEntry(kind: .event, payload: $0.encode()) }) { result in
            switch result {
            case .success(let committed):
                pending.complete(.json(202, batchJSON(outcomes, committed: committed)))
            case .failure(let error):
                for key in held { state.release(key: key.key, source: key.source) }
                pending.complete(Self.unavailable(error))
            }
        }
        return .pending(pending)
    }

    private enum BatchResult {
        case new(id: String, recordIndex: Int)
        case repeated(id: String, EventIndexEntry)
    }

    private func batchJSON(_ results: [BatchResult], committed: [JournalRecord]) -> [UInt8] {
        let items = results.map { result in
            switch result {
            case .new(let id, let recordIndex):
                let record = committed[recordIndex]
                return Self.receiptJSON(EventReceipt(id: id, sequence: record.sequence, receivedAt: record.timestamp))
            case .repeated(let id, let entry):
                return Self.receiptJSON(EventReceipt(id: id, sequence: entry.sequence, receivedAt: entry.receivedAt), duplicate: true)
            }
        }
        var json = JSONObjectWriter()
        json.add("events", array: items)
        return json.finish()
    }

    /// `{"events": [envelope, ...]}`: each element scanned like a single event.
    private func parseBatch(_ bytes: UnsafeBufferPointer<UInt8>) throws(IngestError) -> [EventEnvelope] {
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
        if elements.count > core.configuration.maxBatchEvents {
            throw IngestError(status: 413, detail: "The batch has \(elements.count) events; the limit is \(core.configuration.maxBatchEvents).")
        }
        var envelopes: [EventEnvelope] = []
        envelopes.reserveCapacity(elements.count)
        for (index, range) in elements.enumerated() {
            do {
                let element = UnsafeBufferPointer(rebasing: bytes[range])
                let envelope = try EventEnvelope.parse(element, offset: range.lowerBound)
                try checkType(envelope)
                envelopes.append(envelope)
            } catch {
                var prefixed = error
                prefixed.detail = "events[\(index)]: " + error.detail
                prefixed.violations = error.violations.map {
                    SchemaViolation(instancePath: "/events/\(index)" + $0.instancePath, keyword: $0.keyword, message: $0.message)
                }
                throw prefixed
            }
        }
        return envelopes
    }

    // MARK: - Reading

    private func list(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let after = try request.queryValue("after").map { text throws(HTTPError) -> UInt64 in
            guard let value = UInt64(text) else { throw HTTPError(400, "'after' must be a sequence number.") }
            return value
        } ?? 0
        let limit = try request.queryValue("limit").map { text throws(HTTPError) -> Int in
            guard let value = Int(text), (1...1000).contains(value) else { throw HTTPError(400, "'limit' must be 1 to 1000.") }
            return value
        } ?? 100
        let since = try request.queryValue("since").map { text throws(HTTPError) -> Int64 in
            guard let value = Timestamp.parse(text) else { throw HTTPError(400, "'since' must be an RFC 3339 date-time.") }
            return value
        }
        let until = try request.queryValue("until").map { text throws(HTTPError) -> Int64 in
            guard let value = Timestamp.parse(text) else { throw HTTPError(400, "'until' must be an RFC 3339 date-time.") }
            return value
        }
        let type = request.queryValue("type")
        // One more than asked tells whether another page exists.
        var entries = core.state.events(after: after, type: type, since: since, until: until, limit: limit + 1)
        let hasMore = entries.count > limit
        if hasMore { entries.removeLast() }
        var items: [[UInt8]] = []
        for entry in entries {
            guard let (event, record) = try core.readEvent(entry) else { continue }
            items.append(Self.eventJSON(event, record))
        }
        var json = JSONObjectWriter()
        json.add("events", array: items)
        if hasMore, let last = entries.last {
            json.add("next", number: Int(last.sequence))
        } else {
            json.add("next", raw: Array("null".utf8))
        }
        return .json(200, json.finish())
    }

    private func show(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let id = request.pathParameters["id"] ?? ""
        guard let entry = core.state.event(id: id), let (event, record) = try core.readEvent(entry) else {
            throw HTTPError(404, "No event with id '\(id)'.")
        }
        return .json(200, Self.eventJSON(event, record))
    }

    /// Every delivery attempt of an event, to every subscription, oldest first.
    private func attempts(_ request: HTTPRequest) throws -> HTTPResponse {
        if let refusal = auth.requireAdmin(request) { throw refusal }
        let id = request.pathParameters["id"] ?? ""
        guard let locations = core.state.attemptLocations(ofEvent: id) else { throw HTTPError(404, "No event with id '\(id)'.") }
        var items: [[UInt8]] = []
        for location in locations {
            guard let record = try? core.journal.read(location),
                  let attempt = try? DeliveryAttemptRecord.decode(record.payload) else { continue }
            var json = JSONObjectWriter()
            json.add("subscriptionId", string: attempt.subscriptionID)
            json.add("attempt", number: Int(attempt.attempt))
            json.add("at", string: Timestamp.format(microseconds: record.timestamp))
            json.add("status", raw: attempt.status.map { Array(String($0).utf8) } ?? Array("null".utf8))
            json.add("error", string: attempt.error)
            json.add("durationMs", raw: Array(String(Double(attempt.durationMicroseconds) / 1000).utf8))
            json.add("response", string: String(decoding: attempt.response, as: UTF8.self))
            json.add("result", string: ["retryScheduled", "delivered", "deadLettered"][Int(attempt.result.rawValue)])
            if attempt.result == .retryScheduled {
                json.add("nextAttemptAt", string: Timestamp.format(microseconds: attempt.nextAttemptAt))
            }
            items.append(json.finish())
        }
        var json = JSONObjectWriter()
        json.add("attempts", array: items)
        return .json(200, json.finish())
    }

    // MARK: - Shared pieces

    /// Schema validation and `--require-event-types`.
    private func checkType(_ envelope: EventEnvelope) throws(IngestError) {
        let type = core.state.eventType(envelope.type)
        guard let type, !type.archived else {
            if core.configuration.requireEventTypes {
                throw .invalid("The event type '\(envelope.type)' is not registered, and this gateway only accepts registered types.")
            }
            return
        }
        guard let schema = type.schema else { return }
        let data: JSONValue
        do {
            // Duplicate names would leave it open which value the schema checked and which one
            // a subscriber reads, so typed events must not have them.
            data = try JSONParser.parse(envelope.data, rejectDuplicateKeys: true)
        } catch {
            throw IngestError(status: 400, detail: "The body is not valid JSON: \(error)")
        }
        let violations = schema.validate(data)
        if !violations.isEmpty {
            throw IngestError(
                status: 422,
                detail: "The data does not match the schema of '\(envelope.type)': \(violations.count) violation(s).",
                violations: violations.map { SchemaViolation(instancePath: "/data" + $0.instancePath, keyword: $0.keyword, message: $0.message) })
        }
    }

    private static func source(of envelope: EventEnvelope, for principal: Principal) -> String {
        switch principal {
        case .admin: envelope.source ?? "admin"
        case .source(let name): name
        }
    }

    private func repeatedResponse(_ entry: EventIndexEntry) -> HTTPResponse {
        guard let (event, _) = try? core.readEvent(entry) else {
            return .problem(status: 500, detail: "The original event could not be read back.")
        }
        return .json(200, Self.receiptJSON(EventReceipt(id: event.id, sequence: entry.sequence, receivedAt: entry.receivedAt)))
    }

    static func receiptJSON(_ receipt: EventReceipt, duplicate: Bool = false) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("id", string: receipt.id)
        json.add("sequence", number: Int(receipt.sequence))
        json.add("receivedAt", string: Timestamp.format(microseconds: receipt.receivedAt))
        if duplicate { json.add("duplicate", bool: true) }
        return json.finish()
    }

    static func eventJSON(_ event: EventRecord, _ record: JournalRecord) -> [UInt8] {
        var json = JSONObjectWriter()
        json.add("id", string: event.id)
        json.add("type", string: event.type)
        json.add("source", string: event.source)
        json.add("sequence", number: Int(record.sequence))
        json.add("receivedAt", string: Timestamp.format(microseconds: record.timestamp))
        if let occurredAt = event.occurredAt { json.add("occurredAt", string: occurredAt) }
        if let partitionKey = event.partitionKey { json.add("partitionKey", string: partitionKey) }
        json.add("data", raw: event.data)
        return json.finish()
    }

    /// `415` unless the body is declared as JSON (`application/json` or `application/*+json`).
    static func requireJSON(_ request: HTTPRequest) -> HTTPError? {
        let contentType = request.headers["content-type"] ?? ""
        let mediaType = contentType.split(separator: ";").first.map { String($0.trimmingOWS()).lowercased() } ?? ""
        if mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) {
            return nil
        }
        return HTTPError(
            415,
            contentType.isEmpty
                ? "The body must be JSON, sent with 'Content-Type: application/json'."
                : "The body must be JSON ('Content-Type: application/json'), not '\(contentType)'.")
    }

    static func problem(_ error: IngestError) -> HTTPResponse {
        guard !error.violations.isEmpty else { return .problem(status: error.status, detail: error.detail) }
        let list = jsonArray(error.violations.map { violation in
            var item = JSONObjectWriter()
            item.add("pointer", string: violation.instancePath)
            item.add("keyword", string: violation.keyword)
            item.add("message", string: violation.message)
            return item.finish()
        })
        return .problem(status: error.status, detail: error.detail, extensions: [("errors", JSONFragment(raw: list))])
    }

    static func keyConflict(_ key: String, index: Int? = nil) -> HTTPResponse {
        let prefix = index.map { "events[\($0)]: " } ?? ""
        return .problem(status: 409, detail: "\(prefix)The key '\(key)' was already used for a different request.")
    }

    /// The journal cannot make anything durable: nothing was acknowledged, try again later.
    static func unavailable(_ error: JournalError) -> HTTPResponse {
        .problem(status: 503, detail: "The event was not stored: \(error).", headers: ["Retry-After": "30"])
    }
}

