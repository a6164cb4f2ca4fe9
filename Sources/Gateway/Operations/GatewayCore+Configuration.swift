import JSON
import JSONSchema
import Runtime

/// How an operation's result arrives: refusals known at once are thrown by the operation;
/// the rest comes here once the change is durable (or could not be stored), on a thread of
/// the store's.
public typealias OperationCompletion<Value> = @Sendable (Result<Value, GatewayError>) -> Void

// MARK: - Event types

extension GatewayCore {
    /// Registers (or replaces) an event type; a schema is compiled first and refused if it
    /// cannot be used. Completes with the stored type and whether it is new.
    public func putEventType(
        _ name: String, description: String, schema: JSONValue?, tenantVisible: Bool = false,
        completion: @escaping OperationCompletion<(type: EventTypeState, created: Bool)>
    ) throws(GatewayError) {
        try Self.checkEventTypeName(name)
        var schemaText: [UInt8] = []
        if let schema, schema != .null {
            do {
                _ = try JSONSchema(schema)
            } catch {
                throw .invalid("The schema cannot be used: \(error)")
            }
            schemaText = JSONParser.serialize(schema)
        }
        let existed = store.eventType(name).map { !$0.archived } ?? false
        let store = self.store
        store.commit(.eventTypeUpserted(name: name, description: description, schema: schemaText, tenantVisible: tenantVisible)) { result in
            completion(result.mapError(GatewayError.notStored).flatMap { _ in
                guard let stored = store.eventType(name) else { return .failure(Self.unreadable("event type")) }
                return .success((stored, !existed))
            })
        }
    }

    public static func checkEventTypeName(_ name: String) throws(GatewayError) {
        guard EventTypeName.isValid(name) else {
            throw .invalid("'\(name)' is not a valid event type name: use dot-separated lowercase segments such as 'payment.processed'.")
        }
    }

    /// Archives a type: new events of it are no longer validated; old ones stay readable.
    public func archiveEventType(_ name: String, completion: @escaping OperationCompletion<Void>) throws(GatewayError) {
        guard let type = store.eventType(name), !type.archived else { throw .notFound("No event type '\(name)'.") }
        store.commit(.eventTypeArchived(name: name)) { completion($0.map { _ in () }.mapError(GatewayError.notStored)) }
    }

    static func unreadable(_ what: String) -> GatewayError {
        GatewayError(status: 500, detail: "The \(what) was stored but cannot be read back.")
    }
}

// MARK: - Sources

extension GatewayCore {
    /// Creates a producer with its own token, shown to the caller this once; only its
    /// SHA-256 digest is stored. Two creates of one name cannot both succeed.
    public func createSource(
        _ name: String, inbound: InboundConfiguration? = nil, completion: @escaping OperationCompletion<(token: String, createdAt: Int64)>
    ) throws(GatewayError) {
        guard SourceName.isValid(name) else {
            throw .invalid("'\(name)' is not a valid source name: use 1 to 64 lowercase letters, digits, '_' or '-'.")
        }
        let token = Tokens.generate(prefix: "src_")
        let refusal = store.createSource(name: name, tokenDigest: Tokens.digest(token), inbound: inbound) { result in
            completion(result.map { (token, $0.timestamp) }.mapError(GatewayError.notStored))
        }
        if refusal == .nameTaken { throw .conflict("A source named '\(name)' already exists.") }
    }

    /// A new secret verifies a source's provider webhooks from now on; those in force keep
    /// verifying until `overlap` (default `secretRotationOverlap`) has passed.
    public func rotateSourceSecret(
        _ name: String, to secret: String, overlap: Duration?, completion: @escaping OperationCompletion<InboundConfiguration>
    ) throws(GatewayError) {
        guard var inbound = store.source(named: name)?.inbound else { throw .notFound("No source named '\(name)' with verification.") }
        let now = wallClockMicroseconds()
        let expiry = now + (overlap ?? configuration.secretRotationOverlap).microseconds
        let previous = inbound.verification.secrets.filter { ($0.expiresAt ?? .max) > now }
            .map { SourceSecret(value: $0.value, expiresAt: min($0.expiresAt ?? .max, expiry)) }
        inbound.verification.secrets = [SourceSecret(value: secret)] + previous
        let store = self.store
        store.commit(.sourceConfigured(name: name, inbound)) { result in
            completion(result.mapError(GatewayError.notStored).flatMap { _ in
                store.source(named: name)?.inbound.map(Result.success) ?? .failure(.notFound("No source named '\(name)'."))
            })
        }
    }

    public func revokeSource(_ name: String, completion: @escaping OperationCompletion<Void>) throws(GatewayError) {
        guard store.source(named: name) != nil else { throw .notFound("No source named '\(name)'.") }
        store.commit(.sourceRevoked(name: name)) { completion($0.map { _ in () }.mapError(GatewayError.notStored)) }
    }
}

// MARK: - Subscriptions

extension GatewayCore {
    public func subscription(_ id: String) throws(GatewayError) -> Subscription {
        guard let subscription = store.subscription(id) else { throw .notFound("No subscription with id '\(id)'.") }
        return subscription
    }

    /// Creates a subscription from the API's JSON; a `whsec_` secret is generated when none
    /// is given, and the URL is judged by the target policy before anything is stored.
    ///
    /// A tenant's subscription (made with its token, or by the admin naming `tenantId`)
    /// names only visible event types and counts against the tenant's `maxSubscriptions`.
    public func createSubscription(
        _ body: JSONValue, by ownership: Ownership = .admin, completion: @escaping OperationCompletion<Subscription>
    ) throws(GatewayError) {
        var fields = body
        var tenantID = ownership.tenantID
        if case .object(var members) = body, let index = members.firstIndex(where: { $0.key == "tenantId" }) {
            let value = members.remove(at: index).value
            fields = .object(members)
            guard case .string(let named) = value else { throw .invalid("'tenantId' must be a tenant's id.") }
            switch ownership {
            case .admin:
                guard store.tenant(named) != nil else { throw .invalid("No tenant with id '\(named)'.") }
                tenantID = named
            case .tenant(let own):
                // Its own id is what it would be anyway; another's is one it cannot see.
                guard named == own else { throw .notFound("No tenant with id '\(named)'.") }
            }
        }
        var subscription: Subscription
        do {
            subscription = try SubscriptionInput(fields, partial: false).build(
                id: subscriptionIDs.next(), defaultSecret: Subscription.generateSecret())
        } catch {
            throw .invalid(error.detail)
        }
        subscription.tenantID = tenantID
        var limit: Int?
        if let tenantID {
            try checkVisible(subscription.eventTypes)
            let quota = configuration.tenantDefaults.effective(try tenant(tenantID).quotas).maxSubscriptions
            limit = quota
            if store.subscriptionCount(ofTenant: tenantID) >= quota ?? .max { throw Self.quotaReached(tenantID, limit: quota ?? 0) }
        }
        try checkTarget(subscription.url) { [store, subscription, limit, tenantID] refusal in
            if let refusal { return completion(.failure(refusal)) }
            let done: @Sendable (Result<CommitStamp, StoreError>) -> Void = { result in
                completion(Self.readBack(subscription.id, after: result, from: store))
            }
            switch store.createSubscription(subscription, limit: limit, completion: done) {
            case nil: break
            case .noSuchTenant?: completion(.failure(.notFound("No tenant with id '\(tenantID ?? "")'.")))
            case .quotaReached(let limit)?: completion(.failure(Self.quotaReached(tenantID ?? "", limit: limit)))
            }
        }
    }

    static func quotaReached(_ tenantID: String, limit: Int) -> GatewayError {
        .invalid("The tenant '\(tenantID)' has reached its quota of \(limit) subscriptions (quotas.maxSubscriptions); delete one, or ask the admin to raise the quota.")
    }

    /// `PATCH`: sets the fields given, and only those, on the subscription as it stands when
    /// the change is applied.
    public func updateSubscription(_ id: String, fields: JSONValue, completion: @escaping OperationCompletion<Subscription>) throws(GatewayError) {
        let current = try subscription(id)
        if fields["tenantId"] != nil { throw .invalid("'tenantId' cannot be changed; create a subscription for the other tenant instead.") }
        let input: SubscriptionInput
        do {
            input = try SubscriptionInput(fields, partial: true)
        } catch {
            throw .invalid(error.detail)
        }
        if current.tenantID != nil, let patterns = input.eventTypes { try checkVisible(patterns) }
        let edit = SubscriptionChange(subscriptionID: id, fields: fields)
        guard let url = input.url else { return change(edit, completion: completion) }
        try checkTarget(url) { [self] refusal in
            if let refusal { return completion(.failure(refusal)) }
            change(edit, completion: completion)
        }
    }

    /// Holds deliveries (`paused: true`), or releases them and re-enables a subscription
    /// disabled by a 410.
    public func setPaused(_ id: String, _ paused: Bool, completion: @escaping OperationCompletion<Subscription>) throws(GatewayError) {
        _ = try subscription(id)
        change(SubscriptionChange(subscriptionID: id, paused: paused, enable: !paused), completion: completion)
    }

    /// A new secret signs from now on; the one signing now keeps signing too until
    /// `overlap` has passed, so subscribers switch without dropping a delivery.
    public func rotateSecret(_ id: String, overlap: Duration?, completion: @escaping OperationCompletion<Subscription>) throws(GatewayError) {
        _ = try subscription(id)
        let expiry = wallClockMicroseconds() + (overlap ?? configuration.secretRotationOverlap).microseconds
        let rotation = SubscriptionChange.Rotation(secret: Subscription.generateSecret(), previousExpiresAt: expiry)
        change(SubscriptionChange(subscriptionID: id, rotation: rotation), completion: completion)
    }

    /// Deletes a subscription; what it was still owed is dropped with it.
    public func deleteSubscription(_ id: String, completion: @escaping OperationCompletion<Void>) throws(GatewayError) {
        _ = try subscription(id)
        store.commit(.subscriptionDeleted(id: id)) { completion($0.map { _ in () }.mapError(GatewayError.notStored)) }
    }

    /// Sends a `gateway.ping` event to this subscription alone (its patterns and filter do
    /// not apply): a way to check the endpoint, its signature verification and the path.
    public func ping(_ id: String, completion: @escaping OperationCompletion<EventReceipt>) throws(GatewayError) {
        let subscription = try subscription(id)
        if let reason = subscription.disabledReason {
            throw .conflict("The subscription is disabled (\(reason)); resume it first.")
        }
        var data = JSONObjectWriter()
        data.add("subscriptionId", string: subscription.id)
        data.add("message", string: "This is a test event from webhook-gateway.")
        let event = NewEvent(id: eventIDs.next(), type: "gateway.ping", source: "gateway", data: data.finish(),
                             targetSubscription: subscription.id)
        let finish: @Sendable (IngestOutcome) -> Result<EventReceipt, GatewayError> = { outcome in
            switch outcome {
            case .stored(let receipts): .success(receipts[0])
            case .conflict(_, let conflict): .failure(.conflict("The ping could not be stored: \(conflict)."))
            case .unavailable(let failure): .failure(.notStored(failure))
            }
        }
        if let outcome = store.ingest([event], completion: { completion(finish($0)) }) { completion(finish(outcome)) }
    }

    private func change(_ change: SubscriptionChange, completion: @escaping OperationCompletion<Subscription>) {
        let store = self.store
        store.commit(.subscriptionChanged(change)) { result in
            completion(Self.readBack(change.subscriptionID, after: result, from: store))
        }
    }

    private static func readBack(_ id: String, after result: Result<CommitStamp, StoreError>, from store: any GatewayStore) -> Result<Subscription, GatewayError> {
        result.mapError(GatewayError.notStored).flatMap { _ in
            // Deleted meanwhile: the change was stored but applies to nothing.
            guard let stored = store.subscription(id) else { return .failure(.notFound("No subscription with id '\(id)'.")) }
            return .success(stored)
        }
    }

    /// Judges `url` with the target (SSRF) policy and calls `then` with the refusal, if any.
    /// A verdict that needs no DNS comes at once, on this thread; one that needs a lookup,
    /// which blocks, runs on the bounded pool of checking threads, never on an event loop.
    private func checkTarget(_ url: String, then: @escaping @Sendable (GatewayError?) -> Void) throws(GatewayError) {
        let policy = configuration.targetPolicy
        switch policy.judgeWithoutLookup(url) {
        case .allowed: return then(nil)
        case .refused(let refusal): throw .invalid(refusal)
        case .needsLookup: break
        }
        let queued = targetChecks.submit {
            then(policy.refusal(ofURL: url).map { GatewayError.invalid($0) })
        }
        if !queued {
            throw GatewayError(status: 503, detail: "Too many subscription URLs are being checked right now; retry shortly.", retryAfter: 1)
        }
    }
}

// MARK: - Dead letters

extension GatewayCore {
    /// Puts dead letters back in line with a fresh attempt count: all of them (`eventIDs`
    /// nil) or those named. Completes with how many.
    public func redeliverDeadLetters(_ subscriptionID: String, eventIDs: [String]?, completion: @escaping OperationCompletion<Int>) throws(GatewayError) {
        _ = try subscription(subscriptionID)
        let parked = store.deadLetters(for: subscriptionID).map(\.sequence)
        var sequences = parked
        if let eventIDs {
            let parkedSet = Set(parked)
            var seen = Set<UInt64>()
            sequences = []
            for id in eventIDs {
                guard let event = try readingStore { () throws(StoreError) in try store.event(id: id) }, parkedSet.contains(event.sequence) else {
                    throw .invalid("The event '\(id)' is not a dead letter of this subscription.")
                }
                if seen.insert(event.sequence).inserted { sequences.append(event.sequence) }
            }
        }
        let count = sequences.count
        guard count > 0 else { return completion(.success(0)) }
        store.commit(.deadLettersRedelivered(subscriptionID: subscriptionID, sequences: sequences)) {
            completion($0.map { _ in count }.mapError(GatewayError.notStored))
        }
    }

    /// Drops one dead letter for good.
    public func discardDeadLetter(_ subscriptionID: String, eventID: String, completion: @escaping OperationCompletion<Void>) throws(GatewayError) {
        _ = try subscription(subscriptionID)
        guard let event = try readingStore { () throws(StoreError) in try store.event(id: eventID) },
              store.deadLetters(for: subscriptionID).contains(where: { $0.sequence == event.sequence }) else {
            throw .notFound("The event '\(eventID)' is not a dead letter of this subscription.")
        }
        store.commit(.deadLetterDiscarded(subscriptionID: subscriptionID, sequence: event.sequence)) {
            completion($0.map { _ in () }.mapError(GatewayError.notStored))
        }
    }
}
