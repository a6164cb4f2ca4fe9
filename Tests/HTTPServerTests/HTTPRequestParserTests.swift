import Testing
@testable import HTTPServer

// Every case is fed whole, split in two at every byte boundary, byte by byte, and through
// `writableTail` in small pieces; the requests produced and the error thrown must not depend
// on how the bytes arrived (the way SwiftNIO tests its decoders). `100 Continue` is the one
// event that legitimately depends on timing, so it is checked separately.

// MARK: - Harness

extension HTTPRequestParserTests {
    /// A header or trailer field, comparable (the parser's tuples are not).
    struct Field: Equatable, Sendable, CustomStringConvertible {
        let name: String
        let value: String

        init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }

        var description: String { "\(name): \(value)" }
    }

    /// The observable content of an `HTTPRequest`, comparable.
    struct ParsedRequest: Equatable, Sendable, CustomStringConvertible {
        var method: String
        var target: String
        var version: HTTPVersion
        var headers: [Field]
        var body: [UInt8]
        var trailers: [Field]

        init(
            _ method: String, _ target: String, _ version: HTTPVersion = .http1_1,
            headers: [Field], body: String = "", trailers: [Field] = []
        ) {
            self.method = method
            self.target = target
            self.version = version
            self.headers = headers
            self.body = Array(body.utf8)
            self.trailers = trailers
        }

        init(_ request: HTTPRequest) {
            method = request.method.rawValue
            target = request.target
            version = request.version
            headers = request.headers.map { Field($0.name, $0.value) }
            body = request.body
            trailers = request.trailers.map { Field($0.name, $0.value) }
        }

        var description: String {
            "\(method) \(target) \(version) headers=\(headers) body=\(String(decoding: body, as: UTF8.self).debugDescription) trailers=\(trailers)"
        }
    }

    enum ParsedEvent: Equatable, Sendable, CustomStringConvertible {
        case expectContinue
        case request(ParsedRequest)

        var description: String {
            switch self {
            case .expectContinue: "100-continue"
            case .request(let request): "request(\(request))"
            }
        }
    }

    /// Everything one feeding of a byte string produced.
    struct ParseRun: Sendable, CustomStringConvertible {
        var events: [ParsedEvent] = []
        var error: HTTPParseError?
        /// Whether the parser sat between requests with nothing buffered once all bytes were fed.
        var endsBetweenRequests = false

        var requests: [ParsedRequest] {
            events.compactMap { if case .request(let request) = $0 { request } else { nil } }
        }

        var continueCount: Int { events.filter { $0 == .expectContinue }.count }

        /// The part that must not depend on how the input was split.
        var framing: Framing { Framing(requests: requests, error: error, endsBetweenRequests: endsBetweenRequests) }

        struct Framing: Equatable, CustomStringConvertible {
            var requests: [ParsedRequest]
            var error: HTTPParseError?
            var endsBetweenRequests: Bool

            var description: String {
                "requests=\(requests) error=\(error.map { "\($0)" } ?? "none") betweenRequests=\(endsBetweenRequests)"
            }
        }

        var description: String { "events=\(events) error=\(error.map { "\($0)" } ?? "none")" }
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Feeds `chunks` in order, draining the parser after each, until it throws.
    func parse(
        _ chunks: [ArraySlice<UInt8>], limits: HTTPParserLimits = HTTPParserLimits(), viaWritableTail: Bool = false
    ) -> ParseRun {
        var parser = HTTPRequestParser(limits: limits)
        var run = ParseRun()
        for chunk in chunks {
            if viaWritableTail {
                let written = parser.writableTail(minimumCapacity: chunk.count) { tail in
                    tail.copyBytes(from: chunk)
                    return chunk.count
                }
                precondition(written == chunk.count)
            } else {
                parser.append(chunk)
            }
            var steps = 0
            do throws(HTTPParseError) {
                drain: while true {
                    steps += 1
                    if steps > 10_000 {
                        Issue.record("the parser keeps reporting events without consuming input")
                        return run
                    }
                    switch try parser.next() {
                    case .needMore: break drain
                    case .expectContinue: run.events.append(.expectContinue)
                    case .request(let request): run.events.append(.request(ParsedRequest(request)))
                    }
                }
            } catch {
                run.error = error
                return run
            }
        }
        run.endsBetweenRequests = parser.isBetweenRequests
        return run
    }

    func parse(_ input: [UInt8], limits: HTTPParserLimits = HTTPParserLimits()) -> ParseRun {
        parse([input[...]], limits: limits)
    }

    func parse(_ input: String, limits: HTTPParserLimits = HTTPParserLimits()) -> ParseRun {
        parse(bytes(input), limits: limits)
    }

    /// Feeds `input` whole, split in two at every index, byte by byte, and through `writableTail`
    /// three bytes at a time; records an issue for the first way whose requests or error differ
    /// from the whole feed. Returns the whole feed's run. `splitEvery` thins the two-part splits
    /// to every nth index, except near either end, for inputs of several KiB.
    @discardableResult
    func parseEveryWay(
        _ input: [UInt8], limits: HTTPParserLimits = HTTPParserLimits(), splitEvery: Int = 1,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> ParseRun {
        let whole = parse([input[...]], limits: limits)
        func check(_ how: String, _ run: ParseRun) -> Bool {
            guard run.framing == whole.framing else {
                Issue.record(
                    "fed \(how): \(run.framing)\nfed whole: \(whole.framing)", sourceLocation: sourceLocation)
                return false
            }
            return true
        }
        for index in 1..<max(1, input.count) where index % splitEvery == 0 || index < 256 || input.count - index < 256 {
            let run = parse([input[..<index], input[index...]], limits: limits)
            if !check("split at byte \(index)", run) { break }
        }
        _ = check("byte by byte", parse(input.indices.map { input[$0...$0] }, limits: limits))
        let threes = stride(from: 0, to: input.count, by: 3).map { input[$0..<min($0 + 3, input.count)] }
        _ = check("through writableTail in 3-byte pieces", parse(threes, limits: limits, viaWritableTail: true))
        return whole
    }

    @discardableResult
    func parseEveryWay(
        _ input: String, limits: HTTPParserLimits = HTTPParserLimits(), splitEvery: Int = 1,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> ParseRun {
        parseEveryWay(bytes(input), limits: limits, splitEvery: splitEvery, sourceLocation: sourceLocation)
    }

    /// Parses `input` every way and returns its single request, recording an issue otherwise.
    func parseOne(
        _ input: String, limits: HTTPParserLimits = HTTPParserLimits(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ParsedRequest {
        let run = parseEveryWay(input, limits: limits, sourceLocation: sourceLocation)
        #expect(run.error == nil, sourceLocation: sourceLocation)
        #expect(run.requests.count == 1, sourceLocation: sourceLocation)
        #expect(run.endsBetweenRequests, sourceLocation: sourceLocation)
        return try #require(run.requests.first, sourceLocation: sourceLocation)
    }

    /// The `HTTPRequest` itself, for its computed properties.
    func parseRequest(_ input: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> HTTPRequest {
        var parser = HTTPRequestParser()
        parser.append(input.utf8)
        guard case .request(let request) = try parser.next() else {
            Issue.record("no request in \(input.debugDescription)", sourceLocation: sourceLocation)
            throw HTTPParseError(status: 0, detail: "no request")
        }
        return request
    }
}

// MARK: - Valid requests

@Suite struct HTTPRequestParserTests {
    @Test func simpleGet() throws {
        let request = try parseOne("GET /healthz HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(request == ParsedRequest("GET", "/healthz", headers: [Field("Host", "example.com")]))
    }

    @Test func postWithContentLength() throws {
        let request = try parseOne(
            "POST /v1/events HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\n"
                + "Content-Length: 13\r\n\r\n{\"a\":\"b c\"}\r\n")
        #expect(request.method == "POST")
        #expect(request.body == bytes("{\"a\":\"b c\"}\r\n"))
        #expect(request.headers == [
            Field("Host", "example.com"), Field("Content-Type", "application/json"), Field("Content-Length", "13"),
        ])
        #expect(request.trailers.isEmpty)
    }

    @Test func contentLengthZeroAndAbsentMeanNoBody() throws {
        let zero = try parseOne("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        #expect(zero.body.isEmpty)
        // RFC 9112 §6.3: a request with neither Content-Length nor Transfer-Encoding has no body.
        let run = parseEveryWay("POST /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(run.error == nil)
        #expect(run.requests.map(\.target) == ["/a", "/b"])
        #expect(run.requests.allSatisfy { $0.body.isEmpty })
    }

    @Test func bodyBytesAreKeptVerbatim() throws {
        var input = bytes("POST /bin HTTP/1.1\r\nHost: a\r\nContent-Length: 256\r\n\r\n")
        let body = (0...255).map { UInt8($0) }
        input += body
        let run = parseEveryWay(input)
        #expect(run.error == nil)
        #expect(run.requests.first?.body == body)
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() throws {
        let request = try parseOne(
            "POST /v1/events HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n"
                + "1 ; quoted=\"x y\"\r\n \r\n"
                + "0000A\r\n0123456789\r\n"
                + "b\r\n\r\n\r\n\r\n\r\n\r\n\r\r\n"
                + "0;last=yes\r\nX-Checksum: abc123\r\nx-checksum:  second \r\nX-Empty:\r\n\r\n")
        #expect(request.body == bytes("hello 0123456789\r\n\r\n\r\n\r\n\r\n\r"))
        #expect(request.trailers == [Field("X-Checksum", "abc123"), Field("x-checksum", "second"), Field("X-Empty", "")])
        #expect(request.headers == [Field("Host", "a"), Field("Transfer-Encoding", "chunked")])
    }

    @Test func chunkedBodyWithoutTrailers() throws {
        let request = try parseOne(
            "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
        #expect(request.body == bytes("abcdef"))
        #expect(request.trailers.isEmpty)
    }

    @Test func chunkedWithOnlyTheLastChunkHasAnEmptyBody() throws {
        let request = try parseOne("POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(request.body.isEmpty)
    }

    @Test func transferEncodingListWithEmptyElementsStillNamesChunkedOnce() throws {
        let request = try parseOne(
            "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,\r\n\r\n1\r\nx\r\n0\r\n\r\n")
        #expect(request.body == bytes("x"))
    }

    @Test func trailersAreKeptApartFromHeaders() throws {
        // A framing field in the trailer section must not change the framing already decided.
        let run = parseEveryWay(
            "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nContent-Length: 99\r\n\r\n"
                + "GET /b HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(run.error == nil)
        #expect(run.requests.map(\.target) == ["/a", "/b"])
        #expect(run.requests.first?.trailers == [Field("Content-Length", "99")])
        #expect(run.requests.first?.headers.contains(Field("Content-Length", "99")) == false)
    }

    @Test func http10WithoutHost() throws {
        let request = try parseOne("GET /legacy HTTP/1.0\r\n\r\n")
        #expect(request == ParsedRequest("GET", "/legacy", .http1_0, headers: []))
    }

    @Test func http10WithContentLengthBody() throws {
        let request = try parseOne("POST /legacy HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
        #expect(request.version == .http1_0)
        #expect(request.body == bytes("abc"))
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let run = parseEveryWay(
            "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                + "POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n"
                + "HEAD /four HTTP/1.0\r\n\r\n"
                + "DELETE /five?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nfg")
        #expect(run.error == nil)
        #expect(run.endsBetweenRequests)
        #expect(run.requests == [
            ParsedRequest("GET", "/one", headers: [Field("Host", "a")]),
            ParsedRequest("POST", "/two", headers: [Field("Host", "a"), Field("Content-Length", "3")], body: "abc"),
            ParsedRequest(
                "POST", "/three", headers: [Field("Host", "a"), Field("Transfer-Encoding", "chunked")], body: "de",
                trailers: [Field("T", "v")]),
            ParsedRequest("HEAD", "/four", .http1_0, headers: []),
            ParsedRequest("DELETE", "/five?x=1", headers: [Field("Host", "a"), Field("Content-Length", "2")], body: "fg"),
        ])
    }

    @Test func anIncompleteSecondRequestWaitsForMoreBytes() throws {
        let run = parseEveryWay("GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        #expect(run.error == nil)
        #expect(run.requests.map(\.target) == ["/one"])
        #expect(!run.endsBetweenRequests)
    }

    @Test func leadingEmptyLinesAreSkipped() throws {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
        let request = try parseOne("\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(request == ParsedRequest("GET", "/", headers: [Field("Host", "a")]))
        // A client that ends a body with an extra CRLF must not break the next request.
        let run = parseEveryWay(
            "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(run.error == nil)
        #expect(run.requests.map(\.target) == ["/a", "/b"])
    }

    @Test func onlyEmptyLinesLeaveTheParserWaiting() {
        let run = parseEveryWay("\r\n\r\n\n")
        #expect(run.error == nil)
        #expect(run.requests.isEmpty)
    }

    @Test func leadingEmptyLinesCountAgainstTheHeadLimit() {
        // Otherwise a client could grow the buffer without bound by sending only CRLFs.
        let limits = HTTPParserLimits(maxHeaderBytes: 64)
        let run = parseEveryWay(String(repeating: "\r\n", count: 40), limits: limits)
        #expect(run.error?.status == 431)
        var parser = HTTPRequestParser(limits: limits)
        var status: Int?
        for _ in 0..<1000 where status == nil {
            parser.append(bytes("\r\n"))
            do { _ = try parser.next() } catch { status = error.status }
        }
        #expect(status == 431)
        #expect(parser.bufferedByteCount <= 66)
    }

    @Test func bareLFLineEndingsInTheHeadAreAccepted() throws {
        let request = try parseOne("GET /lf HTTP/1.1\nHost: a\nX-Mixed: yes\r\nAccept: */*\n\n")
        #expect(request == ParsedRequest(
            "GET", "/lf", headers: [Field("Host", "a"), Field("X-Mixed", "yes"), Field("Accept", "*/*")]))
        let crlfThenLF = try parseOne("GET /lf HTTP/1.1\r\nHost: a\r\n\n")
        #expect(crlfThenLF.target == "/lf")
        let lfThenCRLF = try parseOne("GET /lf HTTP/1.1\nHost: a\n\r\n")
        #expect(lfThenCRLF.target == "/lf")
    }

    @Test func repeatedFieldsAreKeptInOrderAndLookupIgnoresCase() throws {
        let request = try parseRequest(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Tag: one\r\nAccept: */*\r\nx-tag: two\r\nX-TAG: three, four\r\n\r\n")
        #expect(request.headers.values(of: "X-Tag") == ["one", "two", "three, four"])
        #expect(request.headers.values(of: "x-TaG") == ["one", "two", "three, four"])
        #expect(request.headers["x-tag"] == "one")
        #expect(request.headers["ACCEPT"] == "*/*")
        #expect(request.headers["missing"] == nil)
        #expect(request.headers.contains("HOST"))
        #expect(request.headers.listContains("x-tag", token: "FOUR"))
        #expect(request.headers.map(\.name) == ["Host", "X-Tag", "Accept", "x-tag", "X-TAG"])
        _ = try parseOne(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Tag: one\r\nAccept: */*\r\nx-tag: two\r\nX-TAG: three, four\r\n\r\n")
    }

    @Test func fieldValuesAreTrimmedButKeepInnerWhitespaceAndObsText() throws {
        var input = bytes("GET / HTTP/1.1\r\nHost: a\r\nX-Spaces: \t a \t b \t\r\nX-Obs: caf")
        input += [0xC3, 0xA9, 0x80, 0xFF]
        input += bytes("\r\nX-Empty:\r\nX-Blank:   \r\n\r\n")
        let run = parseEveryWay(input)
        #expect(run.error == nil)
        let headers = try #require(run.requests.first?.headers)
        #expect(headers[1] == Field("X-Spaces", "a \t b"))
        #expect(headers[2].name == "X-Obs")
        #expect(headers[3] == Field("X-Empty", ""))
        #expect(headers[4] == Field("X-Blank", ""))
    }

    @Test(arguments: [
        "Content-Length: 5, 5",
        "Content-Length: 5,5",
        "Content-Length: 5\r\nContent-Length: 5",
        "Content-Length: 005",
        "Content-Length:5",
        "content-length: \t5\t",
    ])
    func identicalOrPaddedContentLengthsAreAccepted(field: String) throws {
        let request = try parseOne("POST /a HTTP/1.1\r\nHost: a\r\n\(field)\r\n\r\nhello")
        #expect(request.body == bytes("hello"))
    }

    @Test(arguments: [
        ("http://example.com/a/b?x=1", "/a/b?x=1"),
        ("HTTPS://Example.COM:8443/v1/events", "/v1/events"),
        ("http://example.com", "/"),
        ("http://example.com?q=1", "/?q=1"),
        ("http://user@example.com:80/p", "/p"),
        ("/already/origin?form", "/already/origin?form"),
    ])
    func absoluteFormIsReducedToPathAndQuery(target: String, expected: String) throws {
        let request = try parseOne("GET \(target) HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(request.target == expected)
    }

    @Test func queryItemsArePercentAndPlusDecoded() throws {
        let request = try parseRequest(
            "GET /search?q=hello+world&tag=a%2Fb&empty=&flag&%E2%9C%93=ok&bad=%zz&utf8=%FF&&last=x%3Dy%26z HTTP/1.1\r\n"
                + "Host: a\r\n\r\n")
        #expect(request.path == "/search")
        #expect(request.query == "q=hello+world&tag=a%2Fb&empty=&flag&%E2%9C%93=ok&bad=%zz&utf8=%FF&&last=x%3Dy%26z")
        let items = request.queryItems.map { Field($0.name, $0.value) }
        #expect(items == [
            Field("q", "hello world"), Field("tag", "a/b"), Field("empty", ""), Field("flag", ""), Field("✓", "ok"),
            Field("last", "x=y&z"),
        ])
        #expect(request.queryValue("tag") == "a/b")
        #expect(request.queryValue("bad") == nil)
        #expect(request.queryValue("missing") == nil)
    }

    @Test func targetWithoutQuery() throws {
        let request = try parseRequest("GET /plain/path HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(request.path == "/plain/path")
        #expect(request.query == nil)
        #expect(request.queryItems.isEmpty)
        let emptyQuery = try parseRequest("GET /p? HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(emptyQuery.path == "/p")
        #expect(emptyQuery.query == "")
        #expect(emptyQuery.queryItems.isEmpty)
    }

    @Test func optionsAsterisk() throws {
        let request = try parseOne("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(request.method == "OPTIONS")
        #expect(request.target == "*")
    }

    @Test(arguments: ["PURGE", "M-SEARCH", "get", "X!#$%&'*+-.^_`|~9"])
    func anyMethodTokenIsAccepted(method: String) throws {
        let request = try parseOne("\(method) / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(request.method == method)
    }

    @Test func targetsMayUseEveryVisibleASCIICharacter() throws {
        let target = "/a-z_A.Z~0:9@!$&'()*+,;=%20/?q=/?"
        let request = try parseOne("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(request.target == target)
    }

    @Test func emptyHostIsAccepted() throws {
        // RFC 9112 §3.2: a client with no authority sends Host with an empty value.
        let request = try parseOne("GET / HTTP/1.1\r\nHost:\r\n\r\n")
        #expect(request.headers == [Field("Host", "")])
    }

    // MARK: Limits, at the boundary

    @Test func targetExactlyAtTheLimitIsAccepted() throws {
        let limits = HTTPParserLimits(maxRequestTargetLength: 16)
        let target = "/" + String(repeating: "a", count: 15)
        let request = try parseOne("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits)
        #expect(request.target == target)
    }

    @Test func headExactlyAtTheLimitIsAccepted() throws {
        let prefix = "GET / HTTP/1.1\r\nHost: a\r\nX: "
        let suffix = "\r\n\r\n"
        let padding = String(repeating: "p", count: 64 - prefix.utf8.count - suffix.utf8.count)
        let input = prefix + padding + suffix
        #expect(input.utf8.count == 64)
        let request = try parseOne(input, limits: HTTPParserLimits(maxHeaderBytes: 64))
        #expect(request.headers.last == Field("X", padding))
        let run = parseEveryWay(prefix + padding + "p" + suffix, limits: HTTPParserLimits(maxHeaderBytes: 64))
        #expect(run.error?.status == 431)
    }

    @Test func headerFieldsExactlyAtTheLimitAreAccepted() throws {
        let request = try parseOne(
            "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits: HTTPParserLimits(maxHeaderFields: 3))
        #expect(request.headers.count == 3)
    }

    @Test func bodyExactlyAtTheLimitIsAccepted() throws {
        let limits = HTTPParserLimits(maxBodyBytes: 10)
        let fixed = try parseOne("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits)
        #expect(fixed.body.count == 10)
        let chunked = try parseOne(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n",
            limits: limits)
        #expect(chunked.body == bytes("0123456789"))
    }

    @Test func trailerFieldsShareTheHeaderFieldLimit() throws {
        let limits = HTTPParserLimits(maxHeaderFields: 2)
        let request = try parseOne(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits)
        #expect(request.trailers.count == 2)
        let run = parseEveryWay(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
            limits: limits)
        #expect(run.error?.status == 431)
    }

    // MARK: Keep-alive (RFC 9112 §9.3)

    @Test(arguments: [
        ("HTTP/1.1", [], true),
        ("HTTP/1.1", ["close"], false),
        ("HTTP/1.1", ["Close"], false),
        ("HTTP/1.1", ["keep-alive"], true),
        ("HTTP/1.1", ["upgrade, close"], false),
        ("HTTP/1.1", ["keep-alive", "close"], false),
        ("HTTP/1.1", ["closed"], true),
        ("HTTP/1.0", [], false),
        ("HTTP/1.0", ["keep-alive"], true),
        ("HTTP/1.0", ["Keep-Alive"], true),
        ("HTTP/1.0", ["foo , keep-alive"], true),
        ("HTTP/1.0", ["close"], false),
        // "close" wins over everything else (RFC 9112 §9.3, first rule).
        ("HTTP/1.0", ["keep-alive, close"], false),
        ("HTTP/1.0", ["keep-alive", "close"], false),
    ] as [(String, [String], Bool)])
    func keepAlive(version: String, connection: [String], expected: Bool) throws {
        let fields = connection.map { "Connection: \($0)\r\n" }.joined()
        let request = try parseRequest("GET / \(version)\r\nHost: a\r\n\(fields)\r\n")
        #expect(request.wantsKeepAlive == expected)
    }

    // MARK: Expect: 100-continue (RFC 9110 §10.1.1)

    static let expectHead = "POST /v1/events HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    static let expectChunkedHead =
        "POST /v1/events HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n"

    @Test(arguments: [
        (HTTPRequestParserTests.expectHead, "hello"),
        (HTTPRequestParserTests.expectChunkedHead, "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"),
    ])
    func expectContinueIsReportedOnceOnlyWhileTheBodyIsMissing(head: String, body: String) throws {
        let input = bytes(head + body)
        let headLength = head.utf8.count

        let whole = parseEveryWay(input)
        #expect(whole.error == nil)
        #expect(whole.requests.map(\.body) == [bytes("hello")])
        // Fed whole, the body is already here: no 100 Continue is needed.
        #expect(whole.continueCount == 0)

        let byteByByte = parse(input.indices.map { input[$0...$0] })
        #expect(byteByByte.events.count == 2)
        #expect(byteByByte.events.first == .expectContinue)

        for split in 1..<input.count {
            let run = parse([input[..<split], input[split...]])
            let headDoneBodyMissing = split >= headLength
            #expect(run.continueCount == (headDoneBodyMissing ? 1 : 0), "split at \(split)")
            #expect(run.events.last.map { $0 != .expectContinue } == true, "split at \(split)")
            #expect(run.requests.count == 1, "split at \(split)")
        }
    }

    @Test func expectContinueIsNotRepeatedWhileWaiting() throws {
        var parser = HTTPRequestParser()
        parser.append(bytes(Self.expectHead))
        guard case .expectContinue = try parser.next() else {
            Issue.record("expected .expectContinue")
            return
        }
        #expect(parser.isReadingBody)
        guard case .needMore = try parser.next() else {
            Issue.record("expected .needMore after the first .expectContinue")
            return
        }
        parser.append(bytes("he"))
        guard case .needMore = try parser.next() else {
            Issue.record("expected .needMore with part of the body")
            return
        }
        parser.append(bytes("llo"))
        guard case .request(let request) = try parser.next() else {
            Issue.record("expected the request")
            return
        }
        #expect(request.body == bytes("hello"))
        #expect(parser.isBetweenRequests)
    }

    @Test func expectContinueWithPartOfTheBodyPresentIsStillReported() throws {
        let run = parse(Self.expectHead + "he")
        #expect(run.events == [.expectContinue])
    }

    @Test func eachPipelinedRequestGetsItsOwnContinue() throws {
        let one = Self.expectHead + "hello"
        let input = bytes(one + one)
        let run = parse(input.indices.map { input[$0...$0] })
        #expect(run.error == nil)
        #expect(run.events.map { $0 == .expectContinue } == [true, false, true, false])
    }

    @Test func expectContinueWithoutABodyIsNotReported() throws {
        let input = bytes("POST /a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n")
        let run = parse(input.indices.map { input[$0...$0] })
        #expect(run.events.count == 1)
        #expect(run.continueCount == 0)
        let noLength = bytes("GET /a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n")
        #expect(parse(noLength.indices.map { noLength[$0...$0] }).continueCount == 0)
    }

    @Test func expectContinueIsIgnoredForHTTP10() throws {
        // An HTTP/1.0 client cannot understand 100 Continue (RFC 9110 §10.1.1).
        let input = bytes("POST /a HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
        let run = parse(input.indices.map { input[$0...$0] })
        #expect(run.error == nil)
        #expect(run.continueCount == 0)
        #expect(run.requests.map(\.body) == [bytes("hello")])
    }

    @Test func anOversizedBodyIsRefusedBeforeAnyContinue() throws {
        let run = parse(
            "POST /a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n",
            limits: HTTPParserLimits(maxBodyBytes: 10))
        #expect(run.events.isEmpty)
        #expect(run.error?.status == 413)
    }

    // MARK: Incremental state

    @Test func stateAccessorsFollowTheRequest() throws {
        var parser = HTTPRequestParser()
        #expect(parser.isBetweenRequests)
        #expect(!parser.isReadingBody)
        #expect(parser.bufferedByteCount == 0)

        parser.append(bytes("POST /a HTTP/1.1\r\nHost: a\r\n"))
        guard case .needMore = try parser.next() else { Issue.record("expected .needMore"); return }
        #expect(!parser.isBetweenRequests)
        #expect(!parser.isReadingBody)

        parser.append(bytes("Content-Length: 4\r\n\r\nab"))
        guard case .needMore = try parser.next() else { Issue.record("expected .needMore"); return }
        #expect(parser.isReadingBody)
        #expect(parser.bufferedByteCount == 2)

        parser.append(bytes("cdGET"))
        guard case .request(let request) = try parser.next() else { Issue.record("expected a request"); return }
        #expect(request.body == bytes("abcd"))
        #expect(!parser.isReadingBody)
        #expect(parser.bufferedByteCount == 3)
        #expect(!parser.isBetweenRequests)

        parser.append(bytes(" /b HTTP/1.1\r\nHost: a\r\n\r\n"))
        guard case .request(let second) = try parser.next() else { Issue.record("expected a request"); return }
        #expect(second.target == "/b")
        #expect(parser.isBetweenRequests)
        guard case .needMore = try parser.next() else { Issue.record("expected .needMore"); return }
    }

    @Test func overlongChunkSizeLineIsRefused() throws {
        // The chunk-size line (with extensions) is capped at 4 KiB, so this input is long:
        // two-part splits are thinned in the middle of the extension, where every index is alike.
        let input = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;"
            + String(repeating: "e", count: 4094) + "\r\nhello\r\n0\r\n\r\n"
        let run = parseEveryWay(input, splitEvery: 61)
        #expect(run.error?.status == 400)
        #expect(run.requests.isEmpty)
        let fits = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;"
            + String(repeating: "e", count: 4093) + "\r\nhello\r\n0\r\n\r\n"
        let accepted = parseEveryWay(fits, splitEvery: 61)
        #expect(accepted.error == nil)
        #expect(accepted.requests.map(\.body) == [Array("hello".utf8)])
    }

    @Test func largeBodiesSurviveBufferGrowthAndCompaction() throws {
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var input = bytes("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n") + body
        var chunked = bytes("POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in stride(from: 0, to: body.count, by: 7000) {
            let piece = body[start..<min(start + 7000, body.count)]
            chunked += bytes(String(piece.count, radix: 16) + "\r\n") + piece + bytes("\r\n")
        }
        chunked += bytes("0\r\n\r\n")
        input += chunked
        for pieceSize in [1, 1000, 4096, 65_536] {
            let pieces = stride(from: 0, to: input.count, by: pieceSize).map { input[$0..<min($0 + pieceSize, input.count)] }
            for viaWritableTail in [false, true] {
                let run = parse(pieces, viaWritableTail: viaWritableTail)
                #expect(run.error == nil)
                #expect(run.requests.map(\.body) == [body, body], "pieces of \(pieceSize)")
                #expect(run.endsBetweenRequests)
            }
        }
    }
}

// MARK: - Invalid requests

extension HTTPRequestParserTests {
    struct InvalidCase: Sendable, CustomTestStringConvertible {
        let name: String
        let input: [UInt8]
        let status: Int
        var limits = HTTPParserLimits()
        /// Requests that come out before the error.
        var precedingRequests = 0

        init(_ name: String, _ input: String, _ status: Int, limits: HTTPParserLimits = HTTPParserLimits(), precedingRequests: Int = 0) {
            self.init(name, Array(input.utf8), status, limits: limits, precedingRequests: precedingRequests)
        }

        init(_ name: String, _ input: [UInt8], _ status: Int, limits: HTTPParserLimits = HTTPParserLimits(), precedingRequests: Int = 0) {
            self.name = name
            self.input = input
            self.status = status
            self.limits = limits
            self.precedingRequests = precedingRequests
        }

        var testDescription: String { "\(name) → \(status)" }
    }

    static let host = "Host: a\r\n"
    static let chunkedHead = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

    static let invalidCases: [InvalidCase] = [
        // Framing (RFC 9112 §6)
        InvalidCase("Content-Length with Transfer-Encoding",
                    "POST / HTTP/1.1\r\n\(host)Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        InvalidCase("Transfer-Encoding with Content-Length",
                    "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n", 400),
        InvalidCase("conflicting Content-Length in one field", "POST / HTTP/1.1\r\n\(host)Content-Length: 5, 6\r\n\r\nhello!", 400),
        InvalidCase("conflicting Content-Length fields",
                    "POST / HTTP/1.1\r\n\(host)Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        InvalidCase("non-numeric Content-Length", "POST / HTTP/1.1\r\n\(host)Content-Length: abc\r\n\r\n", 400),
        InvalidCase("hexadecimal Content-Length", "POST / HTTP/1.1\r\n\(host)Content-Length: 0x5\r\n\r\nhello", 400),
        InvalidCase("Content-Length with a plus sign", "POST / HTTP/1.1\r\n\(host)Content-Length: +5\r\n\r\nhello", 400),
        InvalidCase("negative Content-Length", "POST / HTTP/1.1\r\n\(host)Content-Length: -1\r\n\r\n", 400),
        InvalidCase("Content-Length with inner space", "POST / HTTP/1.1\r\n\(host)Content-Length: 1 2\r\n\r\n", 400),
        InvalidCase("empty Content-Length", "POST / HTTP/1.1\r\n\(host)Content-Length:\r\n\r\n", 400),
        InvalidCase("Content-Length with an empty list element", "POST / HTTP/1.1\r\n\(host)Content-Length: 5,\r\n\r\nhello", 400),
        InvalidCase("fractional Content-Length", "POST / HTTP/1.1\r\n\(host)Content-Length: 5.0\r\n\r\nhello", 400),
        InvalidCase("unknown transfer coding gzip", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: gzip\r\n\r\n", 501),
        InvalidCase("gzip before chunked", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
        InvalidCase("chunked before gzip", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked, gzip\r\n\r\n", 501),
        InvalidCase("identity transfer coding", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: identity\r\n\r\n", 501),
        InvalidCase("gzip in a second field",
                    "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        InvalidCase("chunked twice in one field", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
        InvalidCase("chunked in two fields",
                    "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        InvalidCase("empty Transfer-Encoding", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding:\r\n\r\n", 400),
        InvalidCase("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        InvalidCase("Transfer-Encoding and Content-Length in HTTP/1.0",
                    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", 400),

        // Field syntax (RFC 9112 §5)
        InvalidCase("obs-fold", "GET / HTTP/1.1\r\n\(host)X-Long: first\r\n  second\r\n\r\n", 400),
        InvalidCase("obs-fold with a tab", "GET / HTTP/1.1\r\n\(host)X-Long: first\r\n\tsecond\r\n\r\n", 400),
        InvalidCase("whitespace before the first field", "GET / HTTP/1.1\r\n \(host)\r\n", 400),
        InvalidCase("whitespace-only line", "GET / HTTP/1.1\r\n\(host) \r\n\r\n", 400),
        InvalidCase("space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        InvalidCase("tab before the colon", "GET / HTTP/1.1\r\n\(host)X-A\t: b\r\n\r\n", 400),
        InvalidCase("space inside a field name", "GET / HTTP/1.1\r\n\(host)X A: b\r\n\r\n", 400),
        InvalidCase("parenthesis in a field name", "GET / HTTP/1.1\r\n\(host)X(A): b\r\n\r\n", 400),
        InvalidCase("slash in a field name", "GET / HTTP/1.1\r\n\(host)X/A: b\r\n\r\n", 400),
        InvalidCase("non-ASCII field name", "GET / HTTP/1.1\r\n\(host)Héader: b\r\n\r\n", 400),
        InvalidCase("NUL in a field name", "GET / HTTP/1.1\r\n\(host)X\u{0}A: b\r\n\r\n", 400),
        InvalidCase("empty field name", "GET / HTTP/1.1\r\n\(host): b\r\n\r\n", 400),
        InvalidCase("field without a colon", "GET / HTTP/1.1\r\n\(host)X-No-Colon\r\n\r\n", 400),
        InvalidCase("control character in a value", "GET / HTTP/1.1\r\n\(host)X-A: b\u{1}c\r\n\r\n", 400),
        InvalidCase("NUL in a value", "GET / HTTP/1.1\r\n\(host)X-A: b\u{0}c\r\n\r\n", 400),
        InvalidCase("DEL in a value", "GET / HTTP/1.1\r\n\(host)X-A: b\u{7F}c\r\n\r\n", 400),
        InvalidCase("escape in a value", "GET / HTTP/1.1\r\n\(host)X-A: \u{1B}[31m\r\n\r\n", 400),
        InvalidCase("bare CR in a value", "GET / HTTP/1.1\r\n\(host)X-A: b\rc\r\n\r\n", 400),
        InvalidCase("bare CR ending a field line", "GET / HTTP/1.1\r\n\(host)X-A: b\r\r\n\r\n", 400),
        InvalidCase("bare CR in the request line", "GET /\r HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("bare CR line ending throughout", "GET / HTTP/1.1\r\(host)\r\r\n\r\n", 400),

        // Request line (RFC 9112 §3)
        InvalidCase("extra token after the target", "GET /a b HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("empty method", " / HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("two spaces after the method", "GET  / HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("two spaces before the version", "GET /  HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("tab as separator", "GET\t/ HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("invalid character in the method", "GE@T / HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("method only", "GET\r\n\(host)\r\n", 400),
        InvalidCase("no version", "GET /\r\n\(host)\r\n", 400),
        InvalidCase("target missing", "GET HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("relative target", "GET a/b HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("asterisk outside OPTIONS", "GET * HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400),
        InvalidCase("scheme without authority", "GET http:// HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("unsupported scheme", "GET ftp://example.com/ HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("non-ASCII in the target", "GET /caf\u{E9} HTTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("trailing space after the version", "GET / HTTP/1.1 \r\n\(host)\r\n", 400),
        InvalidCase("lower-case protocol name", "GET / http/1.1\r\n\(host)\r\n", 400),
        InvalidCase("garbage version", "GET / HTTP/x.y\r\n\(host)\r\n", 400),
        InvalidCase("version with two-digit major", "GET / HTTP/11.1\r\n\(host)\r\n", 400),
        InvalidCase("version without a minor", "GET / HTTP/1\r\n\(host)\r\n", 400),
        InvalidCase("other protocol", "GET / FTP/1.1\r\n\(host)\r\n", 400),
        InvalidCase("HTTP/2.0", "GET / HTTP/2.0\r\n\(host)\r\n", 505),
        InvalidCase("HTTP/1.2", "GET / HTTP/1.2\r\n\(host)\r\n", 505),
        InvalidCase("HTTP/0.9", "GET / HTTP/0.9\r\n\(host)\r\n", 505),
        InvalidCase("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        InvalidCase("binary garbage", [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03, 0x0D, 0x0A, 0x0D, 0x0A], 400),
        InvalidCase("binary garbage with bare LFs", [0x00, 0xFF, 0xFE, 0x80, 0x0A, 0x0A], 400),
        InvalidCase("NUL before the method", [0x00] + Array("GET / HTTP/1.1\r\n\(host)\r\n".utf8), 400),

        // Host (RFC 9112 §3.2)
        InvalidCase("missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
        InvalidCase("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        InvalidCase("two identical Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400),
        InvalidCase("two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),

        // Expect (RFC 9110 §10.1.1)
        InvalidCase("unknown expectation", "POST / HTTP/1.1\r\n\(host)Expect: something-else\r\nContent-Length: 1\r\n\r\nx", 417),
        InvalidCase("100-continue listed with another expectation",
                    "POST / HTTP/1.1\r\n\(host)Expect: 100-continue, foo\r\nContent-Length: 1\r\n\r\nx", 417),
        InvalidCase("another expectation in a second Expect field",
                    "POST / HTTP/1.1\r\n\(host)Expect: 100-continue\r\nExpect: foo\r\nContent-Length: 1\r\n\r\nx", 417),
        InvalidCase("empty expectation", "GET / HTTP/1.1\r\n\(host)Expect:\r\n\r\n", 417),

        // Chunked framing (RFC 9112 §7.1)
        InvalidCase("non-hexadecimal chunk size", chunkedHead + "z\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("empty chunk size", chunkedHead + "\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("chunk size with trailing garbage", chunkedHead + "5x\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("chunk size with 0x prefix", chunkedHead + "0x5\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("negative chunk size", chunkedHead + "-5\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("chunk size with leading space", chunkedHead + " 5\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("chunk size of 16 hex digits", chunkedHead + "0000000000000005\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("chunk size that would overflow", chunkedHead + "10000000000000000\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("chunk data longer than its size", chunkedHead + "5\r\nhelloX\r\n0\r\n\r\n", 400),
        InvalidCase("chunk data shorter than its size", chunkedHead + "5\r\nhell\r\n0\r\n\r\n", 400),
        InvalidCase("bare LF after the chunk size", chunkedHead + "5\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("bare LF after the chunk data", chunkedHead + "5\r\nhello\n0\r\n\r\n", 400),
        InvalidCase("bare LF after the last chunk", chunkedHead + "5\r\nhello\r\n0\n\r\n", 400),
        InvalidCase("bare LF ending the trailer section", chunkedHead + "0\r\n\n", 400),
        InvalidCase("bare LF after a trailer field", chunkedHead + "0\r\nX: y\n\r\n", 400),
        InvalidCase("bare CR in a chunk extension", chunkedHead + "5;a\rb\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("control character in a chunk extension", chunkedHead + "5;a=\u{1}\r\nhello\r\n0\r\n\r\n", 400),
        InvalidCase("obs-fold in the trailers", chunkedHead + "0\r\nX: y\r\n z\r\n\r\n", 400),
        InvalidCase("bad trailer field", chunkedHead + "0\r\nX Y: z\r\n\r\n", 400),

        // Limits
        InvalidCase("request-target one byte too long", "GET /" + String(repeating: "a", count: 16) + " HTTP/1.1\r\n\(host)\r\n", 414,
                    limits: HTTPParserLimits(maxRequestTargetLength: 16)),
        InvalidCase("request-target far too long", "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\n\(host)\r\n", 414,
                    limits: HTTPParserLimits(maxRequestTargetLength: 16)),
        InvalidCase("request line that never ends", "GET /" + String(repeating: "a", count: 200), 414,
                    limits: HTTPParserLimits(maxRequestTargetLength: 16)),
        InvalidCase("header section too large",
                    "GET / HTTP/1.1\r\n\(host)X-Big: " + String(repeating: "b", count: 100) + "\r\n\r\n", 431,
                    limits: HTTPParserLimits(maxHeaderBytes: 64)),
        InvalidCase("header section that never ends",
                    "GET / HTTP/1.1\r\n\(host)" + String(repeating: "X-A: b\r\n", count: 20), 431,
                    limits: HTTPParserLimits(maxHeaderBytes: 64)),
        InvalidCase("too many header fields", "GET / HTTP/1.1\r\n\(host)A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431,
                    limits: HTTPParserLimits(maxHeaderFields: 3)),
        InvalidCase("trailer section too large",
                    chunkedHead + "0\r\nX-Big: " + String(repeating: "b", count: 100) + "\r\n\r\n", 431,
                    limits: HTTPParserLimits(maxHeaderBytes: 64)),
        InvalidCase("body over the limit by Content-Length", "POST / HTTP/1.1\r\n\(host)Content-Length: 11\r\n\r\n", 413,
                    limits: HTTPParserLimits(maxBodyBytes: 10)),
        InvalidCase("body over the limit by chunk sizes", chunkedHead + "6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n", 413,
                    limits: HTTPParserLimits(maxBodyBytes: 10)),
        InvalidCase("one chunk over the limit", chunkedHead + "b\r\n", 413, limits: HTTPParserLimits(maxBodyBytes: 10)),
        InvalidCase("largest chunk size", chunkedHead + "fffffffffffffff\r\n", 413),
        InvalidCase("Content-Length of 19 digits", "POST / HTTP/1.1\r\n\(host)Content-Length: 9999999999999999999\r\n\r\n", 413),
        InvalidCase("Content-Length of 24 digits",
                    "POST / HTTP/1.1\r\n\(host)Content-Length: 123456789012345678901234\r\n\r\n", 413),

        // Errors after good pipelined requests
        InvalidCase("bad request after a good one", "GET /ok HTTP/1.1\r\n\(host)\r\nGET /bad HTTP/1.1\r\n\r\n", 400,
                    precedingRequests: 1),
        InvalidCase("smuggled request after a chunked body",
                    chunkedHead + "0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
                    precedingRequests: 1),
    ]
}

extension HTTPRequestParserTests {
    @Test(arguments: HTTPRequestParserTests.invalidCases)
    func invalidRequestIsRefused(_ invalid: InvalidCase) throws {
        let run = parseEveryWay(invalid.input, limits: invalid.limits)
        let error = try #require(run.error)
        #expect(error.status == invalid.status, "\(error.detail)")
        #expect(!error.detail.isEmpty)
        #expect(run.requests.count == invalid.precedingRequests)
        #expect(run.continueCount == 0)
    }
}

// MARK: - Request lines that cannot be HTTP

extension HTTPRequestParserTests {
    /// Bytes that can never become an HTTP request line, and how many of them prove it: the
    /// parser must refuse once `provenAt` bytes are in, and must still be waiting one byte
    /// earlier (nothing yet rules HTTP out), however the bytes are split.
    struct NotHTTPCase: Sendable, CustomTestStringConvertible {
        let name: String
        let input: [UInt8]
        let provenAt: Int
        /// A word the error's detail must contain, for the cases whose detail names a culprit.
        var detailMentions: String?

        init(_ name: String, _ input: [UInt8], provenAt: Int, mentions: String? = nil) {
            self.name = name
            self.input = input
            self.provenAt = provenAt
            self.detailMentions = mentions
        }

        init(_ name: String, _ input: String, provenAt: Int, mentions: String? = nil) {
            self.init(name, Array(input.utf8), provenAt: provenAt, mentions: mentions)
        }

        var testDescription: String { name }
    }

    static let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03]
        + (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) } + [0x00, 0x00, 0x20, 0xC0, 0x2B, 0xC0, 0x2F]

    static let notHTTPCases: [NotHTTPCase] = [
        NotHTTPCase("TLS record header alone", [0x16, 0x03, 0x01], provenAt: 1, mentions: "TLS"),
        NotHTTPCase("TLS ClientHello", clientHello, provenAt: 1, mentions: "TLS"),
        NotHTTPCase("TLS ClientHello after an empty line", [0x0D, 0x0A] + clientHello, provenAt: 3, mentions: "TLS"),
        NotHTTPCase("SSH banner", "SSH-2.0-OpenSSH_9.6\r\n", provenAt: 20, mentions: "SSH"),
        NotHTTPCase("SSH banner with a bare LF", "SSH-2.0-OpenSSH_9.6\n", provenAt: 20, mentions: "SSH"),
        NotHTTPCase("binary 0x00 0xFF", [0x00, 0xFF], provenAt: 1, mentions: "0x00"),
        NotHTTPCase("binary 0xFF first", [0xFF, 0x00, 0x41], provenAt: 1, mentions: "0xFF"),
        NotHTTPCase("binary after a method-like word", Array("GET".utf8) + [0xFF, 0x20], provenAt: 4, mentions: "0xFF"),
        NotHTTPCase("64-byte first word without a space", String(repeating: "A", count: 64),
                    provenAt: HTTPRequestParser.maxMethodLength + 1, mentions: "\(HTTPRequestParser.maxMethodLength) bytes"),
        NotHTTPCase("a line with one word", "HELLO\r\n", provenAt: 6),
        NotHTTPCase("a line with one word and a bare LF", "HELLO\n", provenAt: 6),
        NotHTTPCase("a line without a version", "GET /x\r\n", provenAt: 7, mentions: "version"),
        NotHTTPCase("FTP version", "GET /x FTP/1.0\r\n", provenAt: 8, mentions: "HTTP/"),
        NotHTTPCase("lower-case version", "GET /x http/1.1\r\n", provenAt: 8, mentions: "HTTP/"),
        NotHTTPCase("a third word", "GET /x y HTTP/1.1\r\n", provenAt: 8, mentions: "HTTP/"),
        NotHTTPCase("a two-digit major version", "GET /x HTTP/11.1\r\n", provenAt: 14),
        NotHTTPCase("text after the version", "GET /x HTTP/1.1 extra\r\n", provenAt: 16),
        NotHTTPCase("a bare CR after the version", "GET /x HTTP/1.1\rHost: a\r\n\r\n", provenAt: 17),
        NotHTTPCase("a control byte in the target", "GET /a\u{1}b HTTP/1.1\r\n", provenAt: 7),
        NotHTTPCase("a space first", " GET / HTTP/1.1\r\n", provenAt: 1),
        NotHTTPCase("a bare CR before the request line", "\rGET / HTTP/1.1\r\n", provenAt: 2),
    ]

    @Test(arguments: HTTPRequestParserTests.notHTTPCases)
    func aRequestLineThatCannotBeHTTPIsRefusedAtTheByteThatProvesIt(_ testCase: NotHTTPCase) throws {
        let whole = parseEveryWay(testCase.input)
        let error = try #require(whole.error, "\(testCase.name) was not refused")
        #expect(error.status == 400, "\(error)")
        #expect(whole.requests.isEmpty)
        if let word = testCase.detailMentions {
            #expect(error.detail.contains(word), "\(error.detail)")
        }
        // Refused as soon as the proving byte is in, not later (at a blank line or a timeout)...
        let proven = parseEveryWay(Array(testCase.input[..<testCase.provenAt]))
        #expect(proven.error == error, "after \(testCase.provenAt) bytes: \(proven.error.map { "\($0)" } ?? "waiting")")
        // ...and not earlier: one byte fewer is still a possible HTTP request line.
        let before = parse(Array(testCase.input[..<(testCase.provenAt - 1)]))
        #expect(before.error == nil, "after \(testCase.provenAt - 1) bytes: \(before.error.map { "\($0)" } ?? "")")
    }

    @Test func randomBinaryIsRefusedAtItsFirstByte() throws {
        // A fixed-seed SplitMix64, so a failure reproduces.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        // Anything but a tchar (a method's first byte) or CR/LF (a possible empty line).
        let delimiters = Array("\"(),/:;<=>?@[\\]{}".utf8)
        func isTchar(_ byte: UInt8) -> Bool { byte >= 0x21 && byte < 0x7F && !delimiters.contains(byte) }
        let firstBytes: [UInt8] = (0...255).map { UInt8($0) }.filter { !isTchar($0) && $0 != 0x0D && $0 != 0x0A }
        #expect(firstBytes.count == 256 - 77 - 2)
        for _ in 0..<64 {
            let first = firstBytes[Int(next() % UInt64(firstBytes.count))]
            let input = [first] + (0..<Int(next() % 48)).map { _ in UInt8(truncatingIfNeeded: next()) }
            let run = parseEveryWay(input)
            #expect(run.error?.status == 400, "\(input)")
            #expect(parse([first]).error == run.error, "\(input)")
        }
    }

    @Test func emptyLinesBeforeARequestLineAreStillSkipped() throws {
        let crlf = try parseOne("\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(crlf == ParsedRequest("GET", "/x", headers: [Field("Host", "a")]))
        let lf = try parseOne("\n\n\r\nPOST /y HTTP/1.0\nContent-Length: 2\n\nab")
        #expect(lf == ParsedRequest("POST", "/y", .http1_0, headers: [Field("Content-Length", "2")], body: "ab"))
    }

    @Test func aMethodAtTheLengthBoundIsAccepted() throws {
        let method = String(repeating: "M", count: HTTPRequestParser.maxMethodLength)
        let request = try parseOne("\(method) / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(request.method == method)
        let longer = parseEveryWay("M\(method) / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(longer.error?.status == 400)
    }

    @Test func theRequestLineIsCheckedAgainAfterEachPipelinedRequest() throws {
        let run = parseEveryWay(bytes("GET /a HTTP/1.1\r\nHost: a\r\n\r\n\r\n") + [0x16, 0x03, 0x01])
        #expect(run.requests.map(\.target) == ["/a"])
        #expect(run.error?.detail.contains("TLS") == true)
    }

    @Test func sizeLimitsStillApplyInByteOrder() throws {
        // A bad byte past the request line's bound: the bound is crossed first, however split.
        let limits = HTTPParserLimits(maxRequestTargetLength: 16)
        let long = parseEveryWay("GET /" + String(repeating: "a", count: 60) + "\u{1} HTTP/1.1\r\n", limits: limits)
        #expect(long.error?.status == 414)
        // Garbage after more empty lines than the head may hold: the head limit is crossed first.
        let small = HTTPParserLimits(maxHeaderBytes: 64)
        let flood = parseEveryWay(bytes(String(repeating: "\r\n", count: 40)) + [0x16, 0x03, 0x01], limits: small)
        #expect(flood.error?.status == 431)
    }
}
