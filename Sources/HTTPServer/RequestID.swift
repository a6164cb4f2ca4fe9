/// Every response carries `X-Request-Id`: the client's own when it sent a usable one (so a
/// proxy's or caller's id follows the request through), otherwise one made here. The same id
/// is in the request's log line, so an answer a user reports can be found in the logs.
///
/// A made id is a loop's random prefix and a counter (`5f3a9c01-2b`): unique within the
/// process without shared state, and written straight into the response bytes — no string is
/// built unless a handler or a log line asks for it.
struct RequestID: Sendable {
    static let header = "X-Request-Id"
    /// Longer client ids are replaced: they would bloat every log line.
    static let maximumLength = 128

    private enum Source: Sendable {
        /// The loop's prefix is not stored here (it would be a reference to retain and
        /// release per request): whoever renders the id passes it in.
        case made(number: UInt64)
        case client(String)
    }

    private let source: Source

    /// The client's id if it is 1-128 visible ASCII characters (no spaces, no controls: it is
    /// echoed in a header and written in logs), else nil.
    static func accepted(_ candidate: String?) -> RequestID? {
        guard let candidate, !candidate.isEmpty, candidate.utf8.count <= maximumLength,
              candidate.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return RequestID(source: .client(candidate))
    }

    /// The id as text; `prefix` is the loop's that made it.
    func text(prefix: Generator.Prefix) -> String {
        switch source {
        case .client(let id): id
        case .made(let number): prefix.text + String(number, radix: 16)
        }
    }

    /// Appends the `X-Request-Id: …` header line; `prefix` is the loop's that made it.
    func appendHeader(to output: inout [UInt8], prefix: Generator.Prefix) {
        switch source {
        case .client(let id):
            output.append(contentsOf: Generator.Prefix.headerName)
            output.append(contentsOf: id.utf8)
        case .made(let number):
            output.append(contentsOf: prefix.headerLine)
            appendHex(number, to: &output)
        }
        output.append(13)
        output.append(10)
    }

    private func appendHex(_ value: UInt64, to output: inout [UInt8]) {
        let digits = max(1, (64 - value.leadingZeroBitCount + 3) / 4)
        for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
            let nibble = UInt8((value >> UInt64(shift)) & 0xF)
            output.append(nibble < 10 ? 0x30 + nibble : 0x57 + nibble)
        }
    }

    /// Makes ids for one event loop.
    struct Generator {
        /// The loop's prefix, as text and as the header line's bytes up to the counter.
        final class Prefix: Sendable {
            static let headerName = Array("\(RequestID.header): ".utf8)
            let text: String
            let headerLine: [UInt8]

            init(_ text: String) {
                self.text = text
                headerLine = Self.headerName + Array(text.utf8)
            }
        }

        let prefix: Prefix
        private var counter: UInt64 = 0

        init() {
            var generator = SystemRandomNumberGenerator()
            let random = String(UInt32.random(in: .min ... .max, using: &generator), radix: 16)
            prefix = Prefix(String(repeating: "0", count: 8 - random.count) + random + "-")
        }

        mutating func next() -> RequestID {
            counter &+= 1
            return RequestID(source: .made(number: counter))
        }
    }
}
