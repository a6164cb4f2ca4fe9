import Runtime

/// How `gatewayd listen` answers each request: `204` by default; with `--fail-rate` that
/// share of requests gets `--status` (500 unless given); with `--status` alone every request
/// gets it. `--delay` holds every answer; `--retry-after` goes on failures (so `429`/`503`
/// with it show the gateway honouring Retry-After).
///
/// Which requests fail is a pure function of the seed and the request's number, so
/// `--seed` makes a run repeatable; without it the seed is random.
struct ListenAnswerPolicy: Sendable {
    struct Configuration: Sendable, Equatable {
        var failRate: Double?
        var failureStatus: Int?
        var delay: Duration?
        var retryAfterSeconds: Int?
        var seed: UInt64?
    }

    enum Reason: String, Sendable {
        case success = "ok"
        case failRate = "fail-rate"
        case status = "status"
    }

    struct Answer: Sendable, Equatable {
        var status: Int
        var reason: Reason
        var delay: Duration?
        var retryAfterSeconds: Int?
    }

    /// What a success is: no content, which every webhook sender counts as delivered.
    static let successStatus = 204
    static let defaultFailureStatus = 500

    let configuration: Configuration
    private let seed: UInt64

    init(_ configuration: Configuration) {
        self.configuration = configuration
        var system = SystemRandomNumberGenerator()
        seed = configuration.seed ?? system.next()
    }

    /// The answer to the `number`th request (from 1).
    func answer(toRequest number: Int) -> Answer {
        let failing: Reason?
        switch (configuration.failRate, configuration.failureStatus) {
        case (let rate?, _):
            failing = Self.draw(seed: seed, number: number) < rate ? .failRate : nil
        case (nil, _?):
            failing = .status
        case (nil, nil):
            failing = nil
        }
        guard let failing else {
            return Answer(status: Self.successStatus, reason: .success, delay: configuration.delay)
        }
        return Answer(status: configuration.failureStatus ?? Self.defaultFailureStatus, reason: failing,
                      delay: configuration.delay, retryAfterSeconds: configuration.retryAfterSeconds)
    }

    /// A uniform number in 0..<1 from the seed and the request number: the project's stable
    /// hash (FNV-1a with the SplitMix64 finalizer) over both, top 53 bits as a fraction.
    static func draw(seed: UInt64, number: Int) -> Double {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: seed.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(truncatingIfNeeded: number).littleEndian) { bytes.append(contentsOf: $0) }
        return Double(StableHash.of(bytes) >> 11) / Double(1 << 53)
    }
}
