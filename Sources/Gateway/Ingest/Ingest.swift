import JSON
import JSONSchema

/// Who publishes: the admin (who may name any `source` in the envelope) or a source, whose
/// events always carry its own name.
public enum Publisher: Sendable, Equatable {
    case admin
    case source(String)

    func source(of envelope: EventEnvelope) -> String {
        switch self {
        case .admin: envelope.source ?? "admin"
        case .source(let name): name
        }
    }
}

extension GatewayCore {
    /// The one ingest path, for `POST /v1/events` (one envelope, `headerKey` from its
    /// `Idempotency-Key`) and `POST /v1/events/batch` (many, keyed by their ids): validates
    /// every event before any is stored, chooses ids, computes each key's canonical digest
    /// (`IngestDigest`), and stores them all or none through the store's idempotent append.
    /// A retry through either endpoint answers with the original receipt.
    ///
    /// Returns the result when it is known at once (invalid input, a conflict, only repeats);
    /// otherwise nil, and `completion` gets it once the events are durable (or failed).
    public func ingest(
        _ envelopes: [EventEnvelope], headerKey: String? = nil, from publisher: Publisher, batch: Bool,
        completion: @escaping @Sendable (Result<[EventReceipt], GatewayError>) -> Void
    ) -> Result<[EventReceipt], GatewayError>? {
        var events: [NewEvent] = []
        events.reserveCapacity(envelopes.count)
        var keys = Set<String>()
        for (index, envelope) in envelopes.enumerated() {
            do throws(GatewayError) {
                try checkType(envelope)
                if let tenant = envelope.tenant { try checkAddress(tenant, type: envelope.type) }
                let key = headerKey ?? envelope.id
                if let key {
                    if key.isEmpty || key.utf8.count > 255 { throw .invalid("The Idempotency-Key must be 1 to 255 bytes.") }
                    if batch && !keys.insert(key).inserted { throw .invalid("the id '\(key)' appears twice in the batch.") }
                }
                events.append(NewEvent(
                    id: envelope.id ?? eventIDs.next(), type: envelope.type, source: publisher.source(of: envelope),
                    partitionKey: envelope.partitionKey, occurredAt: envelope.occurredAt, data: envelope.data,
                    idempotencyKey: key,
                    digest: key == nil ? [] : IngestDigest.canonical(
                        type: envelope.type, data: envelope.data, partitionKey: envelope.partitionKey,
                        occurredAt: envelope.occurredAt, producerID: envelope.id, tenant: envelope.tenant),
                    tenant: envelope.tenant, headers: envelope.headers))
            } catch {
                return observed(.failure(batch ? error.inBatch(at: index) : error), events: [], publisher: publisher)
            }
        }
        let stored = events
        let outcome = store.ingest(events) { [self] in
            completion(observed(Self.result(of: $0, batch: batch), events: stored, publisher: publisher))
        }
        return outcome.map { observed(Self.result(of: $0, batch: batch), events: events, publisher: publisher) }
    }

    /// Tells the ingest observer (metrics) what became of a request, and passes its result on.
    private func observed(
        _ result: Result<[EventReceipt], GatewayError>, events: [NewEvent], publisher: Publisher
    ) -> Result<[EventReceipt], GatewayError> {
        guard let observer = configuration.ingestObserver else { return result }
        switch result {
        case .success(let receipts):
            for (event, receipt) in zip(events, receipts) where !receipt.duplicate {
                observer.eventStored(type: event.type, publisher: publisher)
            }
        case .failure(let error):
            observer.ingestRefused(IngestRefusal(status: error.status, hasViolations: !error.violations.isEmpty))
        }
        return result
    }

    private static func result(of outcome: IngestOutcome, batch: Bool) -> Result<[EventReceipt], GatewayError> {
        switch outcome {
        case .stored(let receipts):
            return .success(receipts)
        case .conflict(let index, let conflict):
            let error: GatewayError
            switch conflict {
            case .keyReused(let key):
                error = GatewayError(status: 409, detail: "The key '\(key)' was already used for a different request.")
            case .idTaken(let id):
                error = GatewayError(status: 409, detail: "An event with id '\(id)' already exists.")
            }
            return .failure(batch ? error.inBatch(at: index) : error)
        case .unavailable(let failure):
            return .failure(GatewayError.unavailable(failure))
        }
    }

    /// An event addressed to a tenant goes to that tenant's subscriptions, which receive only
    /// types visible to tenants: one that could reach nobody is refused rather than lost.
    func checkAddress(_ tenant: String, type: String) throws(GatewayError) {
        guard store.hasTenant(tenant) else {
            throw .invalid("No tenant with id '\(tenant)': an event can be addressed only to an existing tenant.")
        }
        guard store.eventType(type)?.isVisibleToTenants == true else {
            throw .invalid("The event type '\(type)' is not visible to tenants, so no subscription of tenant '\(tenant)' could receive it; mark it visible (PUT /v1/event-types/\(type) with \"tenantVisible\": true) or send it without 'tenant'.")
        }
    }

    /// Schema validation and `--require-event-types`.
    func checkType(_ envelope: EventEnvelope) throws(GatewayError) {
        let type = store.eventType(envelope.type)
        guard let type, !type.archived else {
            if configuration.requireEventTypes {
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
            // Offsets count from the start of the body, like every other JSON error.
            throw GatewayError(status: 400, detail: "The body is not valid JSON: at byte \(error.offset + envelope.dataOffset): \(error.message)")
        }
        let violations = schema.validate(data)
        if !violations.isEmpty {
            throw GatewayError(
                status: 422,
                detail: "The data does not match the schema of '\(envelope.type)': \(violations.count) violation(s).",
                violations: violations.map { SchemaViolation(instancePath: "/data" + $0.instancePath, keyword: $0.keyword, message: $0.message) })
        }
    }
}

extension GatewayError {
    /// The same refusal about the batch's event at `index`.
    func inBatch(at index: Int) -> GatewayError {
        var prefixed = self
        prefixed.detail = "events[\(index)]: " + detail
        prefixed.violations = violations.map {
            SchemaViolation(instancePath: "/events/\(index)" + $0.instancePath, keyword: $0.keyword, message: $0.message)
        }
        return prefixed
    }

    /// The store could not write: nothing was acknowledged, try again later (or, for a store
    /// that cannot read back what it wrote, an internal error).
    static func unavailable(_ failure: StoreError) -> GatewayError {
        switch failure.kind {
        case .unavailable: GatewayError(status: 503, detail: "The event was not stored: \(failure).", retryAfter: 30)
        case .corrupt: GatewayError(status: 500, detail: "The event could not be read back: \(failure).")
        case .conflict, .invalid, .notFound: GatewayError.notStored(failure)
        }
    }
}
