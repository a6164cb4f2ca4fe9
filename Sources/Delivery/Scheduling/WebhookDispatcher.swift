import Runtime
#if canImport(Glibc)
import Glibc
#endif
import Gateway
import Logging
import Synchronization

/// Sends every delivery the gateway owes, through the libcurl engine: signed with the
/// Standard Webhooks scheme, retried on the retry policy's schedule, dead-lettered when it
/// runs out, one lane per subscription so a slow or dead subscriber holds up nobody else.
///
/// One thread owns all lanes. Fan-outs (from the journal's commits), engine completions and
/// nudges arrive through a mailbox; the thread sleeps until there is mail or the next retry
/// is due. Outcomes go back to the gateway as journal records (`GatewayCore.recordAttempt`).
public final class WebhookDispatcher: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var retryPolicy = RetryPolicy()
        public var engine = CurlMultiEngine.Configuration()
        /// Never-attempted deliveries each subscription holds as full items; the rest wait
        /// in its compact backlog (see `DeliveryLane`).
        public var laneWindow = DeliveryLane.defaultWindowSize
        /// Attempt outcomes go to the journal in one append once the oldest has waited this
        /// long, or 512 have gathered, or the dispatcher stops. Appending after every mail
        /// batch woke the journal's writer every few deliveries; the outcomes need no sync
        /// (see `GatewayCore.recordAttempts`), and one lost in a crash is an attempt made again.
        public var attemptBatchInterval: Duration = .milliseconds(1)
        public init() {}
    }

    private enum Mail {
        case fanOut([FanOut])
        case completed([DeliveryResult])
        /// The disabling of this subscription (after a 410) is in the journal, or failed.
        case disableRecorded(String)
        case nudge
    }

    private struct InFlight {
        var subscriptionID: String
        var sequence: UInt64
        var attempt: Int
        var firstAttemptAt: Int64
    }

    /// The longest the dispatcher sleeps between passes (microseconds).
    static let passInterval: Int64 = 200_000
    /// See `Configuration.attemptBatchInterval`.
    static let attemptFlushCount = 512

    private let core: GatewayCore
    private let configuration: Configuration
    private let logger: Logger
    private var engine: CurlMultiEngine?
    private let mailbox = WorkQueue<Mail>()
    private let stopping = Atomic(false)
    private var thread: pthread_t?

    // Owned by the dispatcher thread.
    private var lanes: [String: DeliveryLane] = [:]
    private var inFlight: [UInt64: InFlight] = [:]
    /// The last journal record the startup load saw.
    private var loadedThrough: UInt64 = 0
    /// What was last posted to the status board, per lane.
    private var posted: [String: DeliveryStatusBoard.LaneStatus] = [:]
    /// What fan-outs and completions need of each subscription, as the latest pass read it:
    /// no state lock per fan-out or result, and no copy of the whole subscription either
    /// (a dozen reference-counted fields, retained and released for every delivery).
    private var settings: [String: LaneSettings] = [:]
    /// Keyed HMACs by secret text, so a secret is decoded and keyed once, not per request.
    private var signingKeys: [String: WebhookSigner.SigningKey] = [:]
    /// Bodies of recent events, shared by the subscriptions they fan out to.
    private var envelopes = EnvelopeCache()
    /// Journal bytes read past the last event read: the next due events are usually there.
    private var readAhead = JournalReadAhead()
    /// Outcomes not yet appended to the journal, and when the oldest of them was queued.
    private var attempts: [DeliveryAttemptRecord] = []
    private var attemptsQueuedAt: Int64 = 0
    /// `configuration.attemptBatchInterval` in microseconds.
    private let attemptFlushInterval: Int64
    private var nextTag: UInt64 = 0
    private var random = SystemRandomNumberGenerator()

    public init(core: GatewayCore, configuration: Configuration, logger: Logger) {
        self.core = core
        self.configuration = configuration
        self.logger = logger
        attemptFlushInterval = configuration.attemptBatchInterval.microseconds
    }

    /// Starts the engine and the dispatcher thread, then picks up everything still pending
    /// in the journal (after a restart, with its attempt counts and schedule).
    public func start() throws {
        engine = try CurlMultiEngine(configuration: configuration.engine, logger: logger) { [weak self] results in
            self?.post(.completed(results))
        }
        // Listen first, then load: a delivery may be reported twice, never missed.
        core.state.observeFanOut { [weak self] fanOuts in self?.post(.fanOut(fanOuts)) }
        thread = try spawnThread(name: "dispatcher") { [self] in run() }
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
        engine?.shutdown()
    }

    private func post(_ mail: Mail) {
        mailbox.push(mail)
    }

    // MARK: - The dispatcher thread

    private func run() {
        loadPending()
        // A first pass at once, for what was loaded.
        var wakeAt: Int64 = 0
        while true {
            let mail: [Mail]
            switch mailbox.takeAll(waitingAtMost: wakeAt - wallClockMicroseconds()) {
            case .items(let taken): mail = taken
            case .timedOut: mail = []
            case .closed:
                flushAttempts()
                return
            }
            for item in mail {
                switch item {
                case .fanOut(let fanOuts): accept(fanOuts)
                case .completed(let results): results.forEach(complete)
                case .disableRecorded(let id): lanes[id]?.heldForDisable = false
                case .nudge: break
                }
            }
            // Stopping: what finished is recorded (or it would be sent again after the
            // restart); nothing new is sent.
            if stopping.load(ordering: .relaxed) {
                flushAttempts()
                return
            }
            if attempts.count >= Self.attemptFlushCount
                || (!attempts.isEmpty && wallClockMicroseconds() - attemptsQueuedAt >= attemptFlushInterval) {
                flushAttempts()
            }
            wakeAt = dispatch()
            if !attempts.isEmpty { wakeAt = min(wakeAt, attemptsQueuedAt + attemptFlushInterval) }
        }
    }

    private func flushAttempts() {
        guard !attempts.isEmpty else { return }
        core.recordAttempts(attempts)
        attempts.removeAll(keepingCapacity: true)
    }

    private func loadPending() {
        let (through, owed) = core.state.pendingSnapshot()
        loadedThrough = through
        for (subscription, pending) in owed {
            let lane = lane(subscription.id)
            for delivery in pending {
                lane.add(DeliveryLane.Item(
                    sequence: delivery.sequence, location: delivery.location, partitionKey: nil,
                    attempts: delivery.attempts, firstAttemptAt: delivery.firstAttemptAt,
                    notBefore: delivery.nextAttemptAt ?? 0), ordered: subscription.ordered)
            }
        }
    }

    private func accept(_ fanOuts: [FanOut]) {
        // Fan-outs the startup load already had (posted before it, arriving after): taking
        // one again once it was delivered would send it twice.
        for fanOut in fanOuts where fanOut.cause > loadedThrough {
            let ordered = settings(fanOut.subscriptionID)?.ordered == true
            lane(fanOut.subscriptionID).add(DeliveryLane.Item(
                sequence: fanOut.sequence, location: fanOut.location, partitionKey: fanOut.partitionKey,
                attempts: 0, firstAttemptAt: nil, notBefore: 0), ordered: ordered)
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

    /// A subscription's settings as the latest pass read them, or from the state when no
    /// pass has seen it yet.
    private func settings(_ id: String) -> LaneSettings? {
        if let known = settings[id] { return known }
        return core.state.subscription(id).map(laneSettings)
    }

    private func lane(_ id: String) -> DeliveryLane {
        if let existing = lanes[id] { return existing }
        let created = DeliveryLane(subscriptionID: id, windowSize: configuration.laneWindow) { [unowned self] location in
            ((try? core.readEvent(at: location)) ?? nil)?.event.partitionKey
        }
        lanes[id] = created
        return created
    }

    /// Sends what is due in every lane; returns when the next pass is due.
    private func dispatch() -> Int64 {
        let now = wallClockMicroseconds()
        var wakeAt: Int64?
        var requests: [DeliveryRequest] = []
        for (id, lane) in lanes {
            guard let subscription = core.state.subscription(id) else {
                lanes[id] = nil  // deleted: what it was owed went with it
                settings[id] = nil
                posted[id] = nil
                core.deliveryStatus.post(nil, for: id)
                continue
            }
            settings[id] = laneSettings(subscription)
            defer { postStatus(of: lane, now: now) }
            if lane.heldForDisable { continue }
            if subscription.paused || subscription.disabledReason != nil { continue }
            let (due, laneWake) = lane.takeDue(
                now: now, maxInFlight: subscription.maxInFlight, rateLimit: subscription.rateLimit, ordered: subscription.ordered)
            if let laneWake { wakeAt = min(wakeAt ?? laneWake, laneWake) }
            guard !due.isEmpty else { continue }
            // The same for every request of this lane in this pass.
            let signing = Signing(keys: subscription.activeSecrets(at: now).compactMap(signingKey), now: now)
            for item in due {
                if let request = makeRequest(item, subscription, signing, now: now) {
                    requests.append(request)
                } else {
                    lane.release(item.sequence)
                }
            }
        }
        if !requests.isEmpty, engine?.submit(requests) != true {
            logger.error("the delivery engine refused work; it is shutting down")
        }
        // Pause, resume and limit changes are read from the gateway's state at each pass;
        // a pass at least this often picks them up without a signal.
        return min(wakeAt ?? .max, now + Self.passInterval)
    }

    /// Tells the status board about a lane's in-flight count and circuit breaker, when they
    /// changed.
    private func postStatus(of lane: DeliveryLane, now: Int64) {
        let previous = posted[lane.subscriptionID]
        let status = DeliveryStatusBoard.LaneStatus(
            inFlight: lane.inFlight,
            circuitOpenedAt: lane.isCircuitOpen ? (previous?.circuitOpenedAt ?? now) : nil,
            nextProbeAt: lane.probeDueAt)
        guard status != previous else { return }
        posted[lane.subscriptionID] = status
        core.deliveryStatus.post(status, for: lane.subscriptionID)
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
            guard let (eventID, body) = (try? core.webhookEnvelope(at: item.location, readAhead: &readAhead)) ?? nil else { return nil }
            return EnvelopeCache.Envelope(eventID: eventID, body: body)
        }
        guard let envelope else {
            logger.error("a pending delivery's event cannot be read", metadata: ["sequence": "\(item.sequence)"])
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
            firstAttemptAt: item.firstAttemptAt ?? now)
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

    /// Applies the retry policy to a finished transfer and queues the outcome's record.
    private func complete(_ result: DeliveryResult) {
        guard let sent = inFlight.removeValue(forKey: result.tag) else { return }
        let now = wallClockMicroseconds()
        let outcome: AttemptOutcome
        if let status = result.status {
            let retryAfter = result.retryAfter.flatMap { RetryPolicy.parseRetryAfter($0, now: now) }
            outcome = AttemptOutcome(status: status, retryAfter: retryAfter)
        } else {
            outcome = .failed(status: nil, error: result.error?.message ?? "no response")
        }
        let policy = settings(sent.subscriptionID)?.retryPolicy ?? configuration.retryPolicy
        let decision = policy.decision(
            afterAttempt: sent.attempt, firstAttemptAt: sent.firstAttemptAt, now: now, outcome: outcome, random: &random)
        let lane = lane(sent.subscriptionID)
        var record = DeliveryAttemptRecord(
            subscriptionID: sent.subscriptionID, sequence: sent.sequence, attempt: UInt32(sent.attempt),
            status: result.status, error: result.error?.message ?? "",
            durationMicroseconds: result.duration.microseconds,
            response: result.responseBody, result: .retryScheduled)
        switch decision {
        case .done:
            record.result = .delivered
            lane.finish(sent.sequence, succeeded: true)
        case .retry(let after):
            let at = now + after.microseconds
            record.nextAttemptAt = at
            lane.reschedule(sent.sequence, attempts: sent.attempt, firstAttemptAt: sent.firstAttemptAt, at: at)
        case .deadLetter(let reason):
            record.result = .deadLettered
            if record.error.isEmpty && result.status == nil { record.error = reason }
            lane.finish(sent.sequence, succeeded: false)
        case .disableSubscription(let reason):
            // 410: the event stays owed; the subscription waits for an operator's resume.
            record.nextAttemptAt = now
            lane.reschedule(sent.sequence, attempts: sent.attempt, firstAttemptAt: sent.firstAttemptAt, at: now)
            let id = sent.subscriptionID
            lane.heldForDisable = core.disableSubscription(id, reason: reason) { [weak self] in
                self?.post(.disableRecorded(id))
            }
        }
        if attempts.isEmpty { attemptsQueuedAt = now }
        attempts.append(record)
    }
}
