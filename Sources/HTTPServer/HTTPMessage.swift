/// An HTTP method token. Any valid token is accepted; the router decides what it serves.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let get = HTTPMethod(rawValue: "GET")
    public static let head = HTTPMethod(rawValue: "HEAD")
    public static let post = HTTPMethod(rawValue: "POST")
    public static let put = HTTPMethod(rawValue: "PUT")
    public static let patch = HTTPMethod(rawValue: "PATCH")
    public static let delete = HTTPMethod(rawValue: "DELETE")
    public static let options = HTTPMethod(rawValue: "OPTIONS")

    /// The common methods come back as the shared constants, without building a string.
    init(bytes: UnsafeBufferPointer<UInt8>) {
        switch bytes.count {
        case 3 where bytes[0] == UInt8(ascii: "G") && bytes[1] == UInt8(ascii: "E") && bytes[2] == UInt8(ascii: "T"):
            self = .get
        case 3 where bytes[0] == UInt8(ascii: "P") && bytes[1] == UInt8(ascii: "U") && bytes[2] == UInt8(ascii: "T"):
            self = .put
        case 4 where bytes[0] == UInt8(ascii: "P") && bytes[1] == UInt8(ascii: "O") && bytes[2] == UInt8(ascii: "S") && bytes[3] == UInt8(ascii: "T"):
            self = .post
        default:
            self.init(rawValue: String(decoding: bytes, as: UTF8.self))
        }
    }
}

public enum HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    case http1_0
    case http1_1

    public var description: String {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        }
    }
}

/// A complete request: head and the whole body, de-chunked.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request-target exactly as sent (origin-form: path and optional query).
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Fields sent after a chunked body (RFC 9112 §7.1.2); empty otherwise.
    public var trailers: HTTPHeaders
    /// Values bound by the route template, e.g. `id` for `/v1/subscriptions/{id}`.
    public var pathParameters: [String: String] = [:]
    /// The `Connection` options, read once when the head was parsed.
    let connection: ConnectionOptions

    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], trailers: HTTPHeaders = HTTPHeaders()
    ) {
        var connection = ConnectionOptions()
        for value in headers.values(of: "connection") { connection.note(value) }
        self.init(method: method, target: target, version: version, headers: headers, body: body,
                  trailers: trailers, connection: connection)
    }

    init(
        method: HTTPMethod, target: String, version: HTTPVersion, headers: HTTPHeaders,
        body: [UInt8], trailers: HTTPHeaders, connection: ConnectionOptions
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.trailers = trailers
        self.connection = connection
    }

    /// The path part of the target, without the query.
    public var path: Substring {
        if let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            return target[..<question]
        }
        return target[...]
    }

    /// The raw query string after `?`, if any.
    public var query: Substring? {
        guard let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        return target[target.index(after: question)...]
    }

    /// Query parameters, percent- and `+`-decoded, in order. Undecodable items are skipped.
    public var queryItems: [(name: String, value: String)] {
        guard let query else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(parts[0], plusAsSpace: true) else { return nil }
            let value = parts.count > 1 ? percentDecode(parts[1], plusAsSpace: true) : ""
            guard let value else { return nil }
            return (name, value)
        }
    }

    /// The first value of the query parameter `name`.
    public func queryValue(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// Whether the client asked to keep the connection open (RFC 9112 §9.3).
    public var wantsKeepAlive: Bool {
        switch version {
        case .http1_1: !connection.close
        case .http1_0: connection.keepAlive && !connection.close
        }
    }
}

/// The tokens of `Connection` fields that matter to persistence (RFC 9112 §9.3).
struct ConnectionOptions: Sendable {
    var close = false
    var keepAlive = false

    mutating func note(_ value: String) {
        for token in value.split(separator: ",") {
            let option = token.trimmingOWS()
            if asciiCaseInsensitiveEquals(option, "close") { close = true }
            if asciiCaseInsensitiveEquals(option, "keep-alive") { keepAlive = true }
        }
    }
}

/// A response to send. `Content-Length`, `Date` and `Connection` are written by the server.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Decodes `%XX` escapes (and `+` as space when asked); `nil` for a bad escape or invalid UTF-8.
public func percentDecode<S: StringProtocol>(_ text: S, plusAsSpace: Bool = false) -> String? {
    let utf8 = text.utf8
    guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
        return String(text)
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(utf8.count)
    var iterator = utf8.makeIterator()
    while let byte = iterator.next() {
        switch byte {
        case UInt8(ascii: "%"):
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        case UInt8(ascii: "+") where plusAsSpace:
            bytes.append(UInt8(ascii: " "))
        default:
            bytes.append(byte)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}

@inline(__always)
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
