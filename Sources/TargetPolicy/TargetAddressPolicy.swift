/// Which addresses webhooks may be sent to: the SSRF guard of DESIGN invariant 7.
///
/// Subscriber URLs are chosen by API callers, and the gateway usually runs inside a network
/// with things worth protecting (cloud metadata at 169.254.169.254, admin ports on loopback,
/// databases on private ranges). So by default every address that is not globally reachable
/// is refused: the IANA special-purpose ranges (RFC 6890 and its updates) for IPv4 and IPv6.
/// IPv6 forms that carry an IPv4 address the kernel or a translator will actually connect to
/// (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that
/// IPv4 address; Teredo (`2001::/32`), whose endpoint is obscured, is refused outright.
///
/// Two ways to let traffic through, both operator decisions: `allowList` names ranges that
/// are always allowed (it wins over every refusal, also for the IPv4 inside an IPv6 form),
/// and `allowPrivate` turns the address check off entirely (for a gateway whose subscribers
/// all live on a private network).
///
/// Checking a name's addresses when a subscription is created gives an early, precise
/// answer, but a name can resolve differently a second later (DNS rebinding). The check that
/// holds is the one on the address actually being connected to: the delivery engine calls
/// `check(_:)` from libcurl's open-socket callback with the `sockaddr` it is given.
public struct TargetAddressPolicy: Sendable {
    /// When true, no address is refused.
    public var allowPrivate: Bool
    /// Ranges that are allowed even though they are special-purpose.
    public var allowList: [CIDR]

    /// What an operator can do about a refusal; part of every address refusal's message.
    public static let remedy = "start gatewayd with --allow-private-targets to allow it"

    public init(allowPrivate: Bool = false, allowList: [CIDR] = []) {
        self.allowPrivate = allowPrivate
        self.allowList = allowList
    }

    /// With the allow list given as text (`["10.1.0.0/16", "fd00::/8"]`).
    public init(allowPrivate: Bool = false, allowing ranges: [String]) throws(CIDRError) {
        var parsed: [CIDR] = []
        for range in ranges { parsed.append(try CIDR(parsing: range)) }
        self.init(allowPrivate: allowPrivate, allowList: parsed)
    }

    /// Nil when webhooks may go to `address`; otherwise why not.
    public func check(_ address: IPAddress) -> Refusal? {
        refusal(for: address) { "\(Self.describe(address)) is \($0)" }
    }

    /// Nil when every one of `addresses` (what `host` resolved to) is allowed. One refused
    /// address refuses the host: the connection may go to any of them, and an attacker who
    /// controls a name's records can list a public address first to pass a lazier check.
    public func check(host: String, addresses: [IPAddress]) -> Refusal? {
        for address in addresses {
            let isLiteral = IPAddress(host) == address
            if let refusal = refusal(for: address, subject: {
                isLiteral ? "the address \(Self.describe(address)) is \($0)"
                    : "the host '\(host)' resolves to \(Self.describe(address)), \($0)"
            }) {
                return refusal
            }
        }
        return nil
    }

    private func refusal(for address: IPAddress, subject: (String) -> String) -> Refusal? {
        if allowPrivate { return nil }
        let embedded = Self.embeddedIPv4(address)
        if allowList.contains(where: { $0.contains(address) || embedded.map($0.contains) == true }) { return nil }
        guard let classification = Self.classify(address) else { return nil }
        let what = "\(classification.category.phrase) (\(classification.range))"
        return Refusal(
            kind: .forbiddenAddress(address, classification.category, range: classification.range),
            message: "\(subject(what)); \(Self.remedy)"
        )
    }

    /// `::ffff:10.0.0.1` is shown with what it means, so the refusal explains itself.
    private static func describe(_ address: IPAddress) -> String {
        guard let (form, v4) = embeddedIPv4Form(address) else { return "\(address)" }
        return "\(address) (the \(form) form of \(v4))"
    }

    // MARK: - Classification

    /// The special-purpose range `address` falls in, or nil for a globally reachable address.
    /// For IPv6 forms that embed an IPv4 address, the classification is the IPv4 address's.
    public static func classify(_ address: IPAddress) -> AddressClassification? {
        switch address {
        case .v4:
            return ipv4Ranges.first { $0.range.contains(address) }
        case .v6(let value):
            if let v4 = embeddedIPv4(address) {
                return classify(v4)
            }
            if let special = ipv6Ranges.first(where: { $0.range.contains(address) }) {
                return special
            }
            // Everything outside 2000::/3 (global unicast, RFC 4291 §2.4) that the table did
            // not name is unassigned or reserved: nothing a webhook should reach.
            if value >> 125 != 0b001 {
                return AddressClassification(category: .reserved, range: CIDR(address, 3))
            }
            return nil
        }
    }

    /// The IPv4 address an IPv6 address stands for, when the kernel or a translator connects
    /// to that IPv4 address in its place.
    static func embeddedIPv4(_ address: IPAddress) -> IPAddress? {
        embeddedIPv4Form(address)?.1
    }

    private static func embeddedIPv4Form(_ address: IPAddress) -> (String, IPAddress)? {
        guard case .v6(let value) = address else { return nil }
        if let v4 = address.ipv4Mapped { return ("IPv4-mapped", .v4(v4)) }                 // RFC 4291 §2.5.5.2
        if value >> 32 == 0x0064_FF9B << 64 { return ("NAT64", .v4(UInt32(truncatingIfNeeded: value))) }  // RFC 6052 §2.1
        if value >> 112 == 0x2002 { return ("6to4", .v4(UInt32(truncatingIfNeeded: value >> 80))) }  // RFC 3056 §2
        return nil
    }

    private static func v4(_ text: String, _ prefix: Int, _ category: AddressCategory) -> AddressClassification {
        // The table below is constant and checked by tests; a typo in it is a bug, not input.
        let address = IPAddress(text) ?? .v4(0)
        return AddressClassification(category: category, range: CIDR(address, prefix))
    }

    private static func v6(_ text: String, _ prefix: Int, _ category: AddressCategory) -> AddressClassification {
        let address = IPAddress(text) ?? .v6(0)
        return AddressClassification(category: category, range: CIDR(address, prefix))
    }

    /// Most specific first: the first match names the range in the message.
    static let ipv4Ranges: [AddressClassification] = [
        v4("255.255.255.255", 32, .broadcast),       // RFC 919
        v4("0.0.0.0", 8, .unspecified),              // "this network", RFC 791; 0.0.0.0 reaches the local host on Linux
        v4("127.0.0.0", 8, .loopback),               // RFC 1122
        v4("10.0.0.0", 8, .private),                 // RFC 1918
        v4("172.16.0.0", 12, .private),              // RFC 1918
        v4("192.168.0.0", 16, .private),             // RFC 1918
        v4("169.254.0.0", 16, .linkLocal),           // RFC 3927; cloud metadata lives here
        v4("100.64.0.0", 10, .sharedAddressSpace),   // RFC 6598, carrier-grade NAT
        v4("198.18.0.0", 15, .benchmarking),         // RFC 2544
        v4("192.0.2.0", 24, .documentation),         // RFC 5737 TEST-NET-1
        v4("198.51.100.0", 24, .documentation),      // RFC 5737 TEST-NET-2
        v4("203.0.113.0", 24, .documentation),       // RFC 5737 TEST-NET-3
        v4("192.0.0.0", 24, .reserved),              // RFC 6890 IETF protocol assignments
        v4("192.88.99.0", 24, .reserved),            // RFC 7526, deprecated 6to4 relay anycast
        v4("224.0.0.0", 4, .multicast),              // RFC 5771
        v4("240.0.0.0", 4, .reserved),               // RFC 1112 §4, future use
    ]

    static let ipv6Ranges: [AddressClassification] = [
        v6("::", 128, .unspecified),                 // RFC 4291 §2.5.2
        v6("::1", 128, .loopback),                   // RFC 4291 §2.5.3
        v6("::", 96, .reserved),                     // RFC 4291 §2.5.5.1, deprecated IPv4-compatible
        v6("64:ff9b:1::", 48, .private),             // RFC 8215, local-use NAT64
        v6("100::", 64, .reserved),                  // RFC 6666, discard-only
        v6("2001:db8::", 32, .documentation),        // RFC 3849
        v6("3fff::", 20, .documentation),            // RFC 9637
        v6("2001:2::", 48, .benchmarking),           // RFC 5180
        v6("2001::", 32, .tunnel),                   // RFC 4380, Teredo
        v6("2001::", 23, .reserved),                 // RFC 2928, IETF protocol assignments
        v6("fc00::", 7, .private),                   // RFC 4193, unique local
        v6("fec0::", 10, .private),                  // RFC 3879, deprecated site-local
        v6("fe80::", 10, .linkLocal),                // RFC 4291 §2.5.6
        v6("ff00::", 8, .multicast),                 // RFC 4291 §2.7
    ]
}

/// Why an address is special.
public enum AddressCategory: String, Sendable, Equatable, CaseIterable {
    case loopback, `private`, linkLocal, multicast, unspecified, broadcast
    case sharedAddressSpace, benchmarking, documentation, reserved, tunnel

    /// "a private address", as refusal messages use it.
    public var phrase: String {
        switch self {
        case .loopback: "a loopback address"
        case .private: "a private address"
        case .linkLocal: "a link-local address"
        case .multicast: "a multicast address"
        case .unspecified: "an unspecified address"
        case .broadcast: "the broadcast address"
        case .sharedAddressSpace: "a shared (carrier-grade NAT) address"
        case .benchmarking: "a benchmarking address"
        case .documentation: "a documentation address"
        case .reserved: "a reserved address"
        case .tunnel: "a Teredo tunnel address, whose real endpoint cannot be judged"
        }
    }
}

/// The special-purpose range an address is in.
public struct AddressClassification: Sendable, Equatable {
    public let category: AddressCategory
    public let range: CIDR
}

/// A target the policy will not send to, with a message fit for an RFC 9457 `detail`.
public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// An address in a refused range (the first one found, for a host).
        case forbiddenAddress(IPAddress, AddressCategory, range: CIDR)
        /// The URL itself is unusable (scheme, credentials, port, syntax).
        case invalidURL
        /// The host did not resolve. `temporary` is DNS's "try again" (EAI_AGAIN): at delivery
        /// time that is a failed attempt to retry, not a verdict on the subscription.
        case unresolvable(temporary: Bool)
    }

    public let kind: Kind
    public let message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
