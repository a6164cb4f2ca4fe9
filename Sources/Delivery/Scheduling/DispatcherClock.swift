import Runtime

/// The two clocks the dispatcher reads (see Runtime's Clocks.swift). Due times, sleeps, rate
/// limits and batching intervals are measured on the monotonic clock, so a wall-clock step
/// (NTP, an operator) never delays a retry or bursts one early; the wall clock only stamps
/// what leaves the dispatcher — journal records, webhook timestamps, the status board.
public protocol DispatcherClock: Sendable {
    /// Microseconds since the Unix epoch.
    func wallMicroseconds() -> Int64
    /// Microseconds on a clock that never steps.
    func monotonicMicroseconds() -> Int64
}

/// The system's clocks.
public struct SystemDispatcherClock: DispatcherClock {
    public init() {}
    public func wallMicroseconds() -> Int64 { wallClockMicroseconds() }
    public func monotonicMicroseconds() -> Int64 { Runtime.monotonicMicroseconds() }
}
