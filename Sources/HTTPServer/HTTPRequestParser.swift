/// What the parser found in the bytes fed so far.
public enum HTTPParserEvent: Sendable {
    /// Not enough bytes for anything yet.
    case needMore
    /// The head asked for `Expect: 100-continue` and its body has not arrived: the server
    /// should send `100 Continue` now (RFC 9110 §10.1.1). Reported once per request.
    case expectContinue
    /// A whole request, body included.
    case request(HTTPRequest)
}

/// An incremental HTTP/1.1 request parser with no I/O (RFC 9112). Feed it bytes with
/// `append` (or read straight into `writableTail`), then call `next()` until it reports
/// `.needMore`. Requests come out in order, so pipelining needs nothing special.
/// After it throws, the stream is unframed: the caller must answer and close.
public struct HTTPRequestParser: Sendable {
    public let limits: HTTPParserLimits

    private var buffer = ReadBuffer()
    private var state = State.head(HeadScan())

    /// Offsets from the start of the unconsumed bytes, which stay put while a head is read.
    private struct HeadScan {
        /// Where the current request's head starts (after skipped empty lines).
        var start = 0
        /// Where the line being scanned starts.
        var lineStart = 0
        /// Where scanning resumes, so slow clients do not cost quadratic rescans.
        var resume = 0
        /// How far the request line has got; `.done` once its line ending is in.
        var phase = RequestLinePhase.method
        /// Where the request-target starts (after the method's SP), once in `.target`.
        var targetStart = 0
        /// Where the HTTP-version starts (after the target's SP), once in `.version`.
        var versionStart = 0
    }

    /// The request line is checked byte by byte as it arrives (RFC 9112 §3), so one that can
    /// never be HTTP — a TLS handshake, an SSH banner, binary — is refused at the byte that
    /// proves it instead of holding the connection until the header timeout.
    private enum RequestLinePhase: UInt8 {
        /// Reading the method (or skipping empty lines before it).
        case method
        /// A CR at the start of a line before the request line: only LF may follow.
        case leadingCR
        case target
        case version
        case done
    }

    /// The longest method accepted. The longest registered one (IANA's HTTP Method Registry)
    /// is UPDATEREDIRECTREF, 17 bytes; a first word longer than this with no SP after it is
    /// not a method, and waiting for more would only hold the connection.
    static let maxMethodLength = 32

    private struct Head {
        var method: HTTPMethod
        var target: String
        var version: HTTPVersion
        var headers: HTTPHeaders
        var framing: FramingFields
        var expectsContinue: Bool
    }

    private struct Chunked {
        var head: Head
        var body: [UInt8] = []
        var phase: Phase = .size
        var trailerBytes = 0
        var trailers = HTTPHeaders()

        enum Phase {
            case size
            case data(remaining: Int)
            case dataEnd
            case trailers
        }
    }

    private enum State {
        case head(HeadScan)
        case fixedBody(Head, length: Int, announced: Bool)
        case chunkedBody(Chunked, announced: Bool)
    }

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    /// Bytes received but not yet consumed by a finished request.
    public var bufferedByteCount: Int { buffer.readableCount }

    /// True between requests with nothing of the next one received: the connection is idle.
    public var isBetweenRequests: Bool {
        if case .head = state { return buffer.readableCount == 0 }
        return false
    }

    /// True once the head of the current request is complete and its body is being read.
    public var isReadingBody: Bool {
        if case .head = state { return false }
        return true
    }

    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        buffer.append(contentsOf: bytes)
    }

    /// Lets a socket read land directly in the parser's buffer. `body` gets at least
    /// `minimumCapacity` writable bytes and returns how many it filled.
    public mutating func writableTail<E: Error>(
        minimumCapacity: Int, _ body: (UnsafeMutableRawBufferPointer) throws(E) -> Int
    ) throws(E) -> Int {
        try buffer.writableTail(minimumCapacity: minimumCapacity, body)
    }

    public mutating func next() throws(HTTPParseError) -> HTTPParserEvent {
        switch state {
        case .head(var scan):
            guard let headEnd = try findHeadEnd(&scan) else {
                state = .head(scan)
                return .needMore
            }
            let head = try parseHead(scan, to: headEnd)
            buffer.consume(headEnd)
            return try beginBody(head)

        case .fixedBody(let head, let length, let announced):
            guard buffer.readableCount >= length else {
                if head.expectsContinue && !announced {
                    state = .fixedBody(head, length: length, announced: true)
                    return .expectContinue
                }
                return .needMore
            }
            let body = buffer.take(length)
            return finish(head, body: body, trailers: HTTPHeaders())

        case .chunkedBody(var chunked, let announced):
            // Leave the state in a trivial value while the body is mutated, so the body
            // array is uniquely referenced and appends do not copy it.
            state = .head(HeadScan())
            let complete: Bool
            do {
                complete = try decodeChunks(&chunked)
            } catch {
                state = .chunkedBody(chunked, announced: announced)
                throw error
            }
            if complete {
                return finish(chunked.head, body: chunked.body, trailers: chunked.trailers)
            }
            if chunked.head.expectsContinue && !announced {
                state = .chunkedBody(chunked, announced: true)
                return .expectContinue
            }
            state = .chunkedBody(chunked, announced: announced)
            return .needMore
        }
    }

    // MARK: - Head

    /// Scans for the empty line that ends the head. Leading empty lines are skipped
    /// (RFC 9112 §2.2). Lines may end in CRLF or a bare LF (§2.2 allows LF alone).
    private func findHeadEnd(_ scan: inout HeadScan) throws(HTTPParseError) -> Int? {
        let limits = self.limits
        return try buffer.withReadable { (bytes) throws(HTTPParseError) -> Int? in
            var index = scan.resume
            if scan.phase != .done {
                index = try Self.scanRequestLine(bytes, from: index, &scan, limits: limits)
                if scan.phase != .done {
                    scan.resume = index
                    return nil
                }
            }
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") {
                    let lineLength = index - scan.lineStart
                    if lineLength == 0 || (lineLength == 1 && bytes[scan.lineStart] == UInt8(ascii: "\r")) {
                        scan.resume = index + 1
                        return index + 1
                    }
                    scan.lineStart = index + 1
                }
                index += 1
            }
            scan.resume = index
            // Counted from the first unconsumed byte, not from `scan.start`: skipped empty
            // lines stay buffered, so they count against the limit too.
            if index > limits.maxHeaderBytes {
                throw Self.headTooLarge(limits)
            }
            return nil
        }
    }

    /// Checks the request line's new bytes, `method SP request-target SP HTTP-version` ending
    /// in CRLF or LF (RFC 9112 §3), skipping empty lines before it. Returns the index after
    /// the line's LF once `scan.phase` is `.done`, else `bytes.count`. Every check looks only
    /// at the byte in hand and offsets already recorded, so bytes are never rescanned and
    /// the error does not depend on how the bytes were split into reads.
    private static func scanRequestLine(
        _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ scan: inout HeadScan, limits: HTTPParserLimits
    ) throws(HTTPParseError) -> Int {
        let lineBound = limits.maxRequestTargetLength + 32
        // The first index at which the head or the request line can outgrow its limit, so
        // one comparison per byte covers both (the 431 and 414 checks of the whole head).
        var checkpoint = min(limits.maxHeaderBytes, scan.lineStart + lineBound)
        var phase = scan.phase
        defer { scan.phase = phase }
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if index >= checkpoint {
                if index >= limits.maxHeaderBytes { throw headTooLarge(limits) }
                // The request line may be lineBound bytes long, plus its LF.
                if index > scan.lineStart + lineBound || byte != UInt8(ascii: "\n") { throw targetTooLong(limits) }
            }
            switch phase {
            case .method:
                if isToken(byte) {
                    if index - scan.lineStart >= maxMethodLength {
                        throw .bad("The request line is not HTTP: its first word runs past \(maxMethodLength) bytes, longer than any method.")
                    }
                } else if byte == UInt8(ascii: " ") && index > scan.lineStart {
                    phase = .target
                    scan.targetStart = index + 1
                } else if index == scan.lineStart && byte == UInt8(ascii: "\r") {
                    phase = .leadingCR
                } else if index == scan.lineStart && byte == UInt8(ascii: "\n") {
                    scan.start = index + 1
                    scan.lineStart = index + 1
                    checkpoint = min(limits.maxHeaderBytes, scan.lineStart + lineBound)
                } else {
                    throw notHTTP(bytes, lineStart: scan.lineStart, at: index)
                }
            case .leadingCR:
                guard byte == UInt8(ascii: "\n") else { throw .bad("A bare CR appears in the request head (RFC 9112 §2.2).") }
                phase = .method
                scan.start = index + 1
                scan.lineStart = index + 1
                checkpoint = min(limits.maxHeaderBytes, scan.lineStart + lineBound)
            case .target:
                if byte > 0x20 && byte < 0x7F { break }
                if byte == UInt8(ascii: " ") {
                    if index == scan.targetStart { throw .bad("The request-target is empty.") }
                    phase = .version
                    scan.versionStart = index + 1
                } else if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") {
                    throw .bad("The request line has no HTTP version.")
                } else {
                    throw .bad("The request-target contains a byte that is not visible ASCII.")
                }
            case .version:
                // `HTTP/` DIGIT `.` DIGIT (RFC 9112 §2.3), then CRLF or LF.
                let expected: Bool
                switch index - scan.versionStart {
                case 0: expected = byte == UInt8(ascii: "H")
                case 1, 2: expected = byte == UInt8(ascii: "T")
                case 3: expected = byte == UInt8(ascii: "P")
                case 4: expected = byte == UInt8(ascii: "/")
                case 5, 7: expected = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
                case 6: expected = byte == UInt8(ascii: ".")
                case 8:
                    if byte == UInt8(ascii: "\r") {
                        expected = true
                    } else if byte == UInt8(ascii: "\n") {
                        phase = .done
                        scan.lineStart = index + 1
                        return index + 1
                    } else {
                        expected = false
                    }
                default:
                    guard byte == UInt8(ascii: "\n") else {
                        throw .bad("A bare CR appears in the request head (RFC 9112 §2.2).")
                    }
                    phase = .done
                    scan.lineStart = index + 1
                    return index + 1
                }
                if !expected {
                    if index - scan.versionStart < 5 {
                        throw .bad("The request line is not HTTP: its version does not start with 'HTTP/'.")
                    }
                    throw .bad("The request line does not end with a valid HTTP version.")
                }
            case .done:
                return index
            }
            index += 1
        }
        return index
    }

    /// The error for a byte that cannot be part of a method, naming the likely sender when
    /// the bytes are a well-known other protocol. Runs only on the error path.
    private static func notHTTP(_ bytes: UnsafeBufferPointer<UInt8>, lineStart: Int, at index: Int) -> HTTPParseError {
        let byte = bytes[index]
        if bytes[lineStart] == 0x16 {
            // A TLS record of type handshake: a client speaking https:// to a plain-HTTP port.
            return .bad("The request is not HTTP: it looks like a TLS handshake (https:// sent to this plain-HTTP port).")
        }
        if byte == UInt8(ascii: " ") {
            return .bad("The request line does not start with a method token followed by one space.")
        }
        if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") {
            let ssh = index - lineStart >= 4 && bytes[lineStart] == UInt8(ascii: "S") && bytes[lineStart + 1] == UInt8(ascii: "S")
                && bytes[lineStart + 2] == UInt8(ascii: "H") && bytes[lineStart + 3] == UInt8(ascii: "-")
            return .bad(ssh
                ? "The request is not HTTP: it looks like an SSH client's banner."
                : "The request line is not HTTP: it ends after one word, with no request-target or version.")
        }
        let hex = String(byte, radix: 16, uppercase: true)
        return .bad("The request line is not HTTP: byte 0x\(hex.count == 1 ? "0" + hex : hex) cannot appear in a method.")
    }

    fileprivate static func targetTooLong(_ limits: HTTPParserLimits) -> HTTPParseError {
        HTTPParseError(status: 414, detail: "The request-target exceeds \(limits.maxRequestTargetLength) bytes.")
    }

    private static func headTooLarge(_ limits: HTTPParserLimits) -> HTTPParseError {
        HTTPParseError(status: 431, detail: "The request line and header section exceed \(limits.maxHeaderBytes) bytes.")
    }

    private func parseHead(_ scan: HeadScan, to end: Int) throws(HTTPParseError) -> Head {
        if end > limits.maxHeaderBytes { throw Self.headTooLarge(limits) }
        let limits = self.limits
        return try buffer.withReadable { (bytes) throws(HTTPParseError) -> Head in
            let (method, target, version) = try parseRequestLine(
                bytes, start: scan.start, targetStart: scan.targetStart, versionStart: scan.versionStart, limits: limits)
            // The request line was checked as it arrived: its version is 8 bytes, then CRLF or LF.
            let lineEnd = scan.versionStart + 8
            var lines = LineReader(
                bytes: bytes, position: bytes[lineEnd] == UInt8(ascii: "\r") ? lineEnd + 2 : lineEnd + 1, end: end)
            var headers = HTTPHeaders(reservingCapacity: 12)
            var framing = FramingFields()
            while let line = try lines.next(), !line.isEmpty {
                if headers.count == limits.maxHeaderFields {
                    throw HTTPParseError(status: 431, detail: "The request has more than \(limits.maxHeaderFields) header fields.")
                }
                let field = try parseField(bytes, line)
                framing.note(field)
                headers.add(name: field.name, value: field.value)
            }
            return try validate(Head(
                method: method, target: target, version: version, headers: headers, framing: framing, expectsContinue: false))
        }
    }

    /// Applies the message-framing rules of RFC 9112 §6 and RFC 9110 that can be checked
    /// from the head alone.
    private func validate(_ head: Head) throws(HTTPParseError) -> Head {
        var head = head
        let hostCount = head.framing.hostCount
        if head.version == .http1_1 && hostCount == 0 {
            throw .bad("An HTTP/1.1 request must carry a Host header (RFC 9112 §3.2).")
        }
        if hostCount > 1 {
            throw .bad("The request carries more than one Host header (RFC 9112 §3.2).")
        }
        if let expectation = head.framing.expect {
            if asciiCaseInsensitiveEquals(expectation.trimmingOWS(), "100-continue") {
                // An HTTP/1.0 client cannot understand 100 Continue (RFC 9110 §10.1.1).
                head.expectsContinue = head.version == .http1_1
            } else {
                throw HTTPParseError(status: 417, detail: "Only the expectation '100-continue' is supported.")
            }
        }
        return head
    }

    /// Decides how the body is framed (RFC 9112 §6.3) and moves to reading it.
    private mutating func beginBody(_ head: Head) throws(HTTPParseError) -> HTTPParserEvent {
        let transferEncodings = head.framing.transferEncodings
        let contentLengths = head.framing.contentLengths
        if !transferEncodings.isEmpty {
            if head.version == .http1_0 {
                throw .bad("Transfer-Encoding is not allowed in an HTTP/1.0 request (RFC 9112 §6.1).")
            }
            if !contentLengths.isEmpty {
                throw .bad("A request must not carry both Content-Length and Transfer-Encoding (RFC 9112 §6.1).")
            }
            let codings = transferEncodings
                .flatMap { $0.split(separator: ",") }
                .map { $0.trimmingOWS() }
                .filter { !$0.isEmpty }
            for coding in codings where !asciiCaseInsensitiveEquals(coding, "chunked") {
                throw HTTPParseError(status: 501, detail: "The transfer coding '\(coding)' is not supported; only 'chunked' is.")
            }
            if codings.count != 1 {
                throw .bad("Transfer-Encoding must name 'chunked' exactly once (RFC 9112 §6.1).")
            }
            state = .chunkedBody(Chunked(head: head), announced: false)
            return try next()
        }
        var length = 0
        if !contentLengths.isEmpty {
            length = try parseContentLength(contentLengths)
        }
        if length > limits.maxBodyBytes {
            throw HTTPParseError(status: 413, detail: "The body of \(length) bytes exceeds the limit of \(limits.maxBodyBytes) bytes.")
        }
        state = .fixedBody(head, length: length, announced: false)
        return try next()
    }

    /// RFC 9110 §8.6: a list of identical decimal values is the same as one; anything else
    /// (signs, spaces inside, differing values) is a framing error. Scans bytes directly:
    /// this runs for every request with a body.
    private func parseContentLength(_ values: [String]) throws(HTTPParseError) -> Int {
        var result: Int?
        for field in values {
            var value = 0
            var digits = 0
            var sawSpaceAfterDigits = false
            for byte in field.utf8 {
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if sawSpaceAfterDigits { throw Self.invalidContentLength(field) }
                    digits += 1
                    // More digits than fit in an Int are still a valid length, just a too-large one.
                    value = digits > 18 ? Int.max : value * 10 + Int(byte - UInt8(ascii: "0"))
                case UInt8(ascii: " "), UInt8(ascii: "\t"):
                    if digits > 0 { sawSpaceAfterDigits = true }
                case UInt8(ascii: ","):
                    try Self.merge(value, digits: digits, field: field, into: &result)
                    value = 0
                    digits = 0
                    sawSpaceAfterDigits = false
                default:
                    throw Self.invalidContentLength(field)
                }
            }
            try Self.merge(value, digits: digits, field: field, into: &result)
        }
        return result ?? 0
    }

    private static func merge(_ value: Int, digits: Int, field: String, into result: inout Int?) throws(HTTPParseError) {
        guard digits > 0 else { throw invalidContentLength(field) }
        if let previous = result, previous != value {
            throw .bad("The request carries conflicting Content-Length values.")
        }
        result = value
    }

    private static func invalidContentLength(_ field: String) -> HTTPParseError {
        .bad("Content-Length '\(field)' is not a decimal number.")
    }

    private mutating func finish(_ head: Head, body: [UInt8], trailers: HTTPHeaders) -> HTTPParserEvent {
        state = .head(HeadScan())
        buffer.compactIfWorthwhile()
        return .request(HTTPRequest(
            method: head.method, target: head.target, version: head.version,
            headers: head.headers, body: body, trailers: trailers, connection: head.framing.connection))
    }

    // MARK: - Chunked bodies (RFC 9112 §7.1)

    /// Decodes as many chunks as are buffered; true when the last chunk and trailers are in.
    private mutating func decodeChunks(_ chunked: inout Chunked) throws(HTTPParseError) -> Bool {
        let limits = self.limits
        while true {
            switch chunked.phase {
            case .size:
                guard let line = try buffer.takeLine(maxLength: 4096, strictCRLF: true) else { return false }
                let size = try parseChunkSize(line)
                if size == 0 {
                    chunked.phase = .trailers
                } else {
                    if size > limits.maxBodyBytes - chunked.body.count {
                        throw HTTPParseError(status: 413, detail: "The chunked body exceeds the limit of \(limits.maxBodyBytes) bytes.")
                    }
                    chunked.phase = .data(remaining: size)
                }
            case .data(let remaining):
                let available = min(remaining, buffer.readableCount)
                if available == 0 { return false }
                buffer.take(available, appendingTo: &chunked.body)
                chunked.phase = remaining == available ? .dataEnd : .data(remaining: remaining - available)
            case .dataEnd:
                guard buffer.readableCount >= 2 else { return false }
                guard buffer.take(2) == [UInt8(ascii: "\r"), UInt8(ascii: "\n")] else {
                    throw .bad("Chunk data is not followed by CRLF.")
                }
                chunked.phase = .size
            case .trailers:
                let remainingBytes = limits.maxHeaderBytes - chunked.trailerBytes
                guard let line = try buffer.takeLine(maxLength: remainingBytes, strictCRLF: true, tooLongStatus: 431) else {
                    return false
                }
                chunked.trailerBytes += line.count + 2
                if line.isEmpty { return true }
                if chunked.trailers.count == limits.maxHeaderFields {
                    throw HTTPParseError(status: 431, detail: "The trailer section has more than \(limits.maxHeaderFields) fields.")
                }
                let field = try line.withUnsafeBufferPointer { (bytes) throws(HTTPParseError) in
                    try parseField(bytes, 0..<bytes.count)
                }
                chunked.trailers.add(name: field.name, value: field.value)
            }
        }
    }

    private func parseChunkSize(_ line: [UInt8]) throws(HTTPParseError) -> Int {
        var size = 0
        var digits = 0
        var index = 0
        while index < line.count, let digit = hexValue(line[index]) {
            digits += 1
            if digits > 15 { throw .bad("The chunk size has too many digits.") }
            size = size << 4 | Int(digit)
            index += 1
        }
        if digits == 0 { throw .bad("A chunk size must start with a hexadecimal number.") }
        // Chunk extensions (`;name=value`) carry nothing we use; check their bytes and skip them.
        while index < line.count {
            let byte = line[index]
            if byte != UInt8(ascii: "\t") && (byte < 0x20 || byte == 0x7F) {
                throw .bad("The chunk extension contains a control character.")
            }
            index += 1
        }
        if digits < line.count && line[digits] != UInt8(ascii: ";") && line[digits] != UInt8(ascii: " ") && line[digits] != UInt8(ascii: "\t") {
            throw .bad("The chunk size is not a hexadecimal number.")
        }
        return size
    }
}

/// The fields that decide framing and connection handling, picked out while the head is
/// parsed so that no later lookup has to scan (and allocate over) every field again.
private struct FramingFields {
    var hostCount = 0
    var expect: String?
    var contentLengths: [String] = []
    var transferEncodings: [String] = []
    var connection = ConnectionOptions()

    mutating func note(_ field: (name: String, value: String)) {
        let name = field.name
        switch name.utf8.count {
        case 4 where asciiCaseInsensitiveEquals(name, "host"):
            hostCount += 1
        case 6 where asciiCaseInsensitiveEquals(name, "expect"):
            // Several Expect fields form one list; anything but 100-continue is refused later.
            expect = expect.map { "\($0), \(field.value)" } ?? field.value
        case 10 where asciiCaseInsensitiveEquals(name, "connection"):
            connection.note(field.value)
        case 14 where asciiCaseInsensitiveEquals(name, "content-length"):
            contentLengths.append(field.value)
        case 17 where asciiCaseInsensitiveEquals(name, "transfer-encoding"):
            transferEncodings.append(field.value)
        default:
            break
        }
    }
}

// MARK: - Line-level grammar

/// Splits a head into lines ending in CRLF or LF; a CR anywhere else is an error (§2.2).
private struct LineReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var position: Int
    let end: Int

    mutating func next() throws(HTTPParseError) -> Range<Int>? {
        guard position < end else { return nil }
        let start = position
        while position < end {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\n") {
                var lineEnd = position
                if lineEnd > start && bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                position += 1
                return start..<lineEnd
            }
            if byte == UInt8(ascii: "\r") && (position + 1 >= end || bytes[position + 1] != UInt8(ascii: "\n")) {
                throw .bad("A bare CR appears in the request head (RFC 9112 §2.2).")
            }
            position += 1
        }
        return start..<end
    }
}

/// tchar (RFC 9110 §5.6.2): letters, digits and ``!#$%&'*+-.^_`|~``. Range checks rather
/// than a global table, whose lazy initialisation check would run for every byte.
@inline(__always)
private func isToken(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
         UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
         UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

/// Slices the request line at the offsets the head scan recorded (`scanRequestLine`, which
/// checked its syntax as the bytes arrived); what is left is the target's length and form and
/// the version number.
private func parseRequestLine(
    _ bytes: UnsafeBufferPointer<UInt8>, start: Int, targetStart: Int, versionStart: Int, limits: HTTPParserLimits
) throws(HTTPParseError) -> (HTTPMethod, String, HTTPVersion) {
    let method = HTTPMethod(bytes: UnsafeBufferPointer(rebasing: bytes[start..<(targetStart - 1)]))
    let targetEnd = versionStart - 1
    if targetEnd - targetStart > limits.maxRequestTargetLength {
        throw HTTPRequestParser.targetTooLong(limits)
    }
    let parsedVersion = try parseVersion(UnsafeBufferPointer(rebasing: bytes[versionStart..<(versionStart + 8)]))
    let target = String(decoding: UnsafeBufferPointer(rebasing: bytes[targetStart..<targetEnd]), as: UTF8.self)
    return (method, try normalizeTarget(target, method: method), parsedVersion)
}

private func parseVersion(_ version: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> HTTPVersion {
    guard version.count == 8, version[0] == UInt8(ascii: "H"), version[1] == UInt8(ascii: "T"),
          version[2] == UInt8(ascii: "T"), version[3] == UInt8(ascii: "P"), version[4] == UInt8(ascii: "/"),
          version[6] == UInt8(ascii: "."),
          let major = decimalDigit(version[5]), let minor = decimalDigit(version[7]) else {
        throw .bad("The request line does not end with a valid HTTP version.")
    }
    switch (major, minor) {
    case (1, 1): return .http1_1
    case (1, 0): return .http1_0
    default: throw HTTPParseError(status: 505, detail: "HTTP/\(major).\(minor) is not supported; use HTTP/1.1.")
    }
}

@inline(__always)
private func decimalDigit(_ byte: UInt8) -> UInt8? {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : nil
}

/// Accepts origin-form, `*` for OPTIONS, and absolute-form (which a server must accept,
/// RFC 9112 §3.2.2), reducing the last to its path and query.
private func normalizeTarget(_ target: String, method: HTTPMethod) throws(HTTPParseError) -> String {
    if target.utf8.first == UInt8(ascii: "/") { return target }
    if target == "*" {
        guard method == .options else { throw .bad("The asterisk-form request-target is only valid for OPTIONS.") }
        return target
    }
    for scheme in ["http://", "https://"] where target.utf8.count > scheme.utf8.count
        && asciiCaseInsensitiveEquals(target.prefix(scheme.count), scheme) {
        let rest = target.dropFirst(scheme.count)
        guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
        let pathAndQuery = rest[slash...]
        return pathAndQuery.first == "?" ? "/" + pathAndQuery : String(pathAndQuery)
    }
    throw .bad("The request-target must be an absolute path such as '/v1/events'.")
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 §5). Whitespace before the colon and
/// obs-fold are refused with 400 as §5.1 and §5.2 require of a server.
private func parseField(
    _ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>
) throws(HTTPParseError) -> (name: String, value: String) {
    guard let first = line.first.map({ bytes[$0] }) else { throw .bad("Empty header line.") }
    if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
        throw .bad("Obsolete line folding in a header field is not accepted (RFC 9112 §5.2).")
    }
    var index = line.lowerBound
    while index < line.upperBound && isToken(bytes[index]) { index += 1 }
    guard index < line.upperBound, bytes[index] == UInt8(ascii: ":") else {
        if index < line.upperBound && (bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t")) {
            throw .bad("Whitespace between a header field name and its colon is not allowed (RFC 9112 §5.1).")
        }
        throw .bad("A header field name contains an invalid character or lacks a colon.")
    }
    if index == line.lowerBound { throw .bad("A header field has an empty name.") }
    let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[line.lowerBound..<index]), as: UTF8.self)
    index += 1
    var valueStart = index
    var valueEnd = line.upperBound
    while valueStart < valueEnd && (bytes[valueStart] == UInt8(ascii: " ") || bytes[valueStart] == UInt8(ascii: "\t")) {
        valueStart += 1
    }
    while valueEnd > valueStart && (bytes[valueEnd - 1] == UInt8(ascii: " ") || bytes[valueEnd - 1] == UInt8(ascii: "\t")) {
        valueEnd -= 1
    }
    for position in valueStart..<valueEnd {
        let byte = bytes[position]
        if (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F {
            throw .bad("The value of header '\(name)' contains a control character.")
        }
    }
    let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
    return (name, value)
}
