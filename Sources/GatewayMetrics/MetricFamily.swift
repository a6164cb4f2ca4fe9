import Prometheus

/// Every metric family the gateway exposes: its name (prefixed `gateway_`, its unit in the
/// name), its help text, and its buckets when it is a histogram. One table, so README's
/// "Metrics" section and `/metrics` can be checked against each other.
struct MetricFamily: Sendable {
    let name: String
    let help: String

    var descriptor: MetricNameDescriptor {
        // The name is already whole: an empty unit adds nothing to it.
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    // MARK: - HTTP

    static let httpRequests = MetricFamily(
        name: "gateway_http_requests_total",
        help: "HTTP responses written, by the route that answered (its template; unmatched when none did), its method and the status.")
    static let httpRequestDuration = MetricFamily(
        name: "gateway_http_request_duration_seconds",
        help: "From a request's first bytes read to its response written, by route and method.")

    // MARK: - Ingest

    static let eventsIngested = MetricFamily(
        name: "gateway_events_ingested_total",
        help: "New events made durable, by type (the first 100 types seen since start; later ones as other) and source (a source's name, or admin).")
    static let eventsRejected = MetricFamily(
        name: "gateway_events_rejected_total",
        help: "Ingest requests refused (a batch counts once), by reason.")
    static let inboundRequests = MetricFamily(
        name: "gateway_inbound_requests_total",
        help: "Provider webhooks to /in/{source}, by source and outcome: accepted, duplicate, challenge, or why it was refused.")

    // MARK: - Journal

    static let journalBatchRecords = MetricFamily(
        name: "gateway_journal_batch_records",
        help: "Records per journal group write (one write, at most one fdatasync): the group-commit batch size.")
    static let journalWrittenBytes = MetricFamily(
        name: "gateway_journal_written_bytes_total",
        help: "Bytes of records written to the journal.")
    static let journalFsyncDuration = MetricFamily(
        name: "gateway_journal_fsync_duration_seconds",
        help: "Duration of each fdatasync of the active journal segment.")
    static let journalSize = MetricFamily(
        name: "gateway_journal_size_bytes",
        help: "Bytes of the journal's segments on disk (sealed and active).")
    static let journalSegments = MetricFamily(
        name: "gateway_journal_segments",
        help: "Journal segments on disk (sealed and active).")

    // MARK: - Delivery

    static let deliveryAttempts = MetricFamily(
        name: "gateway_delivery_attempts_total",
        help: "Delivery attempts by outcome: delivered, retry_scheduled, dead_lettered, subscription_disabled (410).")
    static let deliveryLatency = MetricFamily(
        name: "gateway_delivery_latency_seconds",
        help: "From an event's commit to its 2xx delivery, retries included (deliveries owed later by a redelivery, resend or replay are left out).")
    static let deliveryInFlight = MetricFamily(
        name: "gateway_delivery_attempts_in_flight",
        help: "Delivery attempts sent and not yet answered.")
    static let subscriptionPending = MetricFamily(
        name: "gateway_subscription_pending_deliveries",
        help: "Deliveries owed to a subscription and not yet finished, by subscription id.")
    static let subscriptionDeadLetters = MetricFamily(
        name: "gateway_subscription_dead_letters",
        help: "Dead letters a subscription holds, by subscription id.")
    static let subscriptionCircuit = MetricFamily(
        name: "gateway_subscription_circuit_state",
        help: "A subscription's circuit breaker: 1 for its current state (closed, open, half-open), 0 for the others.")

    // MARK: - Process

    static let residentMemory = MetricFamily(
        name: "gateway_process_resident_memory_bytes",
        help: "Resident set size of the gatewayd process.")
    static let openFileDescriptors = MetricFamily(
        name: "gateway_process_open_fds",
        help: "File descriptors the gatewayd process has open.")
    static let uptime = MetricFamily(
        name: "gateway_uptime_seconds",
        help: "Seconds since gatewayd started.")

    /// All of them, in the order README lists them.
    static let all: [MetricFamily] = [
        httpRequests, httpRequestDuration, eventsIngested, eventsRejected, inboundRequests, journalBatchRecords, journalWrittenBytes,
        journalFsyncDuration, journalSize, journalSegments, deliveryAttempts, deliveryLatency, deliveryInFlight,
        subscriptionPending, subscriptionDeadLetters, subscriptionCircuit, residentMemory, openFileDescriptors, uptime,
    ]
}

/// Histogram bucket bounds, chosen for what each measures on the reference machine. Times
/// are seconds as `Double`: swift-prometheus records a `Double` in half the time of a
/// `Duration` (≈ 50 against ≈ 100 ns), and these are recorded on hot paths.
enum MetricBuckets {
    /// HTTP answers: ingest waits ≈ 0.2-2 ms for its group commit; admin reads take µs.
    static let httpDuration: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    /// `fdatasync`: ≈ 0.1-0.2 ms on a quiet virtio disk, far more on a busy or network one.
    static let fsyncDuration: [Double] = [
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    ]
    /// Commit to 2xx: milliseconds when the subscriber is up, up to the retry policy's
    /// maximum age (days) when it is not.
    static let deliveryLatency: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400,
    ]
    /// Records per group write: powers of two up to the largest batches seen under load.
    static let batchRecords: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]
}
