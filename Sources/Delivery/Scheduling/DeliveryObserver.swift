/// Told how each delivery attempt ended, for metrics. Called on the dispatcher's thread as
/// it takes each result, so it must be quick and must not block: every lane waits meanwhile.
public protocol DeliveryObserver: Sendable {
    /// An attempt finished with `outcome`. For a delivered attempt of an event whose delivery
    /// was owed since the event was stored, `latencyMicroseconds` is the time from the
    /// event's commit to now (retries included); nil otherwise (failed attempts, and
    /// deliveries a redelivery, resend or replay owed later, whose commit is long past).
    func attemptFinished(_ outcome: AttemptResult, latencyMicroseconds: Int64?)
}

/// How an attempt ended, as the retry policy decided: a small, fixed set for a metric label.
public enum AttemptResult: String, Sendable, CaseIterable {
    /// A 2xx: the delivery is done.
    case delivered
    /// Failed; another attempt is scheduled.
    case retryScheduled = "retry_scheduled"
    /// Failed for the last time; the event is a dead letter.
    case deadLettered = "dead_lettered"
    /// 410 Gone: the subscription is disabled, the event stays owed.
    case subscriptionDisabled = "subscription_disabled"
}
