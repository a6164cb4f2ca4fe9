import JSON
import Runtime

// MARK: - Tenants (issue 11)

/// Whose subscriptions an operation may see: the admin's (every one) or one tenant's. A
/// tenant asking for anything of another tenant is told it does not exist (404), the same
/// answer as for an id nobody has, so ids cannot be probed.
public enum Ownership: Sendable, Equatable {
    case admin
    case tenant(String)

    var tenantID: String? {
        if case .tenant(let id) = self { return id }
        return nil
    }

    func owns(_ subscription: Subscription) -> Bool {
        switch self {
        case .admin: true
        case .tenant(let id): subscription.tenantID == id
        }
    }
}

/// The addressing rule, in one place: which subscriptions an event may reach by who owns
/// them and whom the event is addressed to. The fold routes by it (through its indexes);
/// replays and resends check it event by event.
public enum TenantAddressing {
    /// An event addressed to a tenant reaches that tenant's subscriptions only; one addressed
    /// to nobody reaches the admin's subscriptions, and tenants' subscriptions when its type
    /// is visible to tenants. A tenant's subscription receives visible types only.
    public static func reaches(_ subscription: Subscription, eventTenant: String?, typeVisible: Bool) -> Bool {
        switch (subscription.tenantID, eventTenant) {
        case (nil, nil): true
        case (nil, .some): false
        case (.some, nil): typeVisible
        case (.some(let owner), .some(let addressed)): owner == addressed && typeVisible
        }
    }
}

extension GatewayCore {
    public func tenant(_ id: String) throws(GatewayError) -> Tenant {
        guard let tenant = store.tenant(id) else { throw .notFound("No tenant with id '\(id)'.") }
        return tenant
    }

    /// `POST /v1/tenants`: the id is the admin's own when given (unique), else `ten_…`.
    public func createTenant(_ body: JSONValue, completion: @escaping OperationCompletion<Tenant>) throws(GatewayError) {
        let input: TenantInput
        do {
            input = try TenantInput(body, partial: false)
        } catch {
            throw .invalid(error.detail)
        }
        let id = input.id ?? tenantIDs.next()
        let store = self.store
        let refusal = store.createTenant(id: id, fields: input) { result in
            completion(result.mapError(GatewayError.notStored).flatMap { _ in
                store.tenant(id).map(Result.success) ?? .failure(.notFound("No tenant with id '\(id)'."))
            })
        }
        if refusal == .idTaken { throw .conflict("A tenant with id '\(id)' already exists.") }
    }

    /// `PATCH /v1/tenants/{id}`: sets the fields given, and only those.
    public func updateTenant(_ id: String, fields: JSONValue, completion: @escaping OperationCompletion<Tenant>) throws(GatewayError) {
        _ = try tenant(id)
        let input: TenantInput
        do {
            input = try TenantInput(fields, partial: true)
        } catch {
            throw .invalid(error.detail)
        }
        let store = self.store
        store.commit(.tenantChanged(id: id, fields: input)) { result in
            completion(result.mapError(GatewayError.notStored).flatMap { _ in
                store.tenant(id).map(Result.success) ?? .failure(.notFound("No tenant with id '\(id)'."))
            })
        }
    }

    /// Deletes a tenant, its subscriptions and its tokens; what the subscriptions were still
    /// owed is dropped with them, as for a deleted subscription.
    public func deleteTenant(_ id: String, completion: @escaping OperationCompletion<Void>) throws(GatewayError) {
        _ = try tenant(id)
        store.commit(.tenantDeleted(id: id)) { completion($0.map { _ in () }.mapError(GatewayError.notStored)) }
    }

    /// Issues a token of the tenant, returned this once with its record; only the digest is
    /// stored. `expiresAt` (microseconds) must be in the future.
    public func issueTenantToken(
        _ tenantID: String, description: String, expiresAt: Int64?,
        completion: @escaping OperationCompletion<(record: TenantToken, token: String)>
    ) throws(GatewayError) {
        _ = try tenant(tenantID)
        if let expiresAt, expiresAt <= wallClockMicroseconds() { throw .invalid("'expiresAt' must be in the future.") }
        let token = Tokens.generate(prefix: "tnt_")
        let record = TenantToken(id: tenantTokenIDs.next(), tenantID: tenantID, digest: Tokens.digest(token),
                                 description: description, expiresAt: expiresAt, createdAt: 0)
        let store = self.store
        store.commit(.tenantTokenIssued(record)) { result in
            completion(result.mapError(GatewayError.notStored).flatMap { _ in
                guard let stored = store.tenantTokens(of: tenantID).first(where: { $0.id == record.id }) else {
                    return .failure(.notFound("No tenant with id '\(tenantID)'."))
                }
                return .success((stored, token))
            })
        }
    }

    public func revokeTenantToken(_ tenantID: String, tokenID: String, completion: @escaping OperationCompletion<Void>) throws(GatewayError) {
        _ = try tenant(tenantID)
        guard store.tenantTokens(of: tenantID).contains(where: { $0.id == tokenID }) else {
            throw .notFound("No token '\(tokenID)' of tenant '\(tenantID)'.")
        }
        store.commit(.tenantTokenRevoked(tenantID: tenantID, tokenID: tokenID)) {
            completion($0.map { _ in () }.mapError(GatewayError.notStored))
        }
    }

    /// The subscription, if `ownership` may see it; otherwise the same 404 as for an id
    /// nobody has.
    public func subscription(_ id: String, ownedBy ownership: Ownership) throws(GatewayError) -> Subscription {
        guard let subscription = store.subscription(id), ownership.owns(subscription) else {
            throw .notFound("No subscription with id '\(id)'.")
        }
        return subscription
    }

    /// A tenant's subscription names only types visible to tenants (a wildcard matches the
    /// visible ones among the types it covers, and so is always allowed).
    func checkVisible(_ patterns: [EventTypePattern]) throws(GatewayError) {
        for pattern in patterns where !pattern.segments.contains(.wildcard) {
            guard store.eventType(pattern.text)?.isVisibleToTenants == true else {
                throw .invalid("A tenant's subscription may name only event types visible to tenants, and '\(pattern.text)' is not; use a visible type, or a wildcard such as '*' for all of them.")
            }
        }
    }

    /// Whether the event was delivered to the tenant — addressed to it while it existed, or
    /// attempted or owed to one of its subscriptions — and those attempts. Nil when it was
    /// not: to the tenant the event does not exist. (A tenant created again under the id of a
    /// deleted one does not see what was addressed to its predecessor.)
    public func tenantView(of event: StoredEvent, tenant: String) throws(GatewayError) -> [AttemptEntry]? {
        let owned = Set(store.subscriptions(ofTenant: tenant).map(\.id))
        let all = try readingStore { () throws(StoreError) in try store.attempts(ofEvent: event.id) } ?? []
        let attempts = all.filter { owned.contains($0.outcome.subscriptionID) }
        let addressed = event.tenant == tenant && event.receivedAt >= (store.tenant(tenant)?.createdAt ?? .max)
        if addressed || !attempts.isEmpty || owned.contains(where: { store.owes($0, sequence: event.sequence) }) {
            return attempts
        }
        return nil
    }
}
