/// An IPv4 or IPv6 network in CIDR notation (RFC 4632 §3.1, RFC 4291 §2.3): `10.0.0.0/8`,
/// `fd00::/8`, or a bare address meaning just that address (`/32` or `/128`).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the network (all bits past the prefix are zero).
    public let network: IPAddress
    public let prefixLength: Int

    /// Parses `ADDRESS/PREFIX` or a bare `ADDRESS`. Bits set past the prefix
    /// (`10.0.0.1/8`) are refused rather than masked: that is almost always a typo for a
    /// narrower or wider range, and guessing would widen an SSRF allow list silently.
    public init(parsing text: String) throws(CIDRError) {
        let parts = text.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw CIDRError(input: text, reason: "more than one '/'") }
        guard !parts[0].isEmpty else { throw CIDRError(input: text, reason: "the address before '/' is missing") }
        guard let address = IPAddress(parts[0]) else {
            throw CIDRError(input: text, reason: "'\(parts[0])' is not a numeric IPv4 or IPv6 address")
        }
        let width = address.bitWidth
        var prefixLength = width
        if parts.count == 2 {
            let digits = parts[1]
            // Decimal without sign, spaces or leading zeros: "/08" or "/+8" is not CIDR.
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  digits == "0" || !digits.hasPrefix("0"), let value = Int(digits) else {
                throw CIDRError(input: text, reason: "the prefix length after '/' must be a number from 0 to \(width)")
            }
            guard value <= width else {
                throw CIDRError(input: text, reason: "the prefix length /\(value) is longer than the \(width) bits of an \(address.familyName) address")
            }
            prefixLength = value
        }
        let masked = address.masked(to: prefixLength)
        guard masked == address else {
            throw CIDRError(input: text, reason: "bits are set past the /\(prefixLength) prefix; did you mean \(masked)/\(prefixLength)?")
        }
        self.network = address
        self.prefixLength = prefixLength
    }

    /// For the built-in ranges, which are known to be well-formed.
    init(_ network: IPAddress, _ prefixLength: Int) {
        self.network = network.masked(to: prefixLength)
        self.prefixLength = prefixLength
    }

    /// True if `address` is inside. An IPv4 network never contains an IPv6 address or the
    /// reverse; callers that mean IPv4-mapped addresses unwrap them first.
    public func contains(_ address: IPAddress) -> Bool {
        switch (network, address) {
        case (.v4, .v4), (.v6, .v6): address.masked(to: prefixLength) == network
        default: false
        }
    }

    public var description: String { "\(network)/\(prefixLength)" }
}

/// A malformed CIDR, with the text and what is wrong with it.
public struct CIDRError: Error, Equatable, Sendable, CustomStringConvertible {
    public let input: String
    public let reason: String
    public var description: String { "'\(input)' is not a valid CIDR range (like 10.0.0.0/8 or fd00::/8): \(reason)." }
}

extension IPAddress {
    var bitWidth: Int {
        switch self {
        case .v4: 32
        case .v6: 128
        }
    }

    var familyName: String {
        switch self {
        case .v4: "IPv4"
        case .v6: "IPv6"
        }
    }

    /// The address with every bit past the first `prefixLength` cleared.
    func masked(to prefixLength: Int) -> IPAddress {
        switch self {
        case .v4(let value):
            let keep = max(0, min(32, prefixLength))
            return .v4(keep == 0 ? 0 : value & ~UInt32(0) << (32 - keep))
        case .v6(let value):
            let keep = max(0, min(128, prefixLength))
            return .v6(keep == 0 ? 0 : value & ~UInt128(0) << (128 - keep))
        }
    }
}
