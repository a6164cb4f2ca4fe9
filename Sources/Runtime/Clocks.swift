#if canImport(Glibc)
import Glibc
#endif

// The two clocks the gateway reads, and what each is for.
//
// - The wall clock (CLOCK_REALTIME) says *when*: journal timestamps, `receivedAt`, retry
//   times written into records, webhook timestamps. It can step backwards or forwards.
// - The monotonic clock (CLOCK_MONOTONIC) says *how long*: timeouts, sleeps, deadlines. A
//   wall-clock step must never stretch or shorten a wait, so waits are never computed from
//   the wall clock.

/// Microseconds since the Unix epoch, from the real-time clock.
@Sendable public func wallClockMicroseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec / 1000)
}

/// Monotonic time in microseconds (since an arbitrary point, usually boot).
@Sendable public func monotonicMicroseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec / 1000)
}

/// Monotonic time in nanoseconds; deadlines never move with wall-clock changes.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

extension Duration {
    /// Whole microseconds, the unit of both clocks above and of the journal's timestamps.
    public var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
