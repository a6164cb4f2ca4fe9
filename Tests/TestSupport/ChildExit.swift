import Foundation

/// Waiting for a child process to end, bounded, without `Process.waitUntilExit`.
///
/// On Linux, Foundation learns of a child's exit from SIGCHLD, and `waitUntilExit` spins a
/// run loop until it has. With several children started at once from different threads, the
/// notice can be lost: the child stays a zombie, `waitUntilExit` spins forever, and the test
/// pool's threads with it (seen in CI: a whole run stuck behind two `gatewayd listen` stops).
/// Here the child is reaped directly with `waitpid`, polling, for at most `timeout` seconds.
public enum ChildExit {
    /// The child's exit status (or its signal number, as `Process.terminationStatus` gives
    /// it), nil if it has not ended within `timeout`.
    @discardableResult
    public static func wait(for process: Process, timeout: Double = 30) -> Int32? {
        let pid = process.processIdentifier
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                return status & 0x7F == 0 ? (status >> 8) & 0xFF : status & 0x7F
            }
            // Foundation reaped it first: its own status is, or is about to be, set.
            if reaped == -1 && errno == ECHILD && !process.isRunning { return process.terminationStatus }
            usleep(5_000)
        }
        return nil
    }

    /// Sends `signal` and waits as above.
    @discardableResult
    public static func stop(_ process: Process, signal: Int32 = SIGTERM, timeout: Double = 30) -> Int32? {
        kill(process.processIdentifier, signal)
        return wait(for: process, timeout: timeout)
    }
}
