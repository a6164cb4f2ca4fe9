#if canImport(Glibc)
import Glibc
#endif

/// The address libcurl is about to connect to, after name resolution. This, not the URL's
/// host name, is what a DNS-rebinding defence must judge: a name can resolve to a public
/// address when a subscription is registered and to 127.0.0.1 when it is delivered.
public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16

    public init(ip: IPAddress, port: UInt16) {
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
    public init?(_ address: UnsafePointer<sockaddr>, length: Int) {
        guard let ip = IPAddress(sockaddr: address, length: length) else { return nil }
        // sin_port and sin6_port sit at the same offset, right after the family.
        let port = UnsafeRawPointer(address).loadUnaligned(fromByteOffset: 2, as: UInt16.self)
        self.init(ip: ip, port: UInt16(bigEndian: port))
    }
}

/// Decides whether the engine may connect to an address. Called on the engine thread for
/// every new connection (not for a reused one), so it must be quick and must not block.
public typealias AddressCheck = @Sendable (PeerAddress) -> Bool
