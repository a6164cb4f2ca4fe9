#if canImport(Glibc)
import Glibc
#endif
import Gateway
import HeapModule
import Logging
import Runtime
import Synchronization

/// Sends every delivery the gateway owes, through a transport (the libcurl engine): signed
/// with the Standard Webhooks scheme, retried on the retry policy's schedule, dead-lettered
/// when it runs out, one lane per subscription so a slow or dead subscriber holds up nobody
/// else.
///
/// It depends on a `DeliveryStore` (what is owed, event bodies, where outcomes go), a
/// `DeliveryTransport` and a `DispatcherClock`, nothing concrete: tests drive it with an
/// in-memory store, a transport that answers by hand and a clock they move, through `load`
/// and `step`, without a thread, a socket or a sleep.
///
/// One thread owns all lanes. Fan-outs (from the store's commits), transport completions and
/// nudges arrive through a mailbox; the thread sleeps until there is mail or the next retry
/// is due. Outcomes go back to the store as records (`DeliveryStore.recordAttempts`).
public final class WebhookDispatcher: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var retryPolicy = RetryPolicy()
        public var engine = CurlMultiEngine.Configuration()
        /// Never-attempted deliveries each subscription holds as full items; the rest wait
        /// in its compact backlog (see `DeliveryLane`).
        public var laneWindow = DeliveryLane.defaultWindowSize
        /// Attempt outcomes go to the store in one append once the oldest has waited this
        /// long, or 512 have gathered, or the dispatcher stops. Appending after every mail
        /// batch woke the journal's writer every few deliveries; the outcomes need no sync
        /// (see `DeliveryStore.recordAttempts`), and one lost in a crash is an attempt made again.
        public var attemptBatchInterval: Duration = .milliseconds(1)
        /// Told how every attempt ended (metrics).
        public var observer: (any DeliveryObserver)?
        /// Deliveries per second shared by the subscriptions of a tenant whose quotas set no
        /// `deliveryRateLimit` of its own (nil: no shared limit).
        public var tenantDeliveryRateLimit: Int?
        public init() {}
    }

    /// Makes the transport, given where it reports results.
    public typealias TransportFactory = (@escaping @Sendable ([DeliveryResult]) -> Void) throws -> any DeliveryTransport

    enum Mail {
        case fanOut([FanOut])
        case completed([DeliveryResult])
        /// The disabling of this subscription (after a 410) is in effect, or failed.
        case disableRecorded(String)
        /// Cluster mode: subscriptions this node now delivers, with what they are owed.
        case takenOver(PendingSnapshot)
        /// Cluster mode: subscriptions another node may deliver from now on.
        case released([String])
        case nudge
    }

    private struct InFlight {
        var subscriptionID: String
        var sequence: UInt64
        var attempt: Int
        /// Wall-clock microseconds (it is journaled, and bounds the retry policy's max age).
        var firstAttemptAt: Int64
        /// The event's commit (wall-clock microseconds) when its delivery latency counts.
        var committedAt: Int64?
    }

    /// The longest the dispatcher sleeps between passes (microseconds).
    static let passInterval: Int64 = 200_000
    /// See `Configuration.attemptBatchInterval`.
    static let attemptFlushCount = 512

    private let store: any DeliveryStore
    private let status: DeliveryStatusBoard
    private let clock: any DispatcherClock
    private let configuration: Configuration
    private let logger: Logger
    private let makeTransport: TransportFactory
    private var transport: (any DeliveryTransport)?
    private let mailbox = WorkQueue<Mail>()
    private let stopping = Atomic(false)
    /// True from `start` until the dispatcher thread leaves its loop: what `/readyz` asks.
    private let threadRunning = Atomic(false)
    private var thread: pthread_t?

    // Owned by the dispatcher thread.
    private var lanes: [String: DeliveryLane] = [:]
    /// The lanes that may have something to send: all a pass looks at, so a pass costs what
    /// is owed now, not what every subscription (20,000 of 10,000 tenants) would. A lane
    /// leaves the list when it is done, or goes to sleep until a time (every delivery waits
    /// for a retry, the rate limit or the breaker's probe), or is parked (paused, disabled);
    /// a fan-out to it brings it back at once. A pass goes through them in order; one that
    /// took a tenant's shared tokens moves to the back, so the tenant's other lanes are first
    /// to the next ones.
    private var busy: [DeliveryLane] = []
    private var sleeping = Heap<Wake>()
    /// Paused and disabled subscriptions' lanes, looked at again when a subscription changed
    /// (`DeliveryStore.subscriptionsVersion`), or every pass when the store cannot tell.
    private var parked: [String: DeliveryLane] = [:]
    private var parkedCheckedVersion: UInt64?
    /// Each tenant's shared delivery rate limit.
    private var tenantBuckets: [String: TokenBucket] = [:]
    private var inFlight: [UInt64: InFlight] = [:]
    /// The last record the startup load saw.
    private var loadedThrough: UInt64 = 0
    /// What was last posted to the status board, per lane.
    private var posted: [String: DeliveryStatusBoard.LaneStatus] = [:]
    /// What fan-outs and completions need of each subscription, as the latest pass read it:
    /// no store lookup per fan-out or result, and no copy of the whole subscription either
    /// (a dozen reference-counted fields, retained and released for every delivery).
    private var settings: [String: LaneSettings] = [:]
    /// Keyed HMACs by secret text, so a secret is decoded and keyed once, not per request.
    private var signingKeys: [String: WebhookSigner.SigningKey] = [:]
    /// Bodies of recent events, shared by the subscriptions they fan out to.
    private var envelopes = EnvelopeCache()
    /// The store's reader of event bodies, owned by this thread (it may read ahead).
    private var events: (any DeliveryEventReader)?
    /// Outcomes not yet recorded, and when (monotonic) the oldest of them was queued.
    private var attempts: [DeliveryAttemptRecord] = []
    private var attemptsQueuedAt: Int64 = 0
    /// `configuration.attemptBatchInterval` in microseconds.
    private let attemptFlushInterval: Int64
    private var nextTag: UInt64 = 0
    /// When (monotonic) an unreadable event was last logged.
    private var lastUnreadableReport: Int64 = -10_000_000
    private var random = SystemRandomNumberGenerator()

    /// `status` receives each lane's run-time state for the stats endpoint. Without
    /// `transport`, deliveries go through a `CurlMultiEngine` made from `configuration.engine`.
    public init(
        store: any DeliveryStore, status: DeliveryStatusBoard, configuration: Configuration, logger: Logger,
        clock: any DispatcherClock = SystemDispatcherClock(), transport: TransportFactory? = nil
    ) {
        self.store = store
        self.status = status
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        let engine = configuration.engine
        makeTransport = transport ?? { onCompletions in
            try CurlMultiEngine(configuration: engine, logger: logger, onCompletions: onCompletions)
        }
        attemptFlushInterval = configuration.attemptBatchInterval.microseconds
    }

    /// Starts the transport and the dispatcher thread, which first picks up everything still
    /// pending in the store (after a restart, with its attempt counts and schedule).
    public func start() throws {
        try prepare()
        threadRunning.store(true, ordering: .releasing)
        thread = try spawnThread(name: "dispatcher") { [self] in
            run()
            threadRunning.store(false, ordering: .releasing)
        }
    }

    /// Nil while deliveries are being sent; otherwise why not, for `/readyz`.
    public var notRunningReason: String? {
        if stopping.load(ordering: .relaxed) { return "the delivery engine is shutting down" }
        return threadRunning.load(ordering: .acquiring) ? nil : "the delivery engine is not running"
    }

    /// Subscription changes (pause, resume, limits) take effect at the next pass; this makes
    /// that pass happen now.
    public func nudge() { post(.nudge) }

    /// Stops sending: in-flight transfers are abandoned (their attempts are made again after
    /// a restart), nothing pending is lost.
    public func shutdown() {
        stopping.store(true, ordering: .relaxed)
        mailbox.close()
        if let thread { pthread_join(thread, nil) }
        thread = nil
        transport?.stop()
    }

    private func post(_ mail: Mail) {
        mailbox.push(mail)
    }

    // MARK: - The dispatcher thread

    /// Makes the transport and starts listening to the store. Listen first, then load: a
    /// delivery may be reported twice, never missed.
    func prepare() throws {
        transport = try makeTransport { [weak self] results in self?.post(.completed(results)) }
        store.observeDeliveries { [weak self] fanOuts in self?.post(.fanOut(fanOuts)) }
        store.observeOwnership(
            gained: { [weak self] snapshot in self?.post(.takenOver(snapshot)) },
            lost: { [weak self] ids in self?.post(.released(ids)) })
        events = store.makeEventReader()
    }

    private func run() {
        load()
        // A first pass at once, for what was loaded.
        var wakeAt: Int64 = 0
        while true {
            let mail: [Mail]
            switch mailbox.takeAll(waitingAtMost: wakeAt - clock.monotonicMicroseconds()) {
            case .items(let taken): mail = taken
            case .timedOut: mail = []
            case .closed:
                flushAttempts()
                return
            }
            guard let next = turn(mail) else { return }
            wakeAt = next
        }
    }

    /// Runs one turn with whatever mail is waiting, without waiting for more: for tests that
    /// drive the dispatcher by hand (after `prepare` and `load`). Returns when the next turn
    /// is due (monotonic), nil once stopping.
    @discardableResult
    func step() -> Int64? {
        switch mailbox.takeAll(waitingAtMost: 0) {
        case .items(let mail): return turn(mail)
        case .timedOut: return turn([])
        case .closed:
            flushAttempts()
            return nil
        }
    }

    /// Handles `mail`, records what finished, sends what is due.
    private func turn(_ mail: [Mail]) -> Int64? {
        for item in mail {
            switch item {
            case .fanOut(let fanOuts): accept(fanOuts)
            case .completed(let results): results.forEach(complete)
            case .disableRecorded(let id): lanes[id]?.heldForDisable = false
            case .takenOver(let snapshot): take(snapshot.owed)
            case .released(let ids): ids.forEach(forget)
            case .nudge: break
            }
        }
        // Stopping: what finished is recorded (or it would be sent again after the
        // restart); nothing new is sent.
        if stopping.load(ordering: .relaxed) {
            flushAttempts()
            return nil
        }
        let now = clock.monotonicMicroseconds()
        if attempts.count >= Self.attemptFlushCount || (!attempts.isEmpty && now - attemptsQueuedAt >= attemptFlushInterval) {
            flushAttempts()
        }
        var wakeAt = dispatch()
        if !attempts.isEmpty { wakeAt = min(wakeAt, attemptsQueuedAt + attemptFlushInterval) }
        return wakeAt
    }

    private func flushAttempts() {
        guard !attempts.isEmpty else { return }
        store.recordAttempts(attempts)
        attempts.removeAll(keepingCapacity: true)
    }

    /// Takes what the store says is owed into the lanes. Retry times come as wall-clock
    /// times (that is what was journaled) and are turned into monotonic ones here, once. No
    /// retry was ever scheduled further ahead than the policy's longest delay, so a wait
    /// longer than that (a wall clock set wrong at start, and corrected later) is cut to it.
    func load() {
        let snapshot = store.pendingSnapshot()
        loadedThrough = snapshot.through
        take(snapshot.owed)
    }

    /// Puts what is owed into the lanes, with each delivery's attempts and schedule.
    private func take(_ owedBySubscription: [PendingSnapshot.Owed]) {
        let wall = clock.wallMicroseconds()
        let monotonic = clock.monotonicMicroseconds()
        let policy = configuration.retryPolicy
        let longestWait = max(policy.maximumDelay, policy.retryAfterCap).microseconds
        for owed in owedBySubscription {
            let lane = lane(owed.subscriptionID)
            for delivery in owed.pending {
                let notBefore = delivery.nextAttemptAt.map { max(1, monotonic + min($0 - wall, longestWait)) } ?? 0
                lane.add(DeliveryLane.Item(
                    event: delivery.event, partitionKey: nil, attempts: delivery.attempts, firstAttemptAt: delivery.firstAttemptAt,
                    notBefore: notBefore), ordered: owed.ordered)
            }
            markBusy(lane)
        }
    }

    /// Drops a subscription's lane (deleted, or delivered by another node from now on):
    /// nothing more is sent for it; transfers in flight finish, and their outcomes are
    /// recorded without a lane.
    private func forget(_ id: String) {
        guard let lane = lanes.removeValue(forKey: id) else { return }
        lane.listedBusy = false
        // Its wake, if any, is stale now; it leaves the busy list at the end of the pass, and
        // no pass visits it meanwhile (`dispatch` skips a lane that is not the current one).
        lane.sleepingUntil = nil
        parked[id] = nil
        settings[id] = nil
        posted[id] = nil
        status.post(nil, for: id)
    }

    private func markBusy(_ lane: DeliveryLane) {
        guard !lane.listedBusy else { return }
        lane.listedBusy = true
        busy.append(lane)
    }

    /// A lane waiting for a time: when it is due again.
    private struct Wake: Comparable {
        var at: Int64
        var lane: DeliveryLane

        static func < (lhs: Wake, rhs: Wake) -> Bool { lhs.at < rhs.at }
        static func == (lhs: Wake, rhs: Wake) -> Bool { lhs.at == rhs.at && lhs.lane === rhs.lane }
    }

    /// Lanes whose time came, and parked lanes whose subscription was resumed, join the busy
    /// list. A wake that a fan-out overtook only makes one more visit.
    private func wakeLanes(now: Int64) {
        while let first = sleeping.min, first.at <= now {
            let wake = sleeping.removeMin()
            // An older wake of a lane that went back to sleep until another time is stale.
            guard wake.lane.sleepingUntil == wake.at else { continue }
            wake.lane.sleepingUntil = nil
            markBusy(wake.lane)
        }
        guard !parked.isEmpty else { return }
        let version = store.subscriptionsVersion
        guard version == nil || version != parkedCheckedVersion else { return }
        parkedCheckedVersion = version
        for (id, lane) in parked {
            let subscription = store.subscription(id)
            if subscription == nil || subscription?.paused == false && subscription?.disabledReason == nil {
                parked[id] = nil
                markBusy(lane)  // its next visit resumes it, or forgets it if deleted
            }
        }
    }

    private func accept(_ fanOuts: [FanOut]) {
        // Fan-outs the startup load already had (posted before it, arriving after): taking
        // one again once it was delivered would send it twice.
        for fanOut in fanOuts where fanOut.cause > loadedThrough {
            let ordered = settings(fanOut.subscriptionID)?.ordered == true
            let lane = lane(fanOut.subscriptionID)
            lane.add(DeliveryLane.Item(
                event: fanOut.event, partitionKey: fanOut.partitionKey, attempts: 0, firstAttemptAt: nil, notBefore: 0,
                owedSinceCommit: fanOut.cause == fanOut.sequence),
                ordered: ordered)
            // A paused subscription's lane stays parked: its resume changes the store's
            // subscriptions version, which `wakeLanes` watches.
            if parked[fanOut.subscriptionID] == nil { markBusy(lane) }
        }
    }

    private struct LaneSettings {
        var ordered: Bool
        /// The dispatcher's policy with the subscription's overrides laid over it.
        var retryPolicy: RetryPolicy
    }

    private func laneSettings(_ subscription: Subscription) -> LaneSettings {
        let overrides = subscription.retry
        return LaneSettings(
            ordered: subscription.ordered,
            retryPolicy: configuration.retryPolicy.applying(RetryPolicy.Overrides(
                maxAttempts: overrides.maxAttempts, maxAge: overrides.maxAgeSeconds.map { .seconds($0) })))
    }

    /// A subscription's settings as the latest pass read them, or from the store when no
    /// pass has seen it yet.
    private func settings(_ id: String) -> LaneSettings? {
        if let known = settings[id] { return known }
        return store.subscription(id).map(laneSettings)
    }

    private func lane(_ id: String) -> DeliveryLane {
        if let existing = lanes[id] { return existing }
        let created = DeliveryLane(subscriptionID: id, windowSize: configuration.laneWindow) { [unowned self] event in
            // Unreadable is not "no key": an ordered lane would let a later event of the same
            // key overtake this one (the store unreachable for a moment, in cluster mode).
            do { return try events?.partitionKey(event) } catch { return DeliveryLane.unreadableKey }
        }
        lanes[id] = created
        return created
    }

    /// Sends what is due in every lane with work; returns when the next pass is due
    /// (monotonic). Lanes that have nothing left leave the busy list.
    private func dispatch() -> Int64 {
        let now = clock.monotonicMicroseconds()
        let wallNow = clock.wallMicroseconds()
        var wakeAt: Int64?
        var requests: [DeliveryRequest] = []
        wakeLanes(now: now)
        /// The shared bucket of each tenant met in this pass, refilled once (nil: no limit).
        var tenantRates: [String: TokenBucket?] = [:]
        /// Lanes that took a tenant's shared tokens in this pass.
        var servedShared = Set<ObjectIdentifier>()
        for lane in busy {
            let id = lane.subscriptionID
            guard lanes[id] === lane else {
                lane.listedBusy = false  // forgotten; a lane taken over again since is another
                continue
            }
            guard let subscription = store.subscription(id) else {
                forget(id)  // deleted: what it was owed went with it
                continue
            }
            settings[id] = laneSettings(subscription)
            defer { postStatus(of: lane, now: now, wallNow: wallNow) }
            if lane.heldForDisable { continue }
            if subscription.paused || subscription.disabledReason != nil {
                if lane.inFlight == 0 {
                    lane.listedBusy = false
                    parked[id] = lane
                }
                continue
            }
            var shared: TokenBucket?
            if let tenant = subscription.tenantID {
                if let known = tenantRates[tenant] {
                    shared = known
                } else {
                    shared = tenantBucket(tenant, now: now)
                    tenantRates[tenant] = .some(shared)
                }
            }
            let (due, laneWake) = lane.takeDue(
                now: now, maxInFlight: subscription.maxInFlight, rateLimit: subscription.rateLimit, ordered: subscription.ordered,
                shared: shared)
            if let laneWake { wakeAt = min(wakeAt ?? laneWake, laneWake) }
            // Nothing can go before a transfer of its own ends (all its slots, or the keys it
            // holds, are in flight): it leaves the list, and a completion brings it back.
            if due.isEmpty, laneWake == nil, lane.inFlight > 0 { lane.listedBusy = false }
            // A lane waiting for its tenant's shared tokens keeps its place in line instead.
            if due.isEmpty, lane.inFlight == 0, shared == nil, let laneWake {
                lane.listedBusy = false
                // Once per time: a lane woken by fan-outs while it waits (an ordered key behind
                // a retry) sleeps again until the same time without another entry.
                if lane.sleepingUntil != laneWake {
                    lane.sleepingUntil = laneWake
                    sleeping.insert(Wake(at: laneWake, lane: lane))
                }
            }
            guard !due.isEmpty else { continue }
            if shared != nil { servedShared.insert(ObjectIdentifier(lane)) }
            // The same for every request of this lane in this pass.
            let signing = Signing(keys: subscription.activeSecrets(at: wallNow).compactMap(signingKey), now: wallNow)
            for item in due {
                if let request = makeRequest(item, subscription, signing, now: wallNow) {
                    requests.append(request)
                } else {
                    lane.release(item.sequence)
                }
            }
        }
        if !requests.isEmpty, transport?.submit(requests) != true {
            logger.error("the delivery transport refused work; it is shutting down")
        }
        busy.removeAll { lane in
            let idle = !lane.listedBusy || (lane.pendingCount == 0 && lane.inFlight == 0 && !lane.heldForDisable)
            lane.listedBusy = !idle
            return idle
        }
        // Turns go by tokens taken, not by passes: starting each pass one lane further on
        // let one lane win every time when tokens came once every so many passes (a multiple
        // of the tenant's lanes), starving the others.
        if !servedShared.isEmpty {
            var waited: [DeliveryLane] = [], served: [DeliveryLane] = []
            for lane in busy {
                if servedShared.contains(ObjectIdentifier(lane)) { served.append(lane) } else { waited.append(lane) }
            }
            busy = waited + served
        }
        if let next = sleeping.min?.at { wakeAt = min(wakeAt ?? next, next) }
        // Pause and limit changes are read from the store at each pass of a busy lane; a pass
        // at least this often picks them up without a signal.
        return min(wakeAt ?? .max, now + Self.passInterval)
    }

    /// The tenant's shared delivery rate limit, refilled to `now`; nil when it has none (or
    /// is gone).
    private func tenantBucket(_ tenant: String, now: Int64) -> TokenBucket? {
        guard let quotas = store.tenant(tenant)?.quotas, let rate = quotas.deliveryRateLimit ?? configuration.tenantDeliveryRateLimit else {
            tenantBuckets[tenant] = nil
            return nil
        }
        let bucket = tenantBuckets[tenant] ?? TokenBucket()
        tenantBuckets[tenant] = bucket
        bucket.refill(now: now, rate: rate)
        return bucket
    }

    /// Tells the status board about a lane's in-flight count and circuit breaker, when they
    /// changed. Lane times are monotonic; the board shows wall-clock times.
    private func postStatus(of lane: DeliveryLane, now: Int64, wallNow: Int64) {
        let previous = posted[lane.subscriptionID]
        let status = DeliveryStatusBoard.LaneStatus(
            inFlight: lane.inFlight,
            circuit: lane.circuit,
            circuitOpenedAt: lane.isCircuitOpen ? (previous?.circuitOpenedAt ?? wallNow) : nil,
            // Whole milliseconds: two clock reads per pass would otherwise make it wobble by a
            // microsecond and re-post an unchanged status every pass.
            nextProbeAt: lane.probeDueAt.map { (wallNow + ($0 - now)) / 1000 * 1000 })
        guard status != previous else { return }
        logCircuitChange(of: lane.subscriptionID, from: previous?.circuit ?? .closed, to: status)
        posted[lane.subscriptionID] = status
        self.status.post(status, for: lane.subscriptionID)
    }

    /// The breaker opening is a subscriber in trouble (warning); closing again, its recovery.
    /// Probes going out and failing (open ⇄ half-open) are not news.
    private func logCircuitChange(of subscriptionID: String, from old: DeliveryStatusBoard.CircuitState,
                                  to new: DeliveryStatusBoard.LaneStatus) {
        if old == .closed && new.circuit != .closed {
            logger.warning("circuit opened: the subscriber keeps failing; deliveries held, one probe at a time", metadata: [
                "subscription": "\(subscriptionID)", "failures-in-a-row": "\(DeliveryLane.breakerThreshold)",
            ])
        } else if old != .closed && new.circuit == .closed {
            logger.info("circuit closed: the subscriber answers again", metadata: ["subscription": "\(subscriptionID)"])
        }
    }

    /// A lane's signing keys and the attempt's Unix time, for one pass.
    private struct Signing {
        var keys: [WebhookSigner.SigningKey]
        var timestamp: Int
        var timestampText: String

        init(keys: [WebhookSigner.SigningKey], now: Int64) {
            self.keys = keys
            timestamp = Int(now / 1_000_000)
            timestampText = String(timestamp)
        }
    }

    /// The event envelope, signed for every active secret of the subscription.
    private func makeRequest(_ item: DeliveryLane.Item, _ subscription: Subscription, _ signing: Signing, now: Int64) -> DeliveryRequest? {
        // With one lane nothing else can want the envelope, and keeping it costs an insert
        // and an eviction per event.
        let envelope = envelopes.envelope(for: item.sequence, keep: lanes.count > 1) {
            (try? events?.envelope(item.event)) ?? nil
        }
        guard let envelope else {
            // Tried again every pass: said once per ten seconds, not every pass.
            let now = clock.monotonicMicroseconds()
            if now - lastUnreadableReport >= 10_000_000 {
                lastUnreadableReport = now
                logger.error("a pending delivery's event cannot be read; trying again", metadata: ["sequence": "\(item.sequence)"])
            }
            return nil
        }
        let body = envelope.body
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"),
            ("webhook-id", envelope.eventID),
            ("webhook-timestamp", signing.timestampText),
            ("webhook-signature", WebhookSigner.signature(
                keys: signing.keys, id: envelope.eventID, timestamp: signing.timestamp, body: body)),
        ]
        headers += subscription.headers
        nextTag &+= 1
        inFlight[nextTag] = InFlight(
            subscriptionID: subscription.id, sequence: item.sequence, attempt: item.attempts + 1,
            firstAttemptAt: item.firstAttemptAt ?? now,
            committedAt: item.owedSinceCommit && envelope.committedAt > 0 ? envelope.committedAt : nil)
        return DeliveryRequest(tag: nextTag, url: subscription.url, headers: headers, body: body)
    }

    private func signingKey(_ secret: String) -> WebhookSigner.SigningKey? {
        if let known = signingKeys[secret] { return known }
        guard let parsed = try? WebhookSecret(parsing: secret) else { return nil }
        // Rotations leave old secrets behind; a bound keeps the cache from growing forever.
        if signingKeys.count >= 10_000 { signingKeys.removeAll() }
        let key = WebhookSigner.SigningKey(parsed)
        signingKeys[secret] = key
        return key
    }

    /// Applies the retry policy to a finished transfer and queues the outcome's record. The
    /// policy reasons in wall-clock time (first attempts are journaled so); the lane gets the
    /// same delay on the monotonic clock.
    private func complete(_ result: DeliveryResult) {
        guard let sent = inFlight.removeValue(forKey: result.tag) else { return }
        let wallNow = clock.wallMicroseconds()
        let now = clock.monotonicMicroseconds()
        let outcome: AttemptOutcome
        if let status = result.status {
            let retryAfter = result.retryAfter.flatMap { RetryPolicy.parseRetryAfter($0, now: wallNow) }
            outcome = AttemptOutcome(status: status, retryAfter: retryAfter)
        } else {
            outcome = .failed(status: nil, error: result.error?.message ?? "no response")
        }
        let policy = settings(sent.subscriptionID)?.retryPolicy ?? configuration.retryPolicy
        let decision = policy.decision(
            afterAttempt: sent.attempt, firstAttemptAt: sent.firstAttemptAt, now: wallNow, outcome: outcome, random: &random)
        // Nil when the subscription went (deleted, or taken over by another node) meanwhile.
        let lane = lanes[sent.subscriptionID]
        // A slot is free (or a retry is scheduled): the lane has something to decide again.
        if let lane { markBusy(lane) }
        var record = DeliveryAttemptRecord(
            subscriptionID: sent.subscriptionID, sequence: sent.sequence, attempt: UInt32(sent.attempt),
            status: result.status, error: result.error?.message ?? "",
            durationMicroseconds: result.duration.microseconds,
            response: result.responseBody, result: .retryScheduled)
        switch decision {
        case .done:
            record.result = .delivered
            lane?.finish(sent.sequence, succeeded: true)
        case .retry(let after):
            record.nextAttemptAt = wallNow + after.microseconds
            lane?.reschedule(sent.sequence, attempts: sent.attempt, firstAttemptAt: sent.firstAttemptAt, at: now + after.microseconds)
        case .deadLetter(let reason):
            record.result = .deadLettered
            if record.error.isEmpty && result.status == nil { record.error = reason }
            lane?.finish(sent.sequence, succeeded: false)
            logger.info("delivery dead-lettered", metadata: [
                "subscription": "\(sent.subscriptionID)", "sequence": "\(sent.sequence)", "attempts": "\(sent.attempt)",
                "reason": "\(reason)",
            ])
        case .disableSubscription(let reason):
            // 410: the event stays owed; the subscription waits for an operator's resume.
            logger.warning("subscription disabled: its endpoint answered 410 Gone; resume it to deliver again", metadata: [
                "subscription": "\(sent.subscriptionID)",
            ])
            record.nextAttemptAt = wallNow
            lane?.reschedule(sent.sequence, attempts: sent.attempt, firstAttemptAt: sent.firstAttemptAt, at: now)
            let id = sent.subscriptionID
            let held = store.disableSubscription(id, reason: reason) { [weak self] in
                self?.post(.disableRecorded(id))
            }
            lane?.heldForDisable = held
        }
        if attempts.isEmpty { attemptsQueuedAt = now }
        attempts.append(record)
        if let observer = configuration.observer {
            observe(decision, of: sent, now: wallNow, by: observer)
        }
    }

    private func observe(_ decision: RetryDecision, of sent: InFlight, now: Int64, by observer: any DeliveryObserver) {
        switch decision {
        case .done:
            observer.attemptFinished(.delivered, latencyMicroseconds: sent.committedAt.map { max(0, now - $0) })
        case .retry: observer.attemptFinished(.retryScheduled, latencyMicroseconds: nil)
        case .deadLetter: observer.attemptFinished(.deadLettered, latencyMicroseconds: nil)
        case .disableSubscription: observer.attemptFinished(.subscriptionDisabled, latencyMicroseconds: nil)
        }
    }
}
