#if canImport(Glibc)
import Glibc
#endif
import CPlatform

/// A plain POSIX thread for a long-running loop (an event loop, a journal writer): such loops
/// block in `epoll_wait` or `fdatasync`, which must never happen on Swift's shared
/// concurrency pool. Join the returned handle to wait for `body` to return. `name` (at most
/// 15 bytes, the kernel's limit) is what `top -H`, `ps -L` and `perf` show for the thread.
public func spawnThread(name: String, _ body: @escaping () -> Void) throws(SystemError) -> pthread_t {
    final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    let box = Unmanaged.passRetained(Body {
        csystem_name_current_thread(name)
        body()
    }).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
        return nil
    }, box)
    guard result == 0 else {
        Unmanaged<Body>.fromOpaque(box).release()
        throw SystemError(call: "pthread_create", errno: result)
    }
    return thread
}

/// Lowers the calling thread's scheduling priority (Linux: a nice value per thread), for
/// background work that must yield the cores to the request and delivery threads.
public func lowerCurrentThreadPriority(nice: Int32 = 10) {
    _ = csystem_lower_current_thread_priority(nice)
}
