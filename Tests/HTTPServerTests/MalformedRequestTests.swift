import Foundation
@testable import HTTPServer
import TestSupport
import Testing

/// A corpus of broken and hostile requests sent to a live server. Each must get its precise
/// status with `Connection: close` and a problem+json body, never a silent close, and the
/// server must keep serving everyone else.
@Suite("Malformed requests against a live server")
struct MalformedRequestTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let status: Int
        var testDescription: String { name }

        init(_ name: String, _ text: String, _ status: Int) {
            self.name = name
            self.bytes = Array(text.utf8)
            self.status = status
        }

        init(_ name: String, bytes: [UInt8], _ status: Int) {
            self.name = name
            self.bytes = bytes
            self.status = status
        }
    }

    static let cases: [Case] = [
        Case("Content-Length with Transfer-Encoding (CL.TE smuggling)",
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400),
        Case("Transfer-Encoding with Content-Length (TE.CL smuggling)",
             "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400),
        Case("conflicting Content-Length fields",
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        Case("conflicting Content-Length list", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 4\r\n\r\nabcd", 400),
        Case("negative Content-Length", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400),
        Case("Content-Length with a plus sign", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc", 400),
        Case("Content-Length in exponent form", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1e3\r\n\r\n", 400),
        Case("unknown transfer coding", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        Case("chunked twice", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
        Case("Transfer-Encoding in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        Case("obs-fold", "GET /hello HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n  b\r\n\r\n", 400),
        Case("whitespace before colon", "GET /hello HTTP/1.1\r\nHost: t\r\nX-Bad : value\r\n\r\n", 400),
        Case("bad header-name character", "GET /hello HTTP/1.1\r\nHost: t\r\nX[Bad]: value\r\n\r\n", 400),
        Case("NUL in a header value", "GET /hello HTTP/1.1\r\nHost: t\r\nX-Nul: a\u{0}b\r\n\r\n", 400),
        Case("bare CR in the head", "GET /hello HTTP/1.1\r\nHost: t\rX-Injected: 1\r\n\r\n", 400),
        Case("missing Host in HTTP/1.1", "GET /hello HTTP/1.1\r\n\r\n", 400),
        Case("two Host fields", "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        Case("request-target too long", "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        Case("request-target too long, still arriving", "GET /" + String(repeating: "a", count: 9000), 414),
        Case("header section too large", "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "b", count: 40_000) + "\r\n\r\n", 431),
        Case("too many header fields",
             "GET /hello HTTP/1.1\r\nHost: t\r\n" + (0..<120).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431),
        Case("body over the limit", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", 413),
        Case("chunked body over the limit", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 413),
        Case("Content-Length beyond 64 bits", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
        Case("HTTP/2.0 request line", "GET /hello HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        Case("HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        Case("HTTP/1.2", "GET /hello HTTP/1.2\r\nHost: t\r\n\r\n", 505),
        Case("lowercase version", "GET /hello http/1.1\r\nHost: t\r\n\r\n", 400),
        Case("extra token in the request line", "GET /hello extra HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        Case("relative request-target", "GET hello HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        Case("unknown expectation", "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\na", 417),
        Case("chunk size not hexadecimal", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
        Case("chunk data longer than its size", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400),
        Case("bare LF in chunk framing", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
        Case("binary garbage", bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03, 0x0A, 0x0D, 0x0A], 400),
        Case("TLS client hello on a plain port",
             bytes: [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03] + Array(repeating: 0x41, count: 64) + [0x0D, 0x0A, 0x0D, 0x0A], 400),
    ]

    @Test(arguments: cases)
    func isRefusedWithItsStatusAndTheServerKeepsServing(_ testCase: Case) async throws {
        try await withTestServer { server, port in
            let bystander = try RawClient(port: port)
            let attacker = try RawClient(port: port)
            try await attacker.send(testCase.bytes)
            let response = try #require(await attacker.readResponse(), "no response for \(testCase.name)")
            #expect(response.status == testCase.status, "\(testCase.name): \(response.text)")
            #expect(response.header("connection") == "close")
            #expect(response.header("content-type") == "application/problem+json")
            #expect(response.text.contains("\"status\":\(testCase.status)"))
            #expect(await attacker.waitForClose())

            try await bystander.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(await bystander.readResponse()?.status == 200)
            #expect(await eventually { server.openConnectionCount == 1 })
        }
    }

    /// Another protocol on the HTTP port must be answered as soon as its first bytes prove it
    /// is not HTTP, not after the header timeout: the timeout here is 30 s, the bound 2 s.
    @Test(arguments: [
        ("TLS record header", [0x16, 0x03, 0x01], "TLS"),
        ("SSH banner", Array("SSH-2.0-OpenSSH_9.6\r\n".utf8), "SSH"),
        ("binary", [0x00, 0xFF], "0x00"),
        ("FTP version, no line end", Array("GET /x FTP/1.0".utf8), "HTTP/"),
    ] as [(String, [UInt8], String)])
    func anotherProtocolIsRefusedAtOnceNotAtTheHeaderTimeout(name: String, bytes: [UInt8], mentions: String) async throws {
        try await withTestServer({ $0.headerReadTimeout = .seconds(30) }) { server, port in
            // Sent, read and timed on one thread of its own (see the slow-loris test).
            let (response, closedAfter) = try await offThePool { () -> (TestResponse?, Double?) in
                let client = try RawClient(port: port)
                let started = Date()
                try client.sendBlocking(bytes)
                let response = client.readResponseBlocking()
                guard client.waitForCloseBlocking(), let closedAt = client.closedAt else { return (response, nil) }
                return (response, closedAt.timeIntervalSince(started))
            }
            let refusal = try #require(response, "no response to \(name)")
            #expect(refusal.status == 400)
            #expect(refusal.header("connection") == "close")
            #expect(refusal.header("content-type") == "application/problem+json")
            #expect(refusal.json["status"] as? Int == 400)
            #expect((refusal.json["detail"] as? String)?.contains(mentions) == true, "\(refusal.text)")
            let closed = try #require(closedAfter, "the server never closed the connection")
            #expect(closed < 2, "closed \(closed) s after the bytes were sent")
            #expect(await eventually { server.openConnectionCount == 0 })
        }
    }

    @Test func aClientThatHangsUpMidRequestIsClosedQuietly() async throws {
        try await withTestServer { server, port in
            let client = try RawClient(port: port)
            try await client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly part")
            client.shutdownWrite()
            #expect(await client.waitForClose())
            #expect(await eventually { server.openConnectionCount == 0 })
        }
    }

    @Test func aClientThatResetsIsForgotten() async throws {
        try await withTestServer { server, port in
            do {
                let client = try RawClient(port: port)
                var option = linger(l_onoff: 1, l_linger: 0)
                setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
                try await client.send("GET /hel")
            }
            #expect(await eventually { server.openConnectionCount == 0 })
            let next = try RawClient(port: port)
            try await next.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(await next.readResponse()?.status == 200)
        }
    }
}
