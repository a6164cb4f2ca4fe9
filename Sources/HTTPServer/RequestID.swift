/// Every response carries `X-Request-Id`: the client's own when it sent a usable one (so a
/// proxy's or caller's id follows the request through), otherwise one made here. The same id
/// is in the request's log line, so an answer a user reports can be found in the logs.
enum RequestID {
    static let header = "X-Request-Id"
    /// Longer client ids are replaced: they would bloat every log line.
    static let maximumLength = 128

    /// The client's id if it is 1-128 visible ASCII characters (no spaces, no controls: it is
    /// echoed in a header and written in logs), else nil.
    static func accepted(_ candidate: String?) -> String? {
        guard let candidate, !candidate.isEmpty, candidate.utf8.count <= maximumLength,
              candidate.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return candidate
    }

    /// Makes ids for one event loop: a random prefix per loop and a counter, in hex
    /// (`5f3a9c01-2b`), unique within the process without any shared state.
    struct Generator {
        private let prefix: String
        private var counter: UInt64 = 0

        init() {
            var generator = SystemRandomNumberGenerator()
            let random = String(UInt32.random(in: .min ... .max, using: &generator), radix: 16)
            prefix = String(repeating: "0", count: 8 - random.count) + random + "-"
        }

        mutating func next() -> String {
            counter &+= 1
            return prefix + String(counter, radix: 16)
        }
    }
}
