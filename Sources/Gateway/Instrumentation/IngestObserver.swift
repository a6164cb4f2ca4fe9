/// Told what ingest did, for metrics: each event stored and each request refused. Called on
/// the ingest path (an event loop, or the journal writer after its `fdatasync`), so it must
/// be quick and must not block.
public protocol IngestObserver: Sendable {
    /// A new event is durable (repeats answered with their original receipt are not new).
    /// `publisher` rather than the event's `source`: the admin may write any `source` into
    /// an envelope, while publishers are bounded by configuration.
    func eventStored(type: String, publisher: Publisher)
    /// An ingest request was refused; nothing of it was stored.
    func ingestRefused(_ reason: IngestRefusal)
}

/// Why an ingest request (`POST /v1/events` or `/v1/events/batch`) was refused: a small,
/// fixed set, so it can label a metric. Read off the answer's status.
public enum IngestRefusal: String, Sendable, CaseIterable {
    /// 401, 403: no token, a wrong one, or one that may not publish.
    case unauthorized
    /// 415: the body is not declared as JSON.
    case unsupportedMediaType = "unsupported_media_type"
    /// 400: the body is not valid JSON.
    case invalidJSON = "invalid_json"
    /// 422 without schema violations: a malformed envelope, a bad idempotency key, an
    /// unregistered type under `--require-event-types`.
    case invalidEnvelope = "invalid_envelope"
    /// 422 listing schema violations.
    case schemaViolation = "schema_violation"
    /// 413: a batch over `--max-batch-events`.
    case tooLarge = "too_large"
    /// 409: an idempotency key or event id reused for a different event.
    case conflict
    /// 503, 500: the store could not take it (a full disk, a failed journal).
    case unavailable

    public init(status: Int, hasViolations: Bool = false) {
        switch status {
        case 401, 403: self = .unauthorized
        case 415: self = .unsupportedMediaType
        case 400: self = .invalidJSON
        case 422: self = hasViolations ? .schemaViolation : .invalidEnvelope
        case 413: self = .tooLarge
        case 409: self = .conflict
        default: self = .unavailable
        }
    }
}
