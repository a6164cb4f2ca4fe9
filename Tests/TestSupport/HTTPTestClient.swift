#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One request on a new connection (`Connection: close`), answered in full: the blocking
/// shape most API tests want, over the shared `RawClient`.
public enum HTTPTestClient {
    public static func request(
        port: UInt16, _ method: String, _ path: String, token: String? = nil,
        headers: [(String, String)] = [], body: String? = nil, contentType: String? = "application/json"
    ) throws -> TestResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let body {
            if let contentType { head += "Content-Type: \(contentType)\r\n" }
            head += "Content-Length: \(body.utf8.count)\r\n"
        }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let client = try RawClient(port: port, timeout: 10)
        try client.sendBlocking(Array((head + "\r\n" + (body ?? "")).utf8))
        guard let response = client.readResponseBlocking(forHead: method == "HEAD") else {
            throw RawClient.Failure(description: "no complete response to \(method) \(path)")
        }
        return response
    }

    /// Sends `request` as it is and returns all the server answers until it closes.
    public static func exchange(port: UInt16, _ request: String) throws -> String {
        let client = try RawClient(port: port, timeout: 10)
        try client.sendBlocking(Array(request.utf8))
        return String(decoding: client.readToEndBlocking(), as: UTF8.self)
    }
}

/// A loopback port with nothing listening: bound to get a free number, then closed, so a
/// connection to it is refused.
public func unusedLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RawClient.Failure(description: "socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw RawClient.Failure(description: "bind: errno \(errno)") }
    return UInt16(bigEndian: address.sin_port)
}
