import JSON
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Testing
@testable import HTTPServer

@Suite struct RouterTests {
    /// A context for handlers that answer at once. Its loop is never run; a pipe stands in
    /// for the listening socket the loop insists on watching.
    final class Fixture {
        let context: RequestContext
        private let pipeFDs: [Int32]

        init() throws {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { throw HTTPError(500, "pipe() failed: errno \(errno)") }
            pipeFDs = fds
            let shared = ServerShared(
                configuration: HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0)),
                responder: Router(), logger: Logger(label: "RouterTests"))
            let loop = try EventLoop(shared: shared, listenFD: fds[0])
            context = RequestContext(loop: loop, connectionToken: 1, requestSerial: 1, id: RequestID.accepted("test-1")!)
        }

        deinit {
            for fd in pipeFDs { close(fd) }
        }
    }

    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
    }

    /// Routes `method target` and returns the response, which must be immediate.
    func respond(_ router: Router, _ method: HTTPMethod, _ target: String,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> HTTPResponse {
        let request = HTTPRequest(method: method, target: target, headers: ["Host": "a"])
        switch router.respond(to: request, context: fixture.context) {
        case .response(let response):
            return response
        case .pending:
            Issue.record("the router answered \(method) \(target) later", sourceLocation: sourceLocation)
            throw HTTPError(500, "pending")
        }
    }

    /// A handler that answers 200 with `name` and the bound parameters, sorted.
    static func echo(_ name: String) -> RouteHandler {
        { request, _ in
            let parameters = request.pathParameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let text = ([name, request.method.rawValue] + parameters).joined(separator: " ")
            return .response(HTTPResponse(status: 200, body: Array(text.utf8)))
        }
    }

    static func text(_ response: HTTPResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    static func problemDetail(_ response: HTTPResponse) throws -> String {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        return try #require(object["detail"] as? String)
    }

    // MARK: - Matching

    @Test func literalRoutesMatchIgnoringQueryAndEmptySegments() throws {
        var router = Router()
        router.get("/healthz", Self.echo("health"))
        router.get("/v1/events/stats", Self.echo("stats"))
        for target in ["/healthz", "/healthz?verbose=1", "/healthz/", "//healthz"] {
            let response = try respond(router, .get, target)
            #expect(response.status == 200, "\(target)")
            #expect(Self.text(response) == "health GET", "\(target)")
        }
        #expect(Self.text(try respond(router, .get, "/v1/events/stats")) == "stats GET")
    }

    @Test func rootRoute() throws {
        var router = Router()
        router.get("/", Self.echo("root"))
        #expect(Self.text(try respond(router, .get, "/")) == "root GET")
        #expect(Self.text(try respond(router, .get, "/?q=1")) == "root GET")
        #expect(try respond(router, .get, "/other").status == 404)
    }

    @Test(arguments: ["/nope", "/healthz/extra", "/", "/v1", "/v1/subscriptions", "/v1/subscriptions/x/y", "/HEALTHZ"])
    func unknownPathIs404(target: String) throws {
        var router = Router()
        router.get("/healthz", Self.echo("health"))
        router.get("/v1/subscriptions/{id}", Self.echo("subscription"))
        let response = try respond(router, .get, target)
        #expect(response.status == 404)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(response.headers["Allow"] == nil)
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        #expect(try Self.problemDetail(response) == "No resource at \(path).")
    }

    @Test func knownPathWithAnotherMethodIs405WithAllow() throws {
        var router = Router()
        router.get("/v1/events", Self.echo("list"))
        router.post("/v1/events", Self.echo("create"))
        router.delete("/v1/events/{id}", Self.echo("delete"))

        let response = try respond(router, .put, "/v1/events")
        #expect(response.status == 405)
        // RFC 9110 §15.5.6: a 405 lists the methods the resource does support.
        #expect(response.headers["Allow"] == "GET, HEAD, POST")
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(try Self.problemDetail(response) == "PUT is not allowed on /v1/events; allowed: GET, HEAD, POST.")

        let deleteOnly = try respond(router, .get, "/v1/events/42")
        #expect(deleteOnly.status == 405)
        #expect(deleteOnly.headers["Allow"] == "DELETE")

        // HEAD falls back to GET only: without a GET it is refused like any other method.
        let headWithoutGet = try respond(router, .head, "/v1/events/42")
        #expect(headWithoutGet.status == 405)
        #expect(headWithoutGet.headers["Allow"] == "DELETE")

        // An unregistered method token is still a 405 on a known path, not a 404.
        let custom = try respond(router, HTTPMethod(rawValue: "PURGE"), "/v1/events?x=1")
        #expect(custom.status == 405)
        #expect(try Self.problemDetail(custom) == "PURGE is not allowed on /v1/events; allowed: GET, HEAD, POST.")
    }

    @Test func allowListsAnExplicitHeadOnce() throws {
        var router = Router()
        router.get("/r", Self.echo("get"))
        router.add(.head, "/r", Self.echo("head"))
        router.add(.options, "/r", Self.echo("options"))
        let response = try respond(router, .patch, "/r")
        #expect(response.status == 405)
        #expect(response.headers["Allow"] == "GET, HEAD, OPTIONS")
        #expect(response.headers.values(of: "allow").count == 1)
    }

    @Test func routesListsEveryRegistrationInOrderAsTheTreeHoldsIt() {
        var router = Router()
        router.post("/v1/events", Self.echo("post"))
        router.get("/v1//events/", Self.echo("list"))
        router.get("/v1/events/{id}/attempts", Self.echo("attempts"))
        router.get("/v1/events/{id}", Self.echo("show"))
        router.add(.head, "/healthz", Self.echo("head"))
        router.get("/", Self.echo("root"))
        #expect(router.routes.map(\.description) == [
            "POST /v1/events", "GET /v1/events", "GET /v1/events/{id}/attempts",
            "GET /v1/events/{id}", "HEAD /healthz", "GET /",
        ])
        #expect(Router().routes.isEmpty)
    }

    @Test func headFallsBackToTheGetHandler() throws {
        var router = Router()
        router.get("/v1/subscriptions/{id}", Self.echo("get"))
        let response = try respond(router, .head, "/v1/subscriptions/s1")
        #expect(response.status == 200)
        // The handler sees the real method (the encoder drops the body) and the parameters.
        #expect(Self.text(response) == "get HEAD id=s1")
    }

    @Test func anExplicitHeadHandlerWins() throws {
        var router = Router()
        router.get("/r", Self.echo("get"))
        router.add(.head, "/r", Self.echo("head"))
        #expect(Self.text(try respond(router, .head, "/r")) == "head HEAD")
        #expect(Self.text(try respond(router, .get, "/r")) == "get GET")
    }

    @Test func everyMethodHelperRegistersItsMethod() throws {
        var router = Router()
        router.get("/m", Self.echo("get"))
        router.post("/m", Self.echo("post"))
        router.put("/m", Self.echo("put"))
        router.patch("/m", Self.echo("patch"))
        router.delete("/m", Self.echo("delete"))
        for method in [HTTPMethod.get, .post, .put, .patch, .delete] {
            #expect(Self.text(try respond(router, method, "/m")) == "\(method.rawValue.lowercased()) \(method)")
        }
        let response = try respond(router, .options, "/m")
        #expect(response.headers["Allow"] == "DELETE, GET, HEAD, PATCH, POST, PUT")
    }

    // MARK: - Path parameters

    @Test(arguments: [
        ("sub_123", "sub_123"),
        ("a%20b", "a b"),
        ("%E2%9C%93", "✓"),
        ("caf%c3%a9", "café"),
        ("a%2Fb", "a/b"),
        ("a+b", "a+b"),
        ("%25", "%"),
    ])
    func pathParametersArePercentDecoded(segment: String, expected: String) throws {
        var router = Router()
        router.get("/v1/subscriptions/{id}", Self.echo("get"))
        let response = try respond(router, .get, "/v1/subscriptions/\(segment)?id=ignored")
        #expect(response.status == 200)
        #expect(Self.text(response) == "get GET id=\(expected)")
    }

    @Test(arguments: ["%zz", "%4", "%", "%FF", "a%C3"])
    func badPercentEncodingInAParameterIs400(segment: String) throws {
        var router = Router()
        router.get("/v1/subscriptions/{id}", Self.echo("get"))
        let response = try respond(router, .get, "/v1/subscriptions/\(segment)")
        #expect(response.status == 400)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(try Self.problemDetail(response) == "The path segment '\(segment)' has an invalid percent-encoding.")
    }

    @Test func severalParametersAndLiteralsAfterThem() throws {
        var router = Router()
        router.get("/v1/{tenant}/subscriptions/{id}/deliveries", Self.echo("deliveries"))
        router.get("/v1/{tenant}/subscriptions/{id}", Self.echo("subscription"))
        #expect(Self.text(try respond(router, .get, "/v1/acme/subscriptions/s%201/deliveries"))
            == "deliveries GET id=s 1 tenant=acme")
        #expect(Self.text(try respond(router, .get, "/v1/acme/subscriptions/s2")) == "subscription GET id=s2 tenant=acme")
        #expect(try respond(router, .get, "/v1/acme/subscriptions/s2/other").status == 404)
    }

    @Test func aLiteralSegmentWinsOverAParameter() throws {
        var router = Router()
        router.get("/v1/subscriptions/{id}", Self.echo("one"))
        router.get("/v1/subscriptions/search", Self.echo("search"))
        #expect(Self.text(try respond(router, .get, "/v1/subscriptions/search")) == "search GET")
        #expect(Self.text(try respond(router, .get, "/v1/subscriptions/other")) == "one GET id=other")
    }

    @Test func literalRoutesBindNoParameters() throws {
        var router = Router()
        router.get("/healthz") { request, _ in
            .response(HTTPResponse(status: request.pathParameters.isEmpty ? 204 : 500))
        }
        #expect(try respond(router, .get, "/healthz").status == 204)
    }
}

// MARK: - Response encoding

extension RouterTests {
    @Suite struct ResponseEncoding {
        static let date = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"

        func encode(
            _ response: HTTPResponse, closing: Bool = false, keepAliveHTTP10: Bool = false, headRequest: Bool = false
        ) -> [UInt8] {
            var output: [UInt8] = []
            ResponseEncoder.encode(
                response, into: &output, date: Array(Self.date.utf8), closing: closing,
                keepAliveHTTP10: keepAliveHTTP10, headRequest: headRequest)
            return output
        }

        func text(_ output: [UInt8]) -> String { String(decoding: output, as: UTF8.self) }

        @Test func okResponseExactBytes() {
            let response = HTTPResponse(status: 200, headers: ["Content-Type": "text/plain"], body: Array("hello".utf8))
            let output = encode(response)
            #expect(output == Array(
                "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello".utf8))
        }

        @Test func emptyBodyStillGetsContentLength() {
            #expect(text(encode(HTTPResponse(status: 202))) == "HTTP/1.1 202 Accepted\r\n\(Self.date)Content-Length: 0\r\n\r\n")
        }

        @Test func multiDigitContentLength() {
            let output = encode(HTTPResponse(status: 200, body: Array(repeating: 0x61, count: 1234)))
            #expect(text(output).hasPrefix("HTTP/1.1 200 OK\r\n\(Self.date)Content-Length: 1234\r\n\r\naaa"))
            #expect(output.count == "HTTP/1.1 200 OK\r\n\(Self.date)Content-Length: 1234\r\n\r\n".utf8.count + 1234)
        }

        @Test func closingAddsConnectionClose() {
            #expect(text(encode(HTTPResponse(status: 200), closing: true))
                == "HTTP/1.1 200 OK\r\n\(Self.date)Content-Length: 0\r\nConnection: close\r\n\r\n")
            // close wins over an HTTP/1.0 keep-alive.
            #expect(text(encode(HTTPResponse(status: 200), closing: true, keepAliveHTTP10: true))
                == "HTTP/1.1 200 OK\r\n\(Self.date)Content-Length: 0\r\nConnection: close\r\n\r\n")
        }

        @Test func http10KeepAliveIsConfirmed() {
            #expect(text(encode(HTTPResponse(status: 200), keepAliveHTTP10: true))
                == "HTTP/1.1 200 OK\r\n\(Self.date)Content-Length: 0\r\nConnection: keep-alive\r\n\r\n")
        }

        @Test func headKeepsContentLengthButDropsTheBody() {
            let response = HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: Array("{\"ok\":true}".utf8))
            #expect(text(encode(response, headRequest: true))
                == "HTTP/1.1 200 OK\r\n\(Self.date)Content-Length: 11\r\nContent-Type: application/json\r\n\r\n")
        }

        @Test(arguments: [(204, "No Content"), (304, "Not Modified")])
        func statusesWithoutABodyHaveNoContentLength(status: Int, reason: String) {
            // RFC 9110 §8.6: no Content-Length in a 204; a body would desynchronise the client.
            let response = HTTPResponse(status: status, headers: ["ETag": "\"v1\""], body: Array("ignored".utf8))
            #expect(text(encode(response)) == "HTTP/1.1 \(status) \(reason)\r\n\(Self.date)ETag: \"v1\"\r\n\r\n")
            #expect(text(encode(response, closing: true))
                == "HTTP/1.1 \(status) \(reason)\r\n\(Self.date)Connection: close\r\nETag: \"v1\"\r\n\r\n")
        }

        @Test func serverOwnedHeadersFromAHandlerAreIgnored() {
            let response = HTTPResponse(
                status: 200,
                headers: HTTPHeaders([
                    (name: "Content-Length", value: "999"), (name: "X-First", value: "1"),
                    (name: "connection", value: "keep-alive"), (name: "DATE", value: "yesterday"),
                    (name: "Transfer-Encoding", value: "chunked"), (name: "X-Second", value: "2"),
                    (name: "x-first", value: "again"),
                ]),
                body: Array("ok".utf8))
            #expect(text(encode(response))
                == "HTTP/1.1 200 OK\r\n\(Self.date)Content-Length: 2\r\nX-First: 1\r\nX-Second: 2\r\nx-first: again\r\n\r\nok")
        }

        @Test func crAndLFAreStrippedFromHeaderValues() {
            let response = HTTPResponse(
                status: 200,
                headers: ["Location": "/next\r\nSet-Cookie: evil=1", "X-Lone": "a\rb\nc"])
            let output = text(encode(response))
            #expect(output == "HTTP/1.1 200 OK\r\n\(Self.date)Content-Length: 0\r\nLocation: /nextSet-Cookie: evil=1\r\nX-Lone: abc\r\n\r\n")
            #expect(!output.contains("\r\nSet-Cookie"))
        }

        @Test(arguments: [
            (200, "OK"), (201, "Created"), (400, "Bad Request"), (404, "Not Found"), (405, "Method Not Allowed"),
            (413, "Content Too Large"), (414, "URI Too Long"), (417, "Expectation Failed"),
            (431, "Request Header Fields Too Large"), (501, "Not Implemented"), (503, "Service Unavailable"),
            (505, "HTTP Version Not Supported"), (299, "Status 299"), (999, "Status 999"),
        ])
        func statusLines(status: Int, reason: String) {
            #expect(text(encode(HTTPResponse(status: status))).hasPrefix("HTTP/1.1 \(status) \(reason)\r\n\(Self.date)"))
        }

        @Test func encodingAppendsAfterEarlierResponses() {
            var output = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
            ResponseEncoder.encode(
                HTTPResponse(status: 201, body: Array("x".utf8)), into: &output, date: Array(Self.date.utf8),
                closing: false, keepAliveHTTP10: false, headRequest: false)
            #expect(text(output) == "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n\(Self.date)Content-Length: 1\r\n\r\nx")
        }

        @Test func continueResponseBytes() {
            #expect(ResponseEncoder.continueResponse == Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }

        @Test(arguments: [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
        ])
        func imfFixdate(seconds: Int, expected: String) {
            #expect(DateHeaderCache.imfFixdate(seconds) == expected)
        }

        @Test func dateHeaderLineShape() {
            var cache = DateHeaderCache()
            cache.refresh()
            let line = String(decoding: cache.line, as: UTF8.self)
            #expect(line.hasPrefix("Date: "))
            #expect(line.hasSuffix(" GMT\r\n"))
            #expect(cache.line.count == "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".utf8.count)
        }
    }
}

// MARK: - Problem documents (RFC 9457)

extension RouterTests {
    @Suite struct ProblemDocuments {
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

        @Test func defaultShape() {
            let response = HTTPResponse.problem(status: 404, detail: "No resource at /x.")
            #expect(response.status == 404)
            #expect(response.headers.map(\.name) == ["Content-Type"])
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(text(response.body) == #"{"type":"about:blank","title":"Not Found","status":404,"detail":"No resource at /x."}"#)
        }

        @Test func titleTypeExtensionsAndHeaders() throws {
            let response = HTTPResponse.problem(
                status: 422, detail: "The url is not absolute.", title: "Invalid subscription",
                type: "https://example.com/problems/invalid", headers: ["Retry-After": "1"],
                extensions: [("field", .string("url")), ("limits", JSONFragment(raw: Array("[1,2]".utf8)))])
            #expect(text(response.body) == #"{"type":"https://example.com/problems/invalid","title":"Invalid subscription","status":422,"detail":"The url is not absolute.","field":"url","limits":[1,2]}"#)
            #expect(response.headers.map(\.name) == ["Retry-After", "Content-Type"])
        }

        @Test func unknownStatusGetsAGenericTitle() {
            let response = HTTPResponse.problem(status: 299, detail: "d")
            #expect(text(response.body) == #"{"type":"about:blank","title":"Status 299","status":299,"detail":"d"}"#)
        }

        @Test func stringsAreJSONEscaped() throws {
            let detail = "quote \" backslash \\ slash / newline \n return \r tab \t bell \u{7} nul \u{0} us \u{1F} del \u{7F} café ✓ 😀"
            let response = HTTPResponse.problem(status: 400, detail: detail)
            let expected = #"{"type":"about:blank","title":"Bad Request","status":400,"detail":"#
                + #""quote \" backslash \\ slash / newline \n return \r tab \t bell \u0007 nul \u0000 us \u001f del "#
                + "\u{7F} café ✓ 😀\"}"
            #expect(text(response.body) == expected)
            // And it is valid JSON that decodes back to the same string.
            let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
            #expect(object["detail"] as? String == detail)
            #expect(object["status"] as? Int == 400)
        }

        @Test func httpErrorBecomesAProblemWithItsHeaders() {
            let error = HTTPError(429, "Slow down.", headers: ["Retry-After": "30"])
            let response = error.response
            #expect(response.status == 429)
            #expect(response.headers.map(\.name) == ["Content-Type", "Retry-After"])
            #expect(response.headers["Retry-After"] == "30")
            #expect(text(response.body) == #"{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Slow down."}"#)
            #expect(error.description == "429 Too Many Requests: Slow down.")
        }

        @Test func jsonHelpersSetTheContentType() {
            let response = HTTPResponse.json(201, #"{"id":"s1"}"#, headers: ["Location": "/v1/subscriptions/s1"])
            #expect(response.status == 201)
            #expect(response.headers.map(\.name) == ["Location", "Content-Type"])
            #expect(response.headers["Content-Type"] == "application/json")
            #expect(text(response.body) == #"{"id":"s1"}"#)
        }

        @Test func aProblemOnTheWire() {
            var output: [UInt8] = []
            let response = HTTPResponse.problem(status: 405, detail: "x", headers: ["Allow": "GET, HEAD"])
            ResponseEncoder.encode(
                response, into: &output, date: Array("Date: D\r\n".utf8), closing: true, keepAliveHTTP10: false,
                headRequest: false)
            let body = #"{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"x"}"#
            #expect(text(output) == "HTTP/1.1 405 Method Not Allowed\r\nDate: D\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\nAllow: GET, HEAD\r\nContent-Type: application/problem+json\r\n\r\n\(body)")
        }
    }
}
