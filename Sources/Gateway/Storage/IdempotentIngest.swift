import Synchronization

/// The idempotent ingest every store shares (`EventStore.ingest`): keys and producer ids are
/// held in the fold's reservations while their events are written, repeats answer with the
/// original, and concurrent repeats of a request in flight wait for it. What differs between
/// stores is given as closures: how an original is read back, whether a producer's id is
/// taken in history, and the durable write itself — which may find repeats and conflicts of
/// its own (cluster mode decides them again under its lock, against every node's writes).
struct IdempotentIngest {
    let state: GatewayState
    let readBack: (EventReference) throws(StoreError) -> StoredEvent?
    let idTaken: (String) throws(StoreError) -> Bool
    let write: @Sendable ([NewEvent], @escaping @Sendable (IngestOutcome) -> Void) -> Void

    func ingest(_ events: [NewEvent], completion: @escaping @Sendable (IngestOutcome) -> Void) -> IngestOutcome? {
        // Without keys there is nothing to check, hold, wait for or settle (the ids are the
        // gateway's own): the common case goes straight to the store's write.
        if events.allSatisfy({ $0.idempotencyKey == nil }) {
            write(events, completion)
            return nil
        }
        let join = IngestJoin(count: events.count, completion: completion)
        let (reservations, conflict) = state.reserve(events) { index in { receipt in join.resolve(index, receipt) } }
        if let conflict { return .conflict(index: conflict.index, conflict.1) }
        var fresh: [Int] = []
        for (index, reservation) in reservations.enumerated() {
            switch reservation {
            case .fresh:
                fresh.append(index)
            case .repeated(let entry):
                do throws(StoreError) {
                    guard let receipt = try receipt(of: entry, repeating: events[index]) else {
                        state.release(reservations.enumerated().compactMap { if case .fresh = $1 { events[$0] } else { nil } })
                        return .conflict(index: index, .keyReused(events[index].idempotencyKey ?? ""))
                    }
                    join.resolve(index, receipt)
                } catch {
                    join.fail(error)
                }
            case .inFlight, .conflict:
                break  // a waiter resolves it; conflicts were returned above
            }
        }
        guard !fresh.isEmpty else { return join.arm() }
        let written = fresh.map { events[$0] }
        // A producer's id must be new to all history, not only to the window: looked up in
        // the index now that the reservation keeps a concurrent request from taking it.
        for event in written where event.idempotencyKey == event.id {
            do throws(StoreError) {
                if try idTaken(event.id) {
                    state.release(written)
                    return .conflict(index: events.firstIndex(of: event) ?? 0, .idTaken(event.id))
                }
            } catch {
                state.release(written)
                join.fail(error)
                return join.arm()
            }
        }
        let freshIndexes = fresh
        // All or nothing: a repeat whose original could not be read back fails the request,
        // so nothing new may be written for it either.
        if join.hasFailed {
            state.release(written)
            return join.arm()
        }
        let state = self.state
        let write = self.write
        let writeFresh: @Sendable () -> Void = {
            write(written) { outcome in
                switch outcome {
                case .stored(let receipts):
                    // The fold settled these keys already; this settles any it could not.
                    state.settle(written, receipts: receipts)
                    for (index, receipt) in zip(freshIndexes, receipts) { join.resolve(index, receipt) }
                case .conflict(let index, let conflict):
                    state.release(written)
                    join.conflict(freshIndexes[index], conflict)
                case .unavailable(let error):
                    state.release(written)
                    join.fail(error)
                }
            }
        }
        // A repeat of a request still being written waits for it before this request writes
        // anything: if that write is refused (a full disk is not sticky), this request fails
        // whole, with nothing of its own stored that a retry would store again.
        let waiting = reservations.indices.filter { if case .inFlight = reservations[$0] { true } else { false } }
        if waiting.isEmpty {
            writeFresh()
        } else {
            join.afterWaits(for: waiting) { succeeded in
                if succeeded { writeFresh() } else { state.release(written) }
            }
        }
        return join.arm()
    }

    /// The receipt of an event stored earlier (a repeat): its id is read back, and its key
    /// compared, since the window holds keys by hash. Nil when the key only collided with
    /// another's hash (astronomically rare: the request is refused as a conflict rather than
    /// risk a second event under one key).
    private func receipt(of entry: GatewayFold.KeyEntry, repeating event: NewEvent) throws(StoreError) -> EventReceipt? {
        guard let stored = try readBack(EventReference(sequence: entry.sequence, location: entry.location)) else {
            throw StoreError(.corrupt, "the original event at sequence \(entry.sequence) could not be read back")
        }
        guard stored.idempotencyKey == event.idempotencyKey, stored.source == event.source else { return nil }
        return EventReceipt(id: stored.id, sequence: entry.sequence, receivedAt: entry.timestamp, duplicate: true)
    }
}

/// Collects the receipts of one ingest request as they resolve — from the synchronous checks,
/// from the journal's completion, from the commits of concurrent requests it waited on — in
/// any order, and answers once: synchronously from `arm` if everything is known by then,
/// else through the completion.
final class IngestJoin: Sendable {
    private struct State {
        var receipts: [EventReceipt?]
        var remaining: Int
        var failure: StoreError?
        /// The write found that this event conflicts (cluster mode: another node's write).
        var conflict: (index: Int, IngestConflict)?
        var armed = false
        var answered = false
        /// Repeats of requests in flight, and what runs once they are all known.
        var waited: [Int] = []
        var afterWaits: (@Sendable (Bool) -> Void)?
    }

    private let state: Mutex<State>
    private let completion: @Sendable (IngestOutcome) -> Void

    init(count: Int, completion: @escaping @Sendable (IngestOutcome) -> Void) {
        state = Mutex(State(receipts: Array(repeating: nil, count: count), remaining: count))
        self.completion = completion
    }

    /// An event's receipt; nil when the request it waited on stored nothing.
    func resolve(_ index: Int, _ receipt: EventReceipt?) {
        let (outcome, next) = state.withLock { state -> (IngestOutcome?, (() -> Void)?) in
            guard state.receipts[index] == nil else { return (nil, nil) }
            if let receipt {
                state.receipts[index] = receipt
                state.remaining -= 1
            } else if state.failure == nil {
                state.failure = StoreError(.unavailable, "the request this one repeats was not stored; send it again")
            }
            return (state.armed ? Self.finish(&state) : nil, Self.takeAfterWaits(&state))
        }
        next?()
        if let outcome { completion(outcome) }
    }

    func fail(_ error: StoreError) {
        let (outcome, next) = state.withLock { state -> (IngestOutcome?, (() -> Void)?) in
            if state.failure == nil { state.failure = error }
            return (state.armed ? Self.finish(&state) : nil, Self.takeAfterWaits(&state))
        }
        next?()
        if let outcome { completion(outcome) }
    }

    /// The write refused the request: the event at `index` conflicts with one stored.
    func conflict(_ index: Int, _ conflict: IngestConflict) {
        let outcome = state.withLock { state -> IngestOutcome? in
            if state.conflict == nil { state.conflict = (index, conflict) }
            return state.armed ? Self.finish(&state) : nil
        }
        if let outcome { completion(outcome) }
    }

    /// Runs `action` once every event at `indexes` is resolved: with true when all were
    /// stored, false as soon as the request failed.
    func afterWaits(for indexes: [Int], _ action: @escaping @Sendable (Bool) -> Void) {
        let next = state.withLock { state -> (() -> Void)? in
            state.waited = indexes
            state.afterWaits = action
            return Self.takeAfterWaits(&state)
        }
        next?()
    }

    private static func takeAfterWaits(_ state: inout State) -> (() -> Void)? {
        guard let action = state.afterWaits else { return nil }
        if state.failure != nil {
            state.afterWaits = nil
            return { action(false) }
        }
        guard state.waited.allSatisfy({ state.receipts[$0] != nil }) else { return nil }
        state.afterWaits = nil
        return { action(true) }
    }

    var hasFailed: Bool { state.withLock { $0.failure != nil } }

    /// Called once all work is started: the outcome if it is already known (the completion
    /// is then never called), else nil.
    func arm() -> IngestOutcome? {
        state.withLock { state in
            state.armed = true
            return Self.finish(&state)
        }
    }

    private static func finish(_ state: inout State) -> IngestOutcome? {
        guard !state.answered else { return nil }
        if let (index, conflict) = state.conflict {
            state.answered = true
            return .conflict(index: index, conflict)
        }
        if let failure = state.failure {
            state.answered = true
            return .unavailable(failure)
        }
        guard state.remaining == 0 else { return nil }
        state.answered = true
        return .stored(state.receipts.map { $0! })
    }
}

