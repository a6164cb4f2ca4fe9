@testable import TargetPolicy
#if canImport(Glibc)
import Glibc
#endif
import Testing

private func ip(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> IPAddress {
    try #require(IPAddress(text), "'\(text)' did not parse", sourceLocation: sourceLocation)
}

@Suite("Target address policy (SSRF)")
struct TargetAddressPolicyTests {
    static let strict = TargetAddressPolicy()

    static func category(_ text: String) throws -> AddressCategory? {
        let address = try #require(IPAddress(text), "'\(text)' did not parse")
        let classification = TargetAddressPolicy.classify(address)
        // check() and classify() agree.
        #expect((strict.check(address) == nil) == (classification == nil), "\(text)")
        return classification?.category
    }

    // MARK: - Ranges, with the addresses on both sides of each edge

    static let ipv4Cases: [(String, AddressCategory?)] = [
        ("0.0.0.0", .unspecified), ("0.255.255.255", .unspecified), ("1.0.0.0", nil),
        ("9.255.255.255", nil), ("10.0.0.0", .private), ("10.255.255.255", .private), ("11.0.0.0", nil),
        ("100.63.255.255", nil), ("100.64.0.0", .sharedAddressSpace), ("100.127.255.255", .sharedAddressSpace), ("100.128.0.0", nil),
        ("126.255.255.255", nil), ("127.0.0.0", .loopback), ("127.0.0.1", .loopback), ("127.255.255.255", .loopback), ("128.0.0.0", nil),
        ("169.253.255.255", nil), ("169.254.0.0", .linkLocal), ("169.254.169.254", .linkLocal), ("169.254.255.255", .linkLocal), ("169.255.0.0", nil),
        ("172.15.255.255", nil), ("172.16.0.0", .private), ("172.31.255.255", .private), ("172.32.0.0", nil),
        ("191.255.255.255", nil), ("192.0.0.0", .reserved), ("192.0.0.255", .reserved), ("192.0.1.0", nil),
        ("192.0.1.255", nil), ("192.0.2.0", .documentation), ("192.0.2.255", .documentation), ("192.0.3.0", nil),
        ("192.88.98.255", nil), ("192.88.99.0", .reserved), ("192.88.99.255", .reserved), ("192.88.100.0", nil),
        ("192.167.255.255", nil), ("192.168.0.0", .private), ("192.168.255.255", .private), ("192.169.0.0", nil),
        ("198.17.255.255", nil), ("198.18.0.0", .benchmarking), ("198.19.255.255", .benchmarking), ("198.20.0.0", nil),
        ("198.51.99.255", nil), ("198.51.100.0", .documentation), ("198.51.100.255", .documentation), ("198.51.101.0", nil),
        ("203.0.112.255", nil), ("203.0.113.0", .documentation), ("203.0.113.255", .documentation), ("203.0.114.0", nil),
        ("223.255.255.255", nil), ("224.0.0.0", .multicast), ("239.255.255.255", .multicast),
        ("240.0.0.0", .reserved), ("255.255.255.254", .reserved), ("255.255.255.255", .broadcast),
        ("8.8.8.8", nil), ("93.184.216.34", nil), ("1.1.1.1", nil),
    ]

    static let ipv6Cases: [(String, AddressCategory?)] = [
        ("::", .unspecified), ("::1", .loopback), ("::2", .reserved), ("::ffff:ffff", .reserved),
        // IPv4-mapped: judged as the IPv4 address inside.
        ("::ffff:127.0.0.1", .loopback), ("::ffff:10.1.2.3", .private), ("::ffff:169.254.169.254", .linkLocal),
        ("::ffff:0.0.0.0", .unspecified), ("::ffff:8.8.8.8", nil), ("::fffe:8.8.8.8", .reserved), ("::1:ffff:8.8.8.8", .reserved),
        // NAT64 well-known prefix: the IPv4 address inside; the local-use prefix is private.
        ("64:ff9b::10.0.0.1", .private), ("64:ff9b::127.0.0.1", .loopback), ("64:ff9b::8.8.8.8", nil),
        ("64:ff9b:1::8.8.8.8", .private), ("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", .reserved),
        // 6to4: the IPv4 address in bits 16-47.
        ("2002:a00:1::1", .private), ("2002:7f00:1::", .loopback), ("2002:808:808::1", nil),
        // Teredo is refused whatever it carries; the rest of 2001::/23 is protocol space.
        ("2001::1", .tunnel), ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", .tunnel), ("2001:1::1", .reserved),
        ("2001:2::1", .benchmarking), ("2001:2:0:ffff::1", .benchmarking), ("2001:3::", .reserved),
        ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", .reserved), ("2001:200::", nil),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", nil), ("2001:db8::", .documentation),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", .documentation), ("2001:db9::", nil),
        ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil), ("3fff::", .documentation),
        ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", .documentation), ("3fff:1000::", nil),
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .reserved), ("fc00::", .private), ("fd00::1", .private),
        ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .private), ("fe00::", .reserved),
        ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .reserved), ("fe80::", .linkLocal), ("fe80::1", .linkLocal),
        ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .linkLocal), ("fec0::1", .private),
        ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .private), ("ff00::", .multicast), ("ff02::1", .multicast),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .multicast),
        ("100::1", .reserved), ("100::1:0:0:0:1", .reserved), ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .reserved),
        ("2000::", nil), ("2000::1", nil), ("2606:4700:4700::1111", nil), ("2a00:1450:4001:80b::200e", nil),
        ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil), ("4000::", .reserved), ("5f00::1", .reserved),
    ]

    @Test(arguments: ipv4Cases)
    func ipv4Ranges(_ text: String, _ expected: AddressCategory?) throws {
        #expect(try Self.category(text) == expected, "\(text)")
    }

    @Test(arguments: ipv6Cases)
    func ipv6Ranges(_ text: String, _ expected: AddressCategory?) throws {
        #expect(try Self.category(text) == expected, "\(text)")
    }

    @Test func refusalsSayWhatAndWhy() throws {
        let refusal = try #require(Self.strict.check(try ip("10.1.2.3")))
        #expect(refusal.message == "10.1.2.3 is a private address (10.0.0.0/8); start gatewayd with --allow-private-targets to allow it")
        #expect(refusal.kind == .forbiddenAddress(.v4(0x0A01_0203), .private, range: try CIDR(parsing: "10.0.0.0/8")))

        let mapped = try #require(Self.strict.check(try ip("::ffff:169.254.169.254")))
        #expect(mapped.message == "::ffff:169.254.169.254 (the IPv4-mapped form of 169.254.169.254) is a link-local address "
            + "(169.254.0.0/16); start gatewayd with --allow-private-targets to allow it")

        let nat64 = try #require(Self.strict.check(try ip("64:ff9b::a01:203")))
        #expect(nat64.message.hasPrefix("64:ff9b::a01:203 (the NAT64 form of 10.1.2.3) is a private address (10.0.0.0/8)"))

        let teredo = try #require(Self.strict.check(try ip("2001::1")))
        #expect(teredo.message.hasPrefix("2001::1 is a Teredo tunnel address, whose real endpoint cannot be judged (2001::/32)"))

        let outside = try #require(Self.strict.check(try ip("4000::1")))
        #expect(outside.message.hasPrefix("4000::1 is a reserved address (4000::/3)"))
    }

    @Test func aHostIsRefusedIfAnyOfItsAddressesIs() throws {
        let public1 = try ip("93.184.216.34")
        let private1 = try ip("10.1.2.3")
        #expect(Self.strict.check(host: "example.com", addresses: [public1]) == nil)
        let refusal = try #require(Self.strict.check(host: "internal.example", addresses: [public1, private1]))
        #expect(refusal.message == "the host 'internal.example' resolves to 10.1.2.3, a private address (10.0.0.0/8); "
            + "start gatewayd with --allow-private-targets to allow it")
        // A literal host is described as an address, not as a name resolving to itself.
        let literal = try #require(Self.strict.check(host: "10.1.2.3", addresses: [private1]))
        #expect(literal.message == "the address 10.1.2.3 is a private address (10.0.0.0/8); start gatewayd with --allow-private-targets to allow it")
    }

    // MARK: - Allow list and allowPrivate

    @Test func allowListWinsOverEveryRefusal() throws {
        let policy = try TargetAddressPolicy(allowing: ["10.1.0.0/16", "::1/128", "fd00::/8", "169.254.169.254/32"])
        func allowed(_ text: String) throws -> Bool { policy.check(try ip(text)) == nil }
        #expect(try allowed("10.1.2.3"))
        #expect(try allowed("10.1.255.255"))
        #expect(try !allowed("10.2.0.0"))
        #expect(try !allowed("10.0.255.255"))
        #expect(try allowed("::1"))
        #expect(try !allowed("127.0.0.1"))  // ::1 allowed does not allow IPv4 loopback
        #expect(try allowed("fd12:3456::1"))
        #expect(try !allowed("fc00::1"))
        #expect(try allowed("169.254.169.254"))
        #expect(try !allowed("169.254.169.253"))
        // The IPv4 inside an IPv6 form is allowed by the IPv4 range.
        #expect(try allowed("::ffff:10.1.2.3"))
        #expect(try allowed("64:ff9b::10.1.2.3"))
        #expect(try !allowed("::ffff:10.2.0.0"))
        // Public addresses stay allowed.
        #expect(try allowed("8.8.8.8"))
        // An allow-listed literal URL passes validation too.
        #expect(try policy.validateURL("http://10.1.2.3:8080/hook").get().port == 8080)
    }

    @Test func allowPrivateAllowsEverything() throws {
        let policy = TargetAddressPolicy(allowPrivate: true)
        for (text, _) in Self.ipv4Cases + Self.ipv6Cases {
            #expect(policy.check(try ip(text)) == nil, "\(text)")
        }
        #expect(try policy.validateURL("http://127.0.0.1:9000/").get().host == "127.0.0.1")
    }

    // MARK: - CIDR

    @Test func cidrParsing() throws {
        let cases: [(String, String)] = [
            ("127.0.0.1/32", "127.0.0.1/32"), ("10.0.0.0/8", "10.0.0.0/8"), ("0.0.0.0/0", "0.0.0.0/0"),
            ("::1/128", "::1/128"), ("fd00::/8", "fd00::/8"), ("::/0", "::/0"), ("FD00::/8", "fd00::/8"),
            ("192.168.1.7", "192.168.1.7/32"), ("2001:db8::1", "2001:db8::1/128"),
        ]
        for (text, shown) in cases {
            #expect(try CIDR(parsing: text).description == shown)
        }
        let ten = try CIDR(parsing: "10.0.0.0/8")
        #expect(try ten.contains(ip("10.255.0.1")))
        #expect(try !ten.contains(ip("11.0.0.0")))
        #expect(try !ten.contains(ip("::ffff:10.0.0.1")))  // families never mix
        #expect(try CIDR(parsing: "0.0.0.0/0").contains(ip("255.255.255.255")))
        #expect(try !CIDR(parsing: "::/0").contains(ip("1.2.3.4")))
    }

    @Test func malformedCIDRsAreTypedErrors() {
        let cases: [(String, String)] = [
            ("10.0.0.0/33", "the prefix length /33 is longer than the 32 bits of an IPv4 address"),
            ("::/129", "the prefix length /129 is longer than the 128 bits of an IPv6 address"),
            ("10.0.0.1/8", "bits are set past the /8 prefix; did you mean 10.0.0.0/8?"),
            ("fd00::1/8", "bits are set past the /8 prefix; did you mean fd00::/8?"),
            ("10.0.0.0/", "the prefix length after '/' must be a number from 0 to 32"),
            ("10.0.0.0/08", "the prefix length after '/' must be a number from 0 to 32"),
            ("10.0.0.0/-1", "the prefix length after '/' must be a number from 0 to 32"),
            ("10.0.0.0/+8", "the prefix length after '/' must be a number from 0 to 32"),
            ("10.0.0.0/ 8", "the prefix length after '/' must be a number from 0 to 32"),
            ("10.0.0.0/0008", "the prefix length after '/' must be a number from 0 to 32"),
            ("/8", "the address before '/' is missing"),
            ("", "the address before '/' is missing"),
            ("10.0.0/8", "'10.0.0' is not a numeric IPv4 or IPv6 address"),
            ("010.0.0.0/8", "'010.0.0.0' is not a numeric IPv4 or IPv6 address"),
            (" 10.0.0.0/8", "' 10.0.0.0' is not a numeric IPv4 or IPv6 address"),
            ("localhost/8", "'localhost' is not a numeric IPv4 or IPv6 address"),
            ("10.0.0.0/8/8", "more than one '/'"),
            ("fe80::1%eth0/64", "'fe80::1%eth0' is not a numeric IPv4 or IPv6 address"),
        ]
        for (text, reason) in cases {
            #expect(throws: CIDRError(input: text, reason: reason)) { try CIDR(parsing: text) }
        }
        #expect(CIDRError(input: "10.0.0.0/33", reason: "x").description
            == "'10.0.0.0/33' is not a valid CIDR range (like 10.0.0.0/8 or fd00::/8): x.")
        #expect(throws: CIDRError.self) { try TargetAddressPolicy(allowing: ["10.0.0.0/8", "nonsense"]) }
    }

    // MARK: - IPAddress

    @Test func addressTextRoundTrips() throws {
        for text in ["0.0.0.0", "127.0.0.1", "255.255.255.255", "::", "::1", "2001:db8::1", "fe80::1:2:3:4",
                     "::ffff:10.0.0.1", "64:ff9b::a00:1", "2606:4700:4700::1111", "1:2:3:4:5:6:7:8"] {
            #expect(try ip(text).description == text)
        }
        #expect(IPAddress("127.0.0.1") == .v4(0x7F00_0001))
        #expect(IPAddress("::1") == .v6(1))
        #expect(IPAddress("FE80::1")?.description == "fe80::1")
        #expect(IPAddress("2001:0db8:0000:0000:0000:0000:0000:0001")?.description == "2001:db8::1")
        #expect(IPAddress("10.1.2.3")?.bytes == [10, 1, 2, 3])
        #expect(IPAddress("::ffff:1.2.3.4")?.ipv4Mapped == 0x0102_0304)
        for junk in ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "0x7f.0.0.1", "2130706433", "127.1",
                     "[::1]", "::1%lo", "1:2:3:4:5:6:7:8:9", "example.com", " 1.2.3.4", "127.0.0.1\u{0}junk", "::1\u{0}"] {
            #expect(IPAddress(junk) == nil, "'\(junk)'")
        }
    }

    @Test func addressesFromSockaddr() throws {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(443).bigEndian
        inet_pton(AF_INET, "169.254.169.254", &sin.sin_addr)
        let v4 = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { IPAddress(sockaddr: $0, length: MemoryLayout<sockaddr_in>.size) }
        }
        #expect(v4 == IPAddress("169.254.169.254"))

        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr)
        let v6 = withUnsafePointer(to: &sin6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { IPAddress(sockaddr: $0, length: MemoryLayout<sockaddr_in6>.size) }
        }
        #expect(v6 == IPAddress("::ffff:127.0.0.1"))
        let mapped = try #require(v6)
        #expect(Self.strict.check(mapped)?.kind == .forbiddenAddress(mapped, .loopback, range: try CIDR(parsing: "127.0.0.0/8")))

        // Too short for the family it claims, or a family we do not connect to: nil, no read past the end.
        let truncated = withUnsafePointer(to: &sin6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { IPAddress(sockaddr: $0, length: MemoryLayout<sockaddr_in>.size) }
        }
        #expect(truncated == nil)
        var unix = sockaddr_storage()
        unix.ss_family = sa_family_t(AF_UNIX)
        let other = withUnsafePointer(to: &unix) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { IPAddress(sockaddr: $0, length: MemoryLayout<sockaddr_storage>.size) }
        }
        #expect(other == nil)
    }

    // MARK: - URLs

    @Test func validURLsAreNormalised() throws {
        let cases: [(String, String, String, UInt16, String)] = [
            // input, scheme, host, port, description
            ("https://example.com/hook", "https", "example.com", 443, "https://example.com/hook"),
            ("HTTP://Example.COM:8080/a/B?c=D&e=%2F", "http", "example.com", 8080, "http://example.com:8080/a/B?c=D&e=%2F"),
            ("https://example.com", "https", "example.com", 443, "https://example.com/"),
            ("https://example.com?x=1", "https", "example.com", 443, "https://example.com/?x=1"),
            ("https://example.com:443/", "https", "example.com", 443, "https://example.com/"),
            ("http://example.com:443/", "http", "example.com", 443, "http://example.com:443/"),
            ("http://my_host.example.:65535/", "http", "my_host.example.", 65535, "http://my_host.example.:65535/"),
            ("http://93.184.216.34/x", "http", "93.184.216.34", 80, "http://93.184.216.34/x"),
            ("http://[2606:4700:4700:0:0:0:0:1111]:8443/", "http", "2606:4700:4700::1111", 8443, "http://[2606:4700:4700::1111]:8443/"),
            ("https://localhost/", "https", "localhost", 443, "https://localhost/"),  // a name: judged when resolved
            ("https://xn--bcher-kva.example/", "https", "xn--bcher-kva.example", 443, "https://xn--bcher-kva.example/"),
        ]
        for (input, scheme, host, port, shown) in cases {
            let url = try Self.strict.validateURL(input).get()
            #expect(url.scheme == scheme, "\(input)")
            #expect(url.host == host, "\(input)")
            #expect(url.port == port, "\(input)")
            #expect(url.description == shown, "\(input)")
        }
        #expect(try Self.strict.validateURL("http://93.184.216.34/").get().literalAddress == IPAddress("93.184.216.34"))
        #expect(try Self.strict.validateURL("http://example.com/").get().literalAddress == nil)
    }

    @Test func badURLsAreRefusedPrecisely() {
        let cases: [(String, String)] = [
            ("", "the URL is empty"),
            ("ftp://example.com/", "only http and https URLs can receive webhooks, not 'ftp'"),
            ("file:///etc/passwd", "only http and https URLs can receive webhooks, not 'file'"),
            ("gopher://127.0.0.1:6379/_INFO", "only http and https URLs can receive webhooks, not 'gopher'"),
            ("example.com/hook", "the URL has no scheme; it must start with https:// or http://"),
            ("//example.com/hook", "the URL has no scheme; it must start with https:// or http://"),
            ("https:/example.com", "the URL has no host; it must look like https://host/path"),
            ("https:///path", "the URL has no host; it must look like https://host/path"),
            ("https://:443/", "the URL has no host; it must look like https://host/path"),
            ("https://user:pass@example.com/", "the URL carries credentials ('user:password@'), which are not allowed: "
                + "they would be stored and shown with the subscription; send them as a header of the subscription instead"),
            ("https://@example.com/", "the URL carries credentials ('user:password@'), which are not allowed: "
                + "they would be stored and shown with the subscription; send them as a header of the subscription instead"),
            ("https://example.com:0/", "the URL's port '0' is not a number from 1 to 65535"),
            ("https://example.com:65536/", "the URL's port '65536' is not a number from 1 to 65535"),
            ("https://example.com:99999999999999999999/", "the URL's port '99999999999999999999' is not a number from 1 to 65535"),
            ("https://example.com:-1/", "the URL's port '-1' is not a number from 1 to 65535"),
            ("https://example.com:http/", "the URL's port 'http' is not a number from 1 to 65535"),
            ("https://example.com:/", "the URL has ':' after the host but no port number"),
            ("https://example.com/a b", "the URL has a space at offset 21, which is not allowed in a URL; percent-encode it "
                + "(spaces, quotes, '<>\\^`{|}', control and non-ASCII characters must be encoded)"),
            ("http://a\\@127.0.0.1/", "the URL has '\\' at offset 8, which is not allowed in a URL; percent-encode it "
                + "(spaces, quotes, '<>\\^`{|}', control and non-ASCII characters must be encoded)"),
            ("https://bücher.example/", "the URL has a non-ASCII character at offset 9, which is not allowed in a URL; percent-encode it "
                + "(spaces, quotes, '<>\\^`{|}', control and non-ASCII characters must be encoded)"),
            ("https://example.com/\r\nX: y", "the URL has a control character at offset 20, which is not allowed in a URL; percent-encode it "
                + "(spaces, quotes, '<>\\^`{|}', control and non-ASCII characters must be encoded)"),
            ("https://example.com/%zz", "the URL has '%' at offset 20, which is not allowed in a URL; percent-encode it "
                + "(spaces, quotes, '<>\\^`{|}', control and non-ASCII characters must be encoded)"),
            ("https://example.com/#top", "the URL has a fragment (from offset 20); fragments are never sent to the server, so remove it"),
            ("http://[::1%25lo]/", "the URL's IPv6 address '::1%25lo' has a zone ('%...'), which is not allowed: a zone names a local interface"),
            ("http://[::1/", "the URL's IPv6 address has no closing ']'"),
            ("http://[example.com]/", "'example.com' in brackets is not an IPv6 address"),
            ("http://[127.0.0.1]/", "'127.0.0.1' in brackets is not an IPv6 address"),
            ("http://[v1.fe]/", "'v1.fe' in brackets is not an IPv6 address"),
            ("http://[2606:4700::1111]x/", "the URL has characters after ']' that are not ':port'"),
            ("http://::1/", "the URL's host has more than one ':'; an IPv6 address must be written in brackets, like http://[2001:db8::1]/"),
            ("http://0x7f.1/", "the URL's host '0x7f.1' looks like a numeric IPv4 address but is not in dotted-decimal form (a.b.c.d, no leading zeros); write the address that way"),
            ("http://2130706433/", "the URL's host '2130706433' looks like a numeric IPv4 address but is not in dotted-decimal form (a.b.c.d, no leading zeros); write the address that way"),
            ("http://127.1/", "the URL's host '127.1' looks like a numeric IPv4 address but is not in dotted-decimal form (a.b.c.d, no leading zeros); write the address that way"),
            ("http://010.0.0.1/", "the URL's host '010.0.0.1' looks like a numeric IPv4 address but is not in dotted-decimal form (a.b.c.d, no leading zeros); write the address that way"),
            ("http://1.2.3.0x4/", "the URL's host '1.2.3.0x4' looks like a numeric IPv4 address but is not in dotted-decimal form (a.b.c.d, no leading zeros); write the address that way"),
            ("http://a..b/", "the URL's host 'a..b' has an empty label (a leading or doubled '.')"),
            ("http://.example.com/", "the URL's host '.example.com' has an empty label (a leading or doubled '.')"),
            ("http://ex%41mple.com/", "the URL's host 'ex%41mple.com' is percent-encoded, which is not allowed; write the name plainly (internationalised names in their xn-- form)"),
            ("http://exa!mple.com/", "the URL's host 'exa!mple.com' has a character that cannot be in a host name (letters, digits, '-', '_' and '.')"),
            ("http://" + String(repeating: "a", count: 64) + ".com/", "the URL's host '\(String(repeating: "a", count: 64)).com' has a label longer than 63 characters"),
            ("https://example.com/" + String(repeating: "a", count: 2030), "the URL is 2050 bytes long; at most 2048 are allowed"),
        ]
        for (input, message) in cases {
            switch Self.strict.validateURL(input) {
            case .success(let url):
                Issue.record("'\(input)' was accepted as \(url)")
            case .failure(let refusal):
                #expect(refusal.message == message, "\(input)")
                #expect(refusal.kind == .invalidURL, "\(input)")
            }
        }
    }

    @Test func literalAddressesInURLsAreChecked() throws {
        let cases: [(String, String)] = [
            ("http://127.0.0.1:8080/", "the address 127.0.0.1 is a loopback address (127.0.0.0/8); start gatewayd with --allow-private-targets to allow it"),
            ("http://169.254.169.254/latest/meta-data/", "the address 169.254.169.254 is a link-local address (169.254.0.0/16); start gatewayd with --allow-private-targets to allow it"),
            ("http://[::1]/", "the address ::1 is a loopback address (::1/128); start gatewayd with --allow-private-targets to allow it"),
            ("http://[::ffff:127.0.0.1]/", "the address ::ffff:127.0.0.1 (the IPv4-mapped form of 127.0.0.1) is a loopback address (127.0.0.0/8); start gatewayd with --allow-private-targets to allow it"),
            ("http://[::ffff:7f00:1]/", "the address ::ffff:127.0.0.1 (the IPv4-mapped form of 127.0.0.1) is a loopback address (127.0.0.0/8); start gatewayd with --allow-private-targets to allow it"),
            ("http://0.0.0.0/", "the address 0.0.0.0 is an unspecified address (0.0.0.0/8); start gatewayd with --allow-private-targets to allow it"),
            ("http://[fd00::1]:9000/", "the address fd00::1 is a private address (fc00::/7); start gatewayd with --allow-private-targets to allow it"),
        ]
        for (input, message) in cases {
            guard case .failure(let refusal) = Self.strict.validateURL(input) else {
                Issue.record("'\(input)' was accepted")
                continue
            }
            #expect(refusal.message == message)
            guard case .forbiddenAddress = refusal.kind else {
                Issue.record("'\(input)' refused as \(refusal.kind)")
                continue
            }
        }
    }

    // MARK: - Resolving (localhost and literals only: no network)

    @Test func localhostIsRefusedByDefault() throws {
        let refusal = try #require(#expect(throws: Refusal.self) {
            _ = try Self.strict.resolveAndCheck(host: "localhost", port: 80)
        })
        guard case .forbiddenAddress(_, .loopback, _) = refusal.kind else {
            Issue.record("localhost refused as \(refusal.kind)")
            return
        }
        #expect(refusal.message.hasPrefix("the host 'localhost' resolves to "))
        #expect(refusal.message.hasSuffix(", a loopback address (127.0.0.0/8); start gatewayd with --allow-private-targets to allow it")
            || refusal.message.hasSuffix(", a loopback address (::1/128); start gatewayd with --allow-private-targets to allow it"))
        let allowed = try TargetAddressPolicy(allowPrivate: true).resolveAndCheck(host: "localhost", port: 80)
        #expect(!allowed.isEmpty)
        #expect(allowed.allSatisfy { TargetAddressPolicy.classify($0)?.category == .loopback })
        #expect(try TargetAddressPolicy(allowing: ["127.0.0.0/8", "::1/128"]).resolveAndCheck(host: "localhost", port: 443) == allowed)
    }

    @Test func literalsResolveWithoutTheNetwork() throws {
        #expect(try Self.strict.resolveAndCheck(host: "93.184.216.34", port: 443) == [.v4(0x5DB8_D822)])
        #expect(try Self.strict.resolveAndCheck(host: "2606:4700:4700::1111", port: 443) == [try ip("2606:4700:4700::1111")])
        #expect(try Self.strict.resolveAndCheck(host: "[2606:4700:4700::1111]", port: 443).count == 1)
        #expect(throws: Refusal.self) { try Self.strict.resolveAndCheck(host: "10.0.0.1", port: 80) }
        #expect(throws: Refusal.self) { try Self.strict.resolveAndCheck(host: "::1", port: 80) }
        #expect(throws: Refusal.self) { try Self.strict.resolveAndCheck(host: "[::ffff:10.0.0.1]", port: 80) }
        // The legacy numeric forms glibc still reads resolve to the address they hide.
        for host in ["0x7f.1", "2130706433", "127.1"] {
            #expect(throws: Refusal.self, "\(host)") { try Self.strict.resolveAndCheck(host: host, port: 80) }
        }
        let refusal = try #require(#expect(throws: Refusal.self) { try Self.strict.resolveAndCheck(host: "10.0.0.1", port: 80) })
        #expect(refusal.message == "the address 10.0.0.1 is a private address (10.0.0.0/8); start gatewayd with --allow-private-targets to allow it")
        #expect(throws: Refusal(kind: .invalidURL, message: "the URL has no host")) { try Self.strict.resolveAndCheck(host: "", port: 80) }
    }
}
