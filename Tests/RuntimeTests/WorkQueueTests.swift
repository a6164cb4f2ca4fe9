import Foundation
import Runtime
import Testing

@Suite("Work queue")
struct WorkQueueTests {
    @Test func takesEverythingQueuedAtOnce() {
        let queue = WorkQueue<Int>()
        for value in 1...3 { #expect(queue.push(value)) }
        guard case .items(let taken) = queue.takeAll() else { Issue.record("expected items"); return }
        #expect(taken == [1, 2, 3])
    }

    @Test func aTimedWaitEndsEmptyHandedAtItsDeadline() {
        let queue = WorkQueue<Int>()
        let started = ContinuousClock.now
        guard case .timedOut = queue.takeAll(waitingAtMost: 50_000) else { Issue.record("expected a time-out"); return }
        #expect(started.duration(to: .now) >= .milliseconds(45))
        // A deadline already past returns at once.
        guard case .timedOut = queue.takeAll(waitingAtMost: -5) else { Issue.record("expected a time-out"); return }
    }

    @Test func aWaitingConsumerWakesForWork() {
        let queue = WorkQueue<Int>()
        let producer = Thread { Thread.sleep(forTimeInterval: 0.05); queue.push(7) }
        producer.start()
        guard case .items(let taken) = queue.takeAll(waitingAtMost: 5_000_000) else { Issue.record("expected items"); return }
        #expect(taken == [7])
    }

    @Test func closingRefusesWorkButHandsOverWhatWasQueued() {
        let queue = WorkQueue<Int>()
        queue.push(1)
        queue.close()
        #expect(!queue.push(2))
        guard case .items(let taken) = queue.takeAll(waitingAtMost: 1_000) else { Issue.record("expected items"); return }
        #expect(taken == [1])
        guard case .closed = queue.takeAll() else { Issue.record("expected closed"); return }
    }
}
