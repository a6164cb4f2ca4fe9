import Foundation

// Waiting helpers shared by the test targets.
//
// Swift Testing runs tests on the cooperative pool, which has one thread per core (two on
// CI). A test that blocks one of those threads (a sleep, a semaphore, a blocking socket read,
// a child process) stalls every other test behind it, and the HTTP suite's timing checks
// then fail. So long blocking work goes through `offThePool`, and waits poll with
// `Task.sleep`.

/// Runs blocking work on a thread of its own and awaits it without holding a pool thread.
/// Report failures through the result: an `#expect` inside `work` has no test to belong to.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do {
                continuation.resume(returning: try work())
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// Polls `condition` every 2 ms until it holds or `timeout` passes; sleeps with `Task.sleep`.
public func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}

/// Runs `body` on a detached thread of its own after `delay` (to complete something "later").
public func afterDelay(_ delay: Duration, _ body: @escaping @Sendable () -> Void) {
    Thread.detachNewThread {
        Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
        body()
    }
}

/// Runs `work` for 0..<count all at once, each on a thread of its own (off the test pool),
/// and returns the results in that order: for tests of concurrent requests.
public func concurrently<T: Sendable>(_ count: Int, _ work: @escaping @Sendable (Int) throws -> T) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
        for index in 0..<count {
            group.addTask { (index, try await offThePool { try work(index) }) }
        }
        var results: [(Int, T)] = []
        for try await result in group { results.append(result) }
        return results.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
