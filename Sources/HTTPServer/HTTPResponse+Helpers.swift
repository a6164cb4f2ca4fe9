import JSON

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
