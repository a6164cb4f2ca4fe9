#if canImport(Glibc)
import Glibc
#endif

/// The address libcurl is about to connect to, after name resolution. This, not the URL's
/// host name, is what a DNS-rebinding defence must judge: a name can resolve to a public
/// address when a subscription is registered and to 127.0.0.1 when it is delivered.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    public enum IP: Sendable, Hashable, CustomStringConvertible {
        /// Host byte order, first octet in the high byte: 127.0.0.1 is `0x7F00_0001`, so
        /// `address >> 24 == 127` tests 127.0.0.0/8.
        case v4(UInt32)
        /// The 16 bytes in network order as two big-endian halves: `::1` is
        /// `(high: 0, low: 1)`, and `high >> 54 == 0x3FA` tests fe80::/10.
        case v6(high: UInt64, low: UInt64)

        /// `127.0.0.1`, `::1`, `::ffff:10.0.0.1` (RFC 5952 text, as `inet_ntop` writes it).
        public var description: String {
            switch self {
            case .v4(let address):
                return "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)"
            case .v6(let high, let low):
                var raw = in6_addr()
                withUnsafeMutableBytes(of: &raw) { bytes in
                    bytes.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                    bytes.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
                }
                var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                guard inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count)) != nil else { return "invalid IPv6 address" }
                return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }

        /// The address bytes in network order: 4 for IPv4, 16 for IPv6.
        public var bytes: [UInt8] {
            switch self {
            case .v4(let address):
                return withUnsafeBytes(of: address.bigEndian) { Array($0) }
            case .v6(let high, let low):
                return withUnsafeBytes(of: high.bigEndian) { Array($0) } + withUnsafeBytes(of: low.bigEndian) { Array($0) }
            }
        }
    }

    public var ip: IP
    public var port: UInt16

    public init(ip: IP, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// `127.0.0.1:8080`, `[::1]:8080`.
    public var description: String {
        switch ip {
        case .v4: return "\(ip):\(port)"
        case .v6: return "[\(ip)]:\(port)"
        }
    }

    /// Reads an `AF_INET` or `AF_INET6` socket address of `length` bytes; nil for any other
    /// family or a short length.
    init?(_ address: UnsafePointer<sockaddr>, length: Int) {
        let raw = UnsafeRawPointer(address)
        switch Int32(address.pointee.sa_family) {
        case AF_INET where length >= MemoryLayout<sockaddr_in>.size:
            let v4 = raw.loadUnaligned(as: sockaddr_in.self)
            self.init(ip: .v4(UInt32(bigEndian: v4.sin_addr.s_addr)), port: UInt16(bigEndian: v4.sin_port))
        case AF_INET6 where length >= MemoryLayout<sockaddr_in6>.size:
            let v6 = raw.loadUnaligned(as: sockaddr_in6.self)
            let (high, low) = withUnsafeBytes(of: v6.sin6_addr) {
                (UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)),
                 UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            self.init(ip: .v6(high: high, low: low), port: UInt16(bigEndian: v6.sin6_port))
        default:
            return nil
        }
    }
}

/// Decides whether the engine may connect to an address. Called on the engine thread for
/// every new connection (not for a reused one), so it must be quick and must not block.
public typealias AddressCheck = @Sendable (PeerAddress) -> Bool
