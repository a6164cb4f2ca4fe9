#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address, without port or zone: what the SSRF policy judges.
///
/// Both cases hold the address as one unsigned integer with the first byte on the wire as
/// the most significant, so prefix tests are a shift and a compare.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// `127.0.0.1` is `0x7F00_0001`.
    case v4(UInt32)
    /// `::1` is `1`; `fe80::` is `0xFE80 << 112`.
    case v6(UInt128)

    /// Parses the numeric forms `inet_pton` accepts: dotted-quad IPv4 with exactly four
    /// decimal parts (no `0x7f.1`, `2130706433` or octal, which some resolvers read and some
    /// do not), and IPv6 text including `::ffff:a.b.c.d`. No brackets, ports or zones.
    public init?(_ text: some StringProtocol) {
        let string = String(text)
        // C would stop at a NUL and judge only the text before it ("127.0.0.1\0junk").
        guard !string.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, string, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, string, &v6) == 1 {
            self.init(v6Bytes: withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    /// From the 16 bytes of an IPv6 address in network order.
    public init(v6Bytes bytes: some Collection<UInt8>) {
        var value: UInt128 = 0
        for byte in bytes.prefix(16) { value = value << 8 | UInt128(byte) }
        self = .v6(value)
    }

    /// From a socket address as the kernel, `getaddrinfo` or libcurl's open-socket callback
    /// hands it over. `length` is the size of the memory behind `address`; nil for families
    /// other than AF_INET/AF_INET6 or a length too short for the family, so a truncated
    /// structure is never read past its end.
    public init?(sockaddr address: UnsafePointer<sockaddr>, length: Int) {
        guard length >= MemoryLayout<sockaddr>.size else { return nil }
        let raw = UnsafeRawPointer(address)
        switch Int32(raw.loadUnaligned(as: sockaddr.self).sa_family) {
        case AF_INET:
            guard length >= MemoryLayout<sockaddr_in>.size else { return nil }
            let sin = raw.loadUnaligned(as: sockaddr_in.self)
            self = .v4(UInt32(bigEndian: sin.sin_addr.s_addr))
        case AF_INET6:
            guard length >= MemoryLayout<sockaddr_in6>.size else { return nil }
            var sin6 = raw.loadUnaligned(as: sockaddr_in6.self)
            self.init(v6Bytes: withUnsafeBytes(of: &sin6.sin6_addr) { Array($0) })
        default:
            return nil
        }
    }

    /// The 4 or 16 bytes in network order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value): (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        case .v6(let value): (0..<16).map { UInt8(truncatingIfNeeded: value >> (120 - 8 * $0)) }
        }
    }

    /// The IPv4 address inside `::ffff:a.b.c.d` (IPv4-mapped, RFC 4291 §2.5.5.2). The kernel
    /// connects such an address over IPv4, so it is judged as the IPv4 address it carries.
    public var ipv4Mapped: UInt32? {
        guard case .v6(let value) = self, value >> 32 == 0xFFFF else { return nil }
        return UInt32(truncatingIfNeeded: value)
    }

    /// `a.b.c.d` and RFC 5952 text for IPv6 (lowercase, longest zero run as `::`, IPv4-mapped
    /// shown as `::ffff:a.b.c.d`), as `inet_ntop` writes them.
    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        case .v6:
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count)) != nil else { return "invalid" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
