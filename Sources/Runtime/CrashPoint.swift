#if canImport(Glibc)
import Glibc
#endif

/// Named moments in multi-step file work (a snapshot's rename, a segment's deletion) where
/// the crash tests kill the process: with `GATEWAY_TEST_CRASH_AT=<name>` in its environment
/// the process sends itself SIGKILL on reaching that point, a real kill -9 at an exact step.
/// For tests only; without the variable each point is one comparison with nil.
public enum CrashPoint {
    private static let armed: String? = getenv("GATEWAY_TEST_CRASH_AT").map { String(cString: $0) }

    public static func reach(_ name: String) {
        guard let armed, armed == name else { return }
        kill(getpid(), SIGKILL)
    }
}
