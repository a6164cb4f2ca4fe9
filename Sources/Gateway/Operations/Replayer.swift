import JSON
import Logging
import Runtime

/// Works through running replays in the background: reads a chunk of each replay's window
/// from the event history, keeps the events its subscription matches, and commits them as
/// owed (`StateChange.replayProgressed`), with how far it got, so a restart resumes where
/// the journal says it stopped.
///
/// A replay takes a bounded share of its subscription's capacity: it owes at most
/// `outstanding` deliveries not yet finished at a time, so live events queue behind at most
/// that many replayed ones and keep their latency.
final class Replayer: Sendable {
    static let chunk = 256
    static let outstanding = 512
    /// How often running replays are looked at when nothing nudges.
    static let interval: Int64 = 100_000

    private let store: any GatewayStore
    private let logger: Logger
    private let loop = BackgroundLoop(name: "replayer", interval: interval)

    init(store: any GatewayStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func start() throws(SystemError) {
        // Each round keeps going while there is work the share allows, then waits for
        // deliveries to finish.
        try loop.start { [self] in while step() {} }
    }

    func nudge() { loop.nudge() }

    func stop() { loop.stop() }

    /// Advances every running replay by one chunk if its share allows. True if any moved.
    @discardableResult
    func step() -> Bool {
        var moved = false
        for replay in store.replays(for: nil) where replay.status == .running {
            // In a cluster, the node delivering the subscription is the one that replays it.
            guard let subscription = store.deliveries.subscription(replay.subscriptionID),
                  replay.enqueued - replay.delivered - replay.deadLettered < Self.outstanding else { continue }
            do throws(StoreError) {
                let events = try store.events(EventQuery(after: replay.cursor, since: replay.since, until: replay.until, limit: Self.chunk))
                let matching = events.filter { event in
                    Self.matches(subscription, types: replay.types, event: event, in: store)
                }
                let change = StateChange.replayProgressed(
                    id: replay.id, subscriptionID: replay.subscriptionID, events: matching.map(\.reference),
                    cursor: events.last?.sequence ?? replay.cursor, finished: events.count < Self.chunk)
                guard commitAndWait(change) else { return moved }
                moved = true
            } catch {
                logger.warning("replay paused: the history cannot be read", metadata: ["replay": "\(replay.id)", "error": "\(error)"])
            }
        }
        return moved
    }

    private func commitAndWait(_ change: StateChange) -> Bool {
        let done = WorkQueue<Bool>()
        store.commit(change) { result in
            if case .failure(let error) = result {
                self.logger.warning("replay chunk not stored; retrying", metadata: ["error": "\(error)"])
            }
            _ = done.push(result.failure == nil)
        }
        guard case .items(let results) = done.takeAll() else { return false }
        return results.first ?? false
    }

    /// Whether `event` is for `subscription` — enabled, addressed so it may reach it
    /// (`TenantAddressing`), of its patterns and filter — and of one of `types` when given.
    static func matches(_ subscription: Subscription, types: [String], event: StoredEvent, in store: any ConfigurationStore) -> Bool {
        let type = event.type
        guard subscription.disabledReason == nil, subscription.eventTypes.contains(where: { $0.matches(type) }) else { return false }
        if !types.isEmpty, !types.contains(where: { EventTypePattern($0)?.matches(type) ?? false }) { return false }
        if subscription.tenantID != nil || event.tenant != nil {
            let visible = store.eventType(type)?.isVisibleToTenants == true
            guard TenantAddressing.reaches(subscription, eventTenant: event.tenant, typeVisible: visible) else { return false }
        }
        guard let filter = subscription.filter else { return true }
        return (try? JSONParser.parse(event.data)).map(filter.matches) ?? false
    }
}
