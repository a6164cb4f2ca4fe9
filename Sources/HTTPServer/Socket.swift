#if canImport(Glibc)
import Runtime
import Glibc
#endif
import CPlatform

/// Thin wrappers over the socket calls the server makes, all through `syscall`.
enum Socket {
    /// A non-blocking, close-on-exec listening socket bound to `address`.
    static func listen(on address: SocketAddress, backlog: Int32, reusePort: Bool) throws(SystemError) -> Int32 {
        let fd = try syscallValue("socket") {
            Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            if address.isIPv6 {
                // Listen on IPv6 only; an operator who wants both binds twice or uses 0.0.0.0.
                try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1)
            }
            _ = try syscallValue("bind(\(address))") {
                address.withSockAddr { Glibc.bind(fd, $0, $1) }
            }
            _ = try syscallValue("listen") { Glibc.listen(fd, backlog) }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// Binds a plain socket (no `SO_REUSEPORT`) to `address` and closes it. The listening
    /// sockets share their port with `SO_REUSEPORT`, which would also let them join another
    /// process's port and split its traffic silently; this bind fails with `EADDRINUSE`
    /// instead when anything already holds the port.
    static func checkAvailable(_ address: SocketAddress) throws(SystemError) {
        let fd = try syscallValue("socket") {
            Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        defer { Glibc.close(fd) }
        try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if address.isIPv6 { try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        _ = try syscallValue("bind(\(address))") {
            address.withSockAddr { Glibc.bind(fd, $0, $1) }
        }
    }

    static func localAddress(of fd: Int32) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try syscallValue("getsockname") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.getsockname(fd, $0, &length) }
            }
        }
        return SocketAddress(storage)
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SystemError) {
        var value = value
        _ = try syscallValue("setsockopt(\(name))") {
            Glibc.setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Accepts one connection, with the client's address; `nil` when none is waiting.
    static func accept(_ fd: Int32) throws(SystemError) -> (fd: Int32, peer: sockaddr_storage)? {
        var peer = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = try withUnsafeMutablePointer(to: &peer) { (pointer) throws(SystemError) -> IOResult<Int32> in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SystemError) -> IOResult<Int32> in
                try syscall("accept4", { csystem_accept4(fd, address, &length) })
            }
        }
        switch result {
        case .done(let client): return (client, peer)
        case .wouldBlock: return nil
        }
    }

    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try syscall("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// `send` with `MSG_NOSIGNAL`: a peer that went away yields `EPIPE`, never SIGPIPE.
    static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try syscall("send") { Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }
}
