import CCurl

/// Process-wide libcurl setup. `curl_global_init` is not thread-safe and must run once
/// before any handle exists; a Swift `static let` gives exactly that.
public enum Libcurl {
    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// Initialises libcurl once; false if it could not be (then no transfer can run).
    @discardableResult
    public static func initialize() -> Bool { initialized }

    /// libcurl's version string, e.g. `libcurl/7.88.1 OpenSSL/3.0.17 ...`.
    public static var version: String {
        guard let text = curl_version() else { return "unknown" }
        return String(decoding: UnsafeBufferPointer(start: text, count: strlen(text)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An error from libcurl, with its code and message.
public struct CurlError: Error, CustomStringConvertible, Sendable {
    public let code: Int
    public let message: String
    public var description: String { "libcurl error \(code): \(message)" }

    init(_ code: CURLcode) {
        self.code = Int(code.rawValue)
        if let text = curl_easy_strerror(code) {
            message = String(decoding: UnsafeBufferPointer(start: text, count: strlen(text)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } else {
            message = "unknown"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
