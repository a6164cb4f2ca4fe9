/// A subscriber URL that passed `TargetAddressPolicy.validateURL`: http or https, a host,
/// a valid port, no credentials, no fragment; scheme and host lowercased.
///
/// Parsed here, strictly, rather than by a general URL parser: what matters for SSRF is that
/// the host we judge is the host libcurl connects to, and lenient parsers disagree about
/// inputs like `http://a\@b/`, `http://0x7f.1/` or `http://[::1%25eth0]/`. Anything such a
/// disagreement could hide in is refused instead of interpreted.
public struct TargetURL: Sendable, Equatable, CustomStringConvertible {
    /// Longer URLs are refused: a subscriber URL is stored with every subscription and sent on
    /// every attempt, and nothing legitimate needs more.
    public static let maximumLength = 2048

    /// `http` or `https`.
    public let scheme: String
    /// Lowercased; an IPv6 literal without its brackets.
    public let host: String
    /// The explicit port, or 80/443 by scheme.
    public let port: UInt16
    /// Everything after the authority, at least `/`; query included, as given.
    public let pathAndQuery: String
    /// The address, when the host is an IP literal (no resolution needed).
    public let literalAddress: IPAddress?

    public var isHTTPS: Bool { scheme == "https" }

    /// The URL to hand to libcurl: normalised, default port left out.
    public var description: String {
        let shownHost = literalAddress.map { if case .v6 = $0 { "[\($0)]" } else { "\($0)" } } ?? host
        let defaultPort: UInt16 = isHTTPS ? 443 : 80
        return "\(scheme)://\(shownHost)\(port == defaultPort ? "" : ":\(port)")\(pathAndQuery)"
    }
}

extension TargetAddressPolicy {
    /// Checks a subscriber URL's syntax and, when its host is an IP literal, that address.
    /// Names are not resolved here (no I/O): `resolveAndCheck(host:port:)` does that.
    public func validateURL(_ text: String) -> Result<TargetURL, Refusal> {
        let parsed = TargetURLParser.parse(text)
        guard case .success(let url) = parsed else { return parsed }
        if let address = url.literalAddress, let refusal = check(host: url.host, addresses: [address]) {
            return .failure(refusal)
        }
        return .success(url)
    }
}

/// RFC 3986 §3 `scheme "://" authority path-abempty [ "?" query ]`, restricted as above.
enum TargetURLParser {
    static func parse(_ text: String) -> Result<TargetURL, Refusal> {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return fail("the URL is empty") }
        guard bytes.count <= TargetURL.maximumLength else {
            return fail("the URL is \(bytes.count) bytes long; at most \(TargetURL.maximumLength) are allowed")
        }
        if let offset = firstInvalidCharacter(bytes) {
            return fail("the URL has \(describeByte(bytes[offset])) at offset \(offset), which is not allowed in a URL; "
                + "percent-encode it (spaces, quotes, '<>\\^`{|}', control and non-ASCII characters must be encoded)")
        }
        if let hash = bytes.firstIndex(of: UInt8(ascii: "#")) {
            return fail("the URL has a fragment (from offset \(hash)); fragments are never sent to the server, so remove it")
        }

        // Scheme (§3.1): ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              isAlpha(bytes[0]), bytes[..<colon].allSatisfy({ isAlpha($0) || isDigit($0) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E }) else {
            return fail("the URL has no scheme; it must start with https:// or http://")
        }
        let scheme = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        guard scheme == "http" || scheme == "https" else {
            return fail("only http and https URLs can receive webhooks, not '\(scheme)'")
        }
        guard bytes[(colon + 1)...].starts(with: "//".utf8) else {
            return fail("the URL has no host; it must look like \(scheme)://host/path")
        }

        // Authority (§3.2) runs to the first '/' or '?'.
        let authorityStart = colon + 3
        let authorityEnd = bytes[authorityStart...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? bytes.count
        let authority = bytes[authorityStart..<authorityEnd]
        if authority.contains(UInt8(ascii: "@")) {
            return fail("the URL carries credentials ('user:password@'), which are not allowed: they would be stored and "
                + "shown with the subscription; send them as a header of the subscription instead")
        }

        var hostBytes: ArraySlice<UInt8>
        var portBytes: ArraySlice<UInt8>?
        var literal: IPAddress?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                return fail("the URL's IPv6 address has no closing ']'")
            }
            hostBytes = authority[(authority.startIndex + 1)..<close]
            let rest = authority[(close + 1)...]
            if !rest.isEmpty {
                guard rest.first == UInt8(ascii: ":") else { return fail("the URL has characters after ']' that are not ':port'") }
                portBytes = rest.dropFirst()
            }
            let inside = String(decoding: hostBytes, as: UTF8.self)
            if hostBytes.contains(UInt8(ascii: "%")) {
                return fail("the URL's IPv6 address '\(inside)' has a zone ('%...'), which is not allowed: a zone names a local interface")
            }
            guard let address = IPAddress(inside), case .v6 = address else {
                return fail("'\(inside)' in brackets is not an IPv6 address")
            }
            literal = address
        } else {
            let colons = authority.indices.filter { authority[$0] == UInt8(ascii: ":") }
            guard colons.count <= 1 else {
                return fail("the URL's host has more than one ':'; an IPv6 address must be written in brackets, like http://[2001:db8::1]/")
            }
            if let portColon = colons.first {
                hostBytes = authority[..<portColon]
                portBytes = authority[(portColon + 1)...]
            } else {
                hostBytes = authority
            }
        }
        guard !hostBytes.isEmpty else { return fail("the URL has no host; it must look like \(scheme)://host/path") }

        let host: String
        if let literal {
            host = "\(literal)"
        } else {
            switch validateHostName(hostBytes) {
            case .failure(let refusal): return .failure(refusal)
            case .success(let name): host = name
            }
            literal = IPAddress(host)
        }

        var port: UInt16 = scheme == "https" ? 443 : 80
        if let portBytes {
            let shown = String(decoding: portBytes, as: UTF8.self)
            guard !portBytes.isEmpty else { return fail("the URL has ':' after the host but no port number") }
            guard portBytes.count <= 5, portBytes.allSatisfy(isDigit), let value = Int(shown), (1...65535).contains(value) else {
                return fail("the URL's port '\(shown)' is not a number from 1 to 65535")
            }
            port = UInt16(value)
        }

        var pathAndQuery = String(decoding: bytes[authorityEnd...], as: UTF8.self)
        if !pathAndQuery.hasPrefix("/") { pathAndQuery = "/" + pathAndQuery }
        return .success(TargetURL(scheme: scheme, host: host, port: port, pathAndQuery: pathAndQuery, literalAddress: literal))
    }

    /// A DNS name (letters, digits, '-', '_', dots between non-empty labels, an optional
    /// final dot) or a dotted-quad IPv4 address, lowercased.
    private static func validateHostName(_ bytes: ArraySlice<UInt8>) -> Result<String, Refusal> {
        let shown = String(decoding: bytes, as: UTF8.self)
        if bytes.contains(UInt8(ascii: "%")) {
            return fail("the URL's host '\(shown)' is percent-encoded, which is not allowed; write the name plainly "
                + "(internationalised names in their xn-- form)")
        }
        guard bytes.allSatisfy({ isAlpha($0) || isDigit($0) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F }) else {
            return fail("the URL's host '\(shown)' has a character that cannot be in a host name (letters, digits, '-', '_' and '.')")
        }
        let name = shown.lowercased()
        guard name.utf8.count <= 253 else { return fail("the URL's host is longer than the 253 characters a DNS name may have") }
        var labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count > 1, labels.last?.isEmpty == true { labels.removeLast() }  // "example.com." is fully qualified
        if labels.contains(where: \.isEmpty) {
            return fail("the URL's host '\(shown)' has an empty label (a leading or doubled '.')")
        }
        if labels.contains(where: { $0.utf8.count > 63 }) {
            return fail("the URL's host '\(shown)' has a label longer than 63 characters")
        }
        // WHATWG URL parsing, curl and inet_aton read hosts like `2130706433`, `0x7f.1` or
        // `127.1` as IPv4 addresses; other code reads them as names. Only the one
        // unambiguous form is accepted: a final label that looks numeric must belong to a
        // dotted-quad address.
        if let last = labels.last, last.allSatisfy({ $0.isASCII && $0.isHexDigit }) || last.hasPrefix("0x"),
           last.first?.isNumber == true, IPAddress(name) == nil {
            return fail("the URL's host '\(shown)' looks like a numeric IPv4 address but is not in dotted-decimal form "
                + "(a.b.c.d, no leading zeros); write the address that way")
        }
        return .success(name)
    }

    /// RFC 3986 §2: unreserved, reserved and '%' HEXDIG HEXDIG; the first offset that is not.
    private static func firstInvalidCharacter(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, isHex(bytes[index + 1]), isHex(bytes[index + 2]) else { return index }
                index += 3
                continue
            }
            guard isAlpha(byte) || isDigit(byte) || allowedPunctuation.contains(byte) else { return index }
            index += 1
        }
        return nil
    }

    private static let allowedPunctuation = Set("-._~:/?#[]@!$&'()*+,;=".utf8)

    private static func describeByte(_ byte: UInt8) -> String {
        if byte == 0x20 { return "a space" }
        if byte > 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return byte >= 0x80 ? "a non-ASCII character" : "a control character"
    }

    private static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func isHex(_ byte: UInt8) -> Bool { isDigit(byte) || ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "f")) }

    private static func fail<T>(_ message: String) -> Result<T, Refusal> {
        .failure(Refusal(kind: .invalidURL, message: message))
    }
}
