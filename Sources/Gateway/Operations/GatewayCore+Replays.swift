import JSON
import Runtime
import Synchronization

// MARK: - Replays and resends (issue 9)

extension GatewayCore {
    /// `POST /v1/subscriptions/{id}/replays {since, until?, types?}`: owes the subscription
    /// again every retained event in the window that it matches (and `types` narrows to).
    /// The replayer works through the window in the background; `until` is at most now, so
    /// a replay never chases live traffic, which reaches the subscription anyway.
    public func startReplay(_ subscriptionID: String, _ body: JSONValue, completion: @escaping OperationCompletion<ReplayState>) throws(GatewayError) {
        let subscription = try subscription(subscriptionID)
        guard case .object(let members) = body else { throw .invalid("The body must be a JSON object.") }
        for (key, _) in members where !["since", "until", "types"].contains(key) {
            throw .invalid("Unknown field '\(key)'; a replay takes since, until and types.")
        }
        func time(_ name: String) throws(GatewayError) -> Int64? {
            guard let value = body[name], value != .null else { return nil }
            guard case .string(let text) = value, let time = Timestamp.parse(text) else {
                throw .invalid("'\(name)' must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z.")
            }
            return time
        }
        guard let since = try time("since") else { throw .invalid("'since' is required: where the replay starts (RFC 3339).") }
        let now = wallClockMicroseconds()
        let until = min(try time("until") ?? now, now)
        guard since < until else { throw .invalid("'since' must be before 'until' (and before now).") }
        var types: [String] = []
        if let value = body["types"], value != .null {
            guard case .array(let items) = value, !items.isEmpty else { throw .invalid("'types' must be a non-empty array of event type patterns.") }
            for item in items {
                guard case .string(let text) = item, EventTypePattern(text) != nil else {
                    throw .invalid("'types' must hold event type patterns such as order.created or order.*.")
                }
                types.append(text)
            }
        }
        if subscription.disabledReason != nil {
            throw .conflict("The subscription is disabled (\(subscription.disabledReason!)); enable it before replaying to it.")
        }
        let id = replayIDs.next()
        store.commit(.replayStarted(id: id, subscriptionID: subscriptionID, since: since, until: until, types: types)) { [store, replayer] result in
            completion(result.mapError(GatewayError.notStored).flatMap { _ in
                guard let replay = store.replay(id) else { return .failure(Self.unreadable("replay")) }
                replayer.nudge()
                return .success(replay)
            })
        }
    }

    /// A replay of this subscription, or 404 (another subscription's replay included).
    public func replay(_ subscriptionID: String, _ replayID: String) throws(GatewayError) -> ReplayState {
        _ = try subscription(subscriptionID)
        guard let replay = store.replay(replayID), replay.subscriptionID == subscriptionID else {
            throw .notFound("No replay '\(replayID)' for this subscription.")
        }
        return replay
    }

    /// `DELETE …/replays/{replayId}`: stops the replay; what it had owed and not yet sent is
    /// dropped (deliveries already handed to the sender may still go).
    public func cancelReplay(_ subscriptionID: String, _ replayID: String, completion: @escaping OperationCompletion<ReplayState>) throws(GatewayError) {
        let current = try replay(subscriptionID, replayID)
        guard current.status == .running || current.status == .delivering else {
            throw .conflict("The replay is already \(current.status.rawValue).")
        }
        store.commit(.replayCancelled(id: replayID, subscriptionID: subscriptionID)) { [store] result in
            completion(result.mapError(GatewayError.notStored).flatMap { _ in
                store.replay(replayID).map(Result.success) ?? .failure(Self.unreadable("replay"))
            })
        }
    }

    /// `POST /v1/events/{id}/resend {subscriptionId?}`: owes one event again, to the named
    /// subscription or to every subscription that matches it now. One still pending keeps its
    /// place (it is not sent twice). Completes with the subscriptions it went to.
    /// A tenant resends only events delivered to it, only to its own subscriptions.
    public func resend(
        _ eventID: String, to subscriptionID: String?, by ownership: Ownership = .admin, completion: @escaping OperationCompletion<[String]>
    ) throws(GatewayError) {
        guard let event = try readingStore({ () throws(StoreError) in try store.event(id: eventID) }),
              try ownership.tenantID.map({ (tenant) throws(GatewayError) in try tenantView(of: event, tenant: tenant) != nil }) ?? true else {
            throw .notFound("No event with id '\(eventID)'.")
        }
        let targets: [Subscription]
        if let subscriptionID {
            let subscription = try subscription(subscriptionID, ownedBy: ownership)
            if let reason = subscription.disabledReason {
                throw .conflict("The subscription is disabled (\(reason)); enable it before resending to it.")
            }
            try checkAddressing(event, to: subscription)
            targets = [subscription]
        } else {
            let candidates = ownership.tenantID.map { store.subscriptions(ofTenant: $0) } ?? store.subscriptions()
            targets = candidates.filter { Replayer.matches($0, types: [], event: event, in: store) }
            guard !targets.isEmpty else { throw .invalid("No enabled subscription matches the event's type and filter; name one with subscriptionId.") }
        }
        let ids = targets.map(\.id)
        let group = CompletionGroup(count: ids.count) { failure in
            completion(failure.map { .failure($0) } ?? .success(ids))
        }
        for id in ids {
            store.commit(.eventsResent(subscriptionID: id, events: [event.reference])) { result in
                group.finish(result.mapError(GatewayError.notStored).failure)
            }
        }
    }

    /// A named resend skips the subscription's patterns, not the tenant rule
    /// (`TenantAddressing`): an event addressed to a tenant never goes to another tenant's or
    /// the admin's subscription, nor a type hidden from tenants to a tenant's. One that the
    /// subscription was already sent (a test ping, a type hidden since) may go again.
    private func checkAddressing(_ event: StoredEvent, to subscription: Subscription) throws(GatewayError) {
        let visible = store.eventType(event.type)?.isVisibleToTenants == true
        if TenantAddressing.reaches(subscription, eventTenant: event.tenant, typeVisible: visible) { return }
        let attempted = try readingStore { () throws(StoreError) in try store.attempts(ofEvent: event.id) } ?? []
        if store.owes(subscription.id, sequence: event.sequence) || attempted.contains(where: { $0.outcome.subscriptionID == subscription.id }) {
            return
        }
        if let tenant = event.tenant, tenant != subscription.tenantID {
            throw .invalid("The event '\(event.id)' is addressed to tenant '\(tenant)'; only that tenant's subscriptions may receive it.")
        }
        throw .invalid("The event type '\(event.type)' is not visible to tenants, so the event cannot go to a tenant's subscription.")
    }
}

/// Waits for `count` completions and reports the first failure, if any, once.
final class CompletionGroup: Sendable {
    private let state: Mutex<(remaining: Int, failure: GatewayError?)>
    private let done: @Sendable (GatewayError?) -> Void

    init(count: Int, done: @escaping @Sendable (GatewayError?) -> Void) {
        state = Mutex((count, nil))
        self.done = done
    }

    func finish(_ failure: GatewayError?) {
        let finished = state.withLock { state -> (Bool, GatewayError?) in
            state.remaining -= 1
            if state.failure == nil { state.failure = failure }
            return (state.remaining == 0, state.failure)
        }
        if finished.0 { done(finished.1) }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
