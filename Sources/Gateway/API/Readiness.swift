import Synchronization

/// What `GET /readyz` asks: named checks, each answering nil when its part can do its job or
/// the reason it cannot. The store's check is built in; other parts (the delivery engine,
/// which lives in another module) add theirs when they start.
public final class Readiness: Sendable {
    public typealias Check = @Sendable () -> String?

    private let checks = Mutex<[(name: String, check: Check)]>([])

    public init() {}

    /// Adds (or replaces) the check called `name`.
    public func register(_ name: String, _ check: @escaping Check) {
        checks.withLock { checks in
            checks.removeAll { $0.name == name }
            checks.append((name, check))
        }
    }

    /// Every check's answer, in registration order: nil means ready.
    public func evaluate() -> [(name: String, failure: String?)] {
        checks.withLock { $0 }.map { ($0.name, $0.check()) }
    }
}
