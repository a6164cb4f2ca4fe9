import Runtime
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TestSupport
import Testing

@Suite("Worker pool")
struct WorkerPoolTests {
    @Test func runsEveryJobOnItsThreads() async throws {
        let pool = try WorkerPool(name: "test-pool", threads: 2, capacity: 100)
        let done = Atomic(0)
        for _ in 0..<50 { #expect(pool.submit { done.add(1, ordering: .relaxed) }) }
        #expect(await eventually { done.load(ordering: .relaxed) == 50 })
        pool.shutdown()
    }

    @Test func refusesWhenItsQueueIsFullAndRecovers() async throws {
        let pool = try WorkerPool(name: "test-pool", threads: 1, capacity: 2)
        let release = Atomic(false)
        let started = Atomic(0)
        // One job holds the only thread; two more fill the queue; the fourth is refused.
        let blocker: WorkerPool.Job = {
            started.add(1, ordering: .relaxed)
            while !release.load(ordering: .relaxed) { usleep(1000) }
        }
        #expect(pool.submit(blocker))
        #expect(await eventually { started.load(ordering: .relaxed) == 1 })
        #expect(pool.submit {})
        #expect(pool.submit {})
        #expect(!pool.submit {})
        release.store(true, ordering: .relaxed)
        #expect(await eventually { pool.submit {} })
        pool.shutdown()
        #expect(!pool.submit {}, "a pool that was shut down takes nothing")
    }
}
