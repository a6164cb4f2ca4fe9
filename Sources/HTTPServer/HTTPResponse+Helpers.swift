/// An error a handler can throw (or return) to answer with a problem document.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public let status: Int
    public let detail: String
    public var headers: HTTPHeaders

    public init(_ status: Int, _ detail: String, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.detail = detail
        self.headers = headers
    }

    public var description: String { "\(status) \(HTTPStatus.reasonPhrase(status)): \(detail)" }

    public var response: HTTPResponse {
        var response = HTTPResponse.problem(status: status, detail: detail)
        for field in headers { response.headers.add(name: field.name, value: field.value) }
        return response
    }
}

extension HTTPResponse {
    /// A JSON response from bytes that are already JSON.
    public static func json(_ status: Int, _ body: [UInt8], headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    public static func json(_ status: Int, _ body: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        json(status, Array(body.utf8), headers: headers)
    }

    /// An RFC 9457 problem document. `title` defaults to the status's reason phrase and
    /// `type` to `about:blank`, which RFC 9457 §4.2.1 pairs with exactly that title.
    public static func problem(
        status: Int, detail: String, title: String? = nil, type: String = "about:blank",
        headers: HTTPHeaders = HTTPHeaders(), extensions: [(String, JSONFragment)] = []
    ) -> HTTPResponse {
        var json = JSONObjectWriter()
        json.add("type", string: type)
        json.add("title", string: title ?? HTTPStatus.reasonPhrase(status))
        json.add("status", number: status)
        json.add("detail", string: detail)
        for (key, value) in extensions { json.add(key, raw: value.bytes) }
        var headers = headers
        headers.add(name: "Content-Type", value: "application/problem+json")
        return HTTPResponse(status: status, headers: headers, body: json.finish())
    }
}

/// Already-encoded JSON, to nest inside a document being written.
public struct JSONFragment: Sendable {
    public let bytes: [UInt8]
    public init(raw bytes: [UInt8]) { self.bytes = bytes }
    public static func string(_ value: String) -> JSONFragment {
        var bytes: [UInt8] = []
        appendJSONString(value, to: &bytes)
        return JSONFragment(raw: bytes)
    }
}

/// Writes a flat JSON object without Foundation: responses are built on the event loop,
/// where JSONEncoder's cost (tens of microseconds) would dominate the request.
public struct JSONObjectWriter: Sendable {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    public init() {}

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        appendJSONString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func add(_ name: String, string value: String) {
        key(name)
        appendJSONString(value, to: &bytes)
    }

    public mutating func add(_ name: String, number value: Int) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func add(_ name: String, bool value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Adds a value that is already valid JSON.
    public mutating func add(_ name: String, raw value: [UInt8]) {
        key(name)
        bytes.append(contentsOf: value)
    }

    /// Adds an array of values that are already valid JSON.
    public mutating func add<Elements: Sequence>(_ name: String, array elements: Elements) where Elements.Element == [UInt8] {
        add(name, raw: jsonArray(elements))
    }

    public consuming func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

/// `[e1,e2,...]` from values that are already valid JSON.
public func jsonArray<Elements: Sequence>(_ elements: Elements) -> [UInt8] where Elements.Element == [UInt8] {
    var bytes: [UInt8] = [UInt8(ascii: "[")]
    for (index, element) in elements.enumerated() {
        if index > 0 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(contentsOf: element)
    }
    bytes.append(UInt8(ascii: "]"))
    return bytes
}

/// Appends `value` as a JSON string literal (RFC 8259 §7), escaping quotes, backslashes and
/// control characters.
public func appendJSONString(_ value: String, to bytes: inout [UInt8]) {
    var value = value
    value.withUTF8 { appendJSONString(utf8: UnsafeRawBufferPointer($0), to: &bytes) }
}

/// Appends UTF-8 bytes as a JSON string literal, quoted and escaped: for text that is still
/// in a buffer (a journal record's field) and need not become a `String` first.
public func appendJSONString(utf8 value: UnsafeRawBufferPointer, to bytes: inout [UInt8]) {
    let hex: StaticString = "0123456789abcdef"
    bytes.append(UInt8(ascii: "\""))
    var clean = 0  // start of the run of bytes that need no escape
    for (index, byte) in value.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[clean..<index]))
        clean = index + 1
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        default:
            hex.withUTF8Buffer { digits in
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
            }
        }
    }
    bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: value[clean...]))
    bytes.append(UInt8(ascii: "\""))
}

public enum HTTPStatus {
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }

    /// Whether a response with this status carries no body (RFC 9110 §6.4.1).
    static func forbidsBody(_ status: Int) -> Bool {
        status < 200 || status == 204 || status == 304
    }
}
