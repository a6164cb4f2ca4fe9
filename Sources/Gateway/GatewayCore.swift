import JSON
import Crypto
import Runtime
import TargetPolicy
import Logging

/// The gateway's state and storage: the journal, the fold of it, and the operations that
/// change them. The HTTP API (Sources/Gateway/API) is a thin layer over this.
///
/// Storage sits behind `Journal` + `GatewayState` so that a shared backend can later replace
/// the embedded journal without the API noticing.
public final class GatewayCore: Sendable {
    public struct Configuration: Sendable {
        public var dataDirectory: String
        /// Refuse events whose type is not registered (422) instead of accepting them.
        public var requireEventTypes = false
        /// How long a repeated `Idempotency-Key` or producer `id` answers with the original.
        public var idempotencyWindow: Duration = .seconds(24 * 3600)
        /// Most events in one `POST /v1/events/batch`.
        public var maxBatchEvents = 500
        public var segmentSize = 64 * 1024 * 1024
        /// After `rotate-secret`, how long the previous secret keeps signing too.
        public var secretRotationOverlap: Duration = .seconds(24 * 3600)
        /// Where subscriptions may point (SSRF, DESIGN invariant 7). The default refuses
        /// loopback, private, link-local and other non-public addresses.
        public var targetPolicy = TargetAddressPolicy()
        /// Threads that resolve subscription hosts for the target policy (DNS blocks, so
        /// never on an event loop), and how many checks may wait for them; past that a
        /// subscription change answers 503 at once.
        public var targetCheckThreads = 2
        public var targetCheckQueue = 64

        public init(dataDirectory: String) {
            self.dataDirectory = dataDirectory
        }
    }

    public let configuration: Configuration
    public let state: GatewayState
    public let journal: Journal
    /// Run-time delivery status (in flight, circuit breaker), posted by the dispatcher.
    public let deliveryStatus = DeliveryStatusBoard()
    let ids = EventIDGenerator()
    let logger: Logger
    /// Runs the target policy's DNS lookups (see `Configuration.targetCheckThreads`).
    let targetChecks: WorkerPool

    public init(configuration: Configuration, logger: Logger) throws(JournalError) {
        self.configuration = configuration
        self.logger = logger
        do {
            targetChecks = try WorkerPool(
                name: "url-check", threads: configuration.targetCheckThreads, capacity: configuration.targetCheckQueue)
        } catch {
            throw JournalError.io(call: "pthread_create", errno: error.errno, file: configuration.dataDirectory)
        }
        let state = GatewayState(idempotencyWindow: configuration.idempotencyWindow)
        self.state = state
        var journalConfiguration = Journal.Configuration(directory: configuration.dataDirectory + "/journal")
        journalConfiguration.segmentSize = configuration.segmentSize
        journal = try Journal(configuration: journalConfiguration, logger: logger) { records in
            state.apply(records)
        }
    }

    public func close() {
        targetChecks.shutdown()
        journal.close()
    }

    /// Records a delivery attempt's outcome. Not waited for (invariant 3): if it is lost in
    /// a crash, the attempt is simply made again.
    public func recordAttempt(_ outcome: DeliveryAttemptRecord) {
        recordAttempts([outcome])
    }

    /// Records many outcomes in one journal append (one hand-off to the writer), without
    /// an `fdatasync` of their own (`durable: false`).
    public func recordAttempts(_ outcomes: [DeliveryAttemptRecord]) {
        journal.append(outcomes.map { JournalEntry(kind: .deliveryAttempted, payload: $0.encode()) }, durable: false) { _ in }
    }

    /// Marks a subscription disabled (its endpoint answered 410 Gone); `resume` re-enables it.
    /// Returns false when there is nothing to do (no such subscription, or already
    /// disabled); otherwise `done` runs once the change is folded into `state`, or once its
    /// append has failed.
    @discardableResult
    public func disableSubscription(_ id: String, reason: String, done: @escaping @Sendable () -> Void = {}) -> Bool {
        guard let subscription = state.subscription(id), subscription.disabledReason == nil else { return false }
        let payload = SubscriptionDisabledRecord(subscriptionID: id, reason: reason).encode()
        journal.append([JournalEntry(kind: .subscriptionDisabled, payload: payload)]) { _ in done() }
        return true
    }

    /// The event an index entry or a delivery points at, with its commit time.
    public func readEvent(at location: RecordLocation) throws(JournalError) -> (event: StoredEvent, receivedAt: Int64)? {
        let record = try journal.read(location)
        guard record.kind == .event, let event = try? EventRecord.decode(record.payload) else { return nil }
        return (StoredEvent(id: event.id, type: event.type, source: event.source, partitionKey: event.partitionKey, data: event.data),
                record.timestamp)
    }

    /// The webhook request body of the event at `location` — `{id, type, timestamp, source,
    /// data}`, `data` being the producer's exact bytes — and the event's id. Written straight
    /// from the journal record's bytes, read through `readAhead` (see `JournalReadAhead`): it
    /// runs for every delivery.
    public func webhookEnvelope(at location: RecordLocation, readAhead: inout JournalReadAhead) throws(JournalError) -> (eventID: String, body: [UInt8])? {
        let record = try journal.read(location, readAhead: &readAhead)
        guard record.kind == .event, let fields = try? EventRecord.envelopeFields(record.payload) else { return nil }
        let payload = record.payload
        var body: [UInt8] = []
        body.reserveCapacity(payload.count + 96)
        payload.withUnsafeBytes { raw in
            func field(_ name: StaticString, _ range: Range<Int>) {
                name.withUTF8Buffer { body.append(contentsOf: $0) }
                appendJSONString(utf8: UnsafeRawBufferPointer(rebasing: raw[range]), to: &body)
            }
            field("{\"id\":", fields.id)
            field(",\"type\":", fields.type)
            body.append(contentsOf: ",\"timestamp\":".utf8)
            appendJSONString(Timestamp.format(microseconds: record.timestamp), to: &body)
            field(",\"source\":", fields.source)
            body.append(contentsOf: ",\"data\":".utf8)
            body.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[fields.data]))
            body.append(UInt8(ascii: "}"))
        }
        return (String(decoding: payload[fields.id], as: UTF8.self), body)
    }

    /// Reads an event back from the journal.
    func readEvent(_ entry: EventIndexEntry) throws(JournalError) -> (EventRecord, JournalRecord)? {
        let record = try journal.read(entry.location)
        guard record.kind == .event, let event = try? EventRecord.decode(record.payload) else { return nil }
        return (event, record)
    }

    /// The 16-byte digest that tells a repeated request from a conflicting one.
    static func digest<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        Array(SHA256.hash(data: Array(bytes)).prefix(16))
    }
}

/// An event as the delivery side needs it.
public struct StoredEvent: Sendable {
    public var id: String
    public var type: String
    public var source: String
    public var partitionKey: String?
    /// The exact bytes the producer sent.
    public var data: [UInt8]
}
