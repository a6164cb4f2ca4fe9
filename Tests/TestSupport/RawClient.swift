#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPServer

/// The tests' one TCP client. It sends exact bytes, so tests can send what no real HTTP client
/// would (smuggling attempts, half requests, garbage) and read exactly what comes back.
public final class RawClient: @unchecked Sendable {
    public let fd: Int32
    /// When the connection was made and when the server's close was seen, timed on the
    /// thread doing the I/O, so a busy test pool does not stretch the measurement.
    public let connectedAt = Date()
    public private(set) var closedAt: Date?

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public init(port: UInt16, host: String = "127.0.0.1", timeout: Double = 5) throws {
        let address = try SocketAddress(host: host, port: port)
        fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let result = address.withSockAddr { connect(fd, $0, $1) }
        // No close here: every stored property is set, so a throw runs `deinit`, which
        // closes. Closing twice would close whatever descriptor another thread opened in
        // between (a journal segment, seen failing with ESPIPE once a socket took its number).
        guard result == 0 else { throw Failure(description: "connect: errno \(errno)") }
    }

    deinit { if fd >= 0 { close(fd) } }

    // Every wait happens on a dedicated thread, never on the shared concurrency pool, so
    // tests blocked on sockets cannot starve the async handlers they are testing.
    public func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) async throws {
        try await offThePool { try self.sendBlocking(bytes) }
    }

    public func readResponse(forHead: Bool = false) async -> TestResponse? {
        (try? await offThePool { self.readResponseBlocking(forHead: forHead) }) ?? nil
    }

    public func waitForClose() async -> Bool {
        (try? await offThePool { self.waitForCloseBlocking() }) ?? false
    }

    public func sendBlocking(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += sent
        }
    }

    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    private var buffer: [UInt8] = []

    /// Reads more bytes into the buffer; false on EOF, reset or timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// Reads one response (status line, headers, body by Content-Length); nil if the
    /// connection ended or timed out first.
    public func readResponseBlocking(forHead: Bool = false) -> TestResponse? {
        while true {
            if let end = headEnd() {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst()
                let parts = statusLine.split(separator: " ", maxSplits: 2)
                guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
                var headers: [(String, String)] = []
                for line in lines where !line.isEmpty {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
                }
                let response = TestResponse(status: status, headers: headers, body: [])
                let length = (forHead || status < 200 || status == 204) ? 0 : Int(response.header("content-length") ?? "0") ?? 0
                while buffer.count < end + 4 + length {
                    guard fill() else { return nil }
                }
                var complete = response
                complete.body = Array(buffer[(end + 4)..<(end + 4 + length)])
                buffer.removeFirst(end + 4 + length)
                return complete
            }
            guard fill() else { return nil }
        }
    }

    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// Everything the server sends until it closes the connection (or the read times out).
    public func readToEndBlocking() -> [UInt8] {
        while fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// True once the server has closed its side: read returns EOF or a reset (after
    /// discarding anything still buffered).
    public func waitForCloseBlocking() -> Bool {
        buffer.removeAll()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) {
                closedAt = Date()
                return true
            }
            if count < 0 { return false }
        }
    }
}

/// A response as a test client read it.
public struct TestResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object (Foundation's parser: tests check values, not ours).
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }
}

