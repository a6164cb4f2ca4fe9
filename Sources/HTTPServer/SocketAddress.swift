#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address with a port, as `bind` and `getsockname` use it.
public struct SocketAddress: Sendable, CustomStringConvertible, Equatable {
    enum Storage: Sendable, Equatable {
        case v4(host: String, raw: in_addr, port: UInt16)
        case v6(host: String, raw: in6_addr, port: UInt16)

        static func == (lhs: Storage, rhs: Storage) -> Bool {
            switch (lhs, rhs) {
            case let (.v4(a, _, p), .v4(b, _, q)), let (.v6(a, _, p), .v6(b, _, q)):
                return a == b && p == q
            default:
                return false
            }
        }
    }

    let storage: Storage

    public var port: UInt16 {
        switch storage {
        case .v4(_, _, let port), .v6(_, _, let port): return port
        }
    }

    public var host: String {
        switch storage {
        case .v4(let host, _, _), .v6(let host, _, _): return host
        }
    }

    public var isIPv6: Bool {
        if case .v6 = storage { return true }
        return false
    }

    /// `127.0.0.1:8080`, `[::1]:8080`; IPv6 hosts are bracketed so the string parses back.
    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public init(host: String, port: UInt16) throws(AddressError) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            storage = .v4(host: host, raw: v4, port: port)
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            storage = .v6(host: host, raw: v6, port: port)
        } else {
            throw AddressError(input: host, reason: "not a numeric IPv4 or IPv6 address")
        }
    }

    /// Parses `HOST:PORT` or `[IPV6]:PORT`. `localhost` means 127.0.0.1; other names are
    /// refused rather than resolved, so a listen address is never ambiguous.
    public init(parsing text: String) throws(AddressError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw AddressError(input: text, reason: "missing ']' after the IPv6 address")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw AddressError(input: text, reason: "expected ':PORT' after ']'")
            }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw AddressError(input: text, reason: "expected HOST:PORT")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText) else {
            throw AddressError(input: text, reason: "port must be a number from 0 to 65535")
        }
        let name = host == "localhost" ? "127.0.0.1" : String(host)
        try self.init(host: name, port: port)
    }

    init(_ address: sockaddr_storage) {
        var copy = address
        switch Int32(address.ss_family) {
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in6.self) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            var raw = sin6.sin6_addr
            inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
            storage = .v6(host: Self.string(fromCString: buffer), raw: raw, port: UInt16(bigEndian: sin6.sin6_port))
        default:
            let sin = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in.self) }
            var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            var raw = sin.sin_addr
            inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count))
            storage = .v4(host: Self.string(fromCString: buffer), raw: raw, port: UInt16(bigEndian: sin.sin_port))
        }
    }

    private static func string(fromCString buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var family: Int32 { isIPv6 ? AF_INET6 : AF_INET }

    /// Calls `body` with this address as a `sockaddr` pointer and its length.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch storage {
        case .v4(_, let raw, let port):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr = raw
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(_, let raw, let port):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            sin6.sin6_addr = raw
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}

public struct AddressError: Error, CustomStringConvertible, Sendable {
    public let input: String
    public let reason: String
    public var description: String { "invalid address '\(input)': \(reason)" }
}

extension in_addr: @retroactive Equatable {
    public static func == (lhs: in_addr, rhs: in_addr) -> Bool { lhs.s_addr == rhs.s_addr }
}
