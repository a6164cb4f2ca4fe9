import JSON
/// The slice of RFC 3986 that `$id` and `$ref` need: split a URI reference into its five
/// components and resolve it against a base (§5.2). No normalisation beyond dot segments:
/// schemas in the wild spell their `$id`s consistently, and guessing at equivalence (case,
/// default ports) could make a `$ref` land on the wrong resource. For the same reason the
/// delimiters are found among Unicode scalars, not Swift Characters: `#`, `/` or `.` followed
/// by a combining mark is one Character, and must still split the reference.
struct SchemaURI: Sendable {
    var scheme: String?
    var authority: String?
    var path: String
    var query: String?
    var fragment: String?

    /// RFC 3986 Appendix B: every string splits into components; only the scheme is checked,
    /// because a scheme-looking prefix with bad characters is really a relative path.
    init(parsing text: String) {
        var rest = Substring(text).unicodeScalars
        if let hash = rest.firstIndex(of: "#") {
            fragment = Self.string(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            query = Self.string(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        if let colon = rest.firstIndex(of: ":"), Self.isScheme(rest[..<colon]) {
            scheme = Self.string(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        if rest.starts(with: "//".unicodeScalars) {
            let afterSlashes = rest.dropFirst(2)
            let end = afterSlashes.firstIndex(of: "/") ?? afterSlashes.endIndex
            authority = Self.string(afterSlashes[..<end])
            rest = afterSlashes[end...]
        }
        path = Self.string(rest)
    }

    private static func string(_ scalars: Substring.UnicodeScalarView) -> String {
        String(Substring(scalars))
    }

    private init(scheme: String?, authority: String?, path: String, query: String?, fragment: String?) {
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.query = query
        self.fragment = fragment
    }

    private static func isScheme(_ text: Substring.UnicodeScalarView) -> Bool {
        guard let first = text.first, first.isASCIILetter else { return false }
        return text.allSatisfy {
            $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "+" || $0 == "-" || $0 == "."
        }
    }

    /// RFC 3986 §5.3 recomposition.
    var text: String {
        var result = ""
        if let scheme { result += scheme + ":" }
        if let authority { result += "//" + authority }
        result += path
        if let query { result += "?" + query }
        if let fragment { result += "#" + fragment }
        return result
    }

    /// The URI of the document or resource, which is what `$id` names and `$ref` looks up.
    var withoutFragment: SchemaURI {
        var copy = self
        copy.fragment = nil
        return copy
    }

    /// RFC 3986 §5.2.2, strict: a reference with a scheme is taken as absolute.
    func resolved(against base: SchemaURI) -> SchemaURI {
        if scheme != nil {
            return SchemaURI(scheme: scheme, authority: authority, path: Self.removingDotSegments(path),
                             query: query, fragment: fragment)
        }
        if authority != nil {
            return SchemaURI(scheme: base.scheme, authority: authority, path: Self.removingDotSegments(path),
                             query: query, fragment: fragment)
        }
        if path.isEmpty {
            return SchemaURI(scheme: base.scheme, authority: base.authority, path: base.path,
                             query: query ?? base.query, fragment: fragment)
        }
        let merged = path.unicodeScalars.first == "/" ? path : Self.merge(base: base, relativePath: path)
        return SchemaURI(scheme: base.scheme, authority: base.authority, path: Self.removingDotSegments(merged),
                         query: query, fragment: fragment)
    }

    /// RFC 3986 §5.2.3.
    private static func merge(base: SchemaURI, relativePath: String) -> String {
        if base.authority != nil && base.path.isEmpty { return "/" + relativePath }
        let scalars = base.path.unicodeScalars
        guard let slash = scalars.lastIndex(of: "/") else { return relativePath }
        return string(Substring(base.path).unicodeScalars[...slash]) + relativePath
    }

    /// RFC 3986 §5.2.4, written over segments rather than the spec's string buffer.
    private static func removingDotSegments(_ path: String) -> String {
        let scalars = Substring(path).unicodeScalars
        guard scalars.contains(".") else { return path }
        let absolute = scalars.first == "/"
        var output: [String] = []
        let segments = scalars.split(separator: "/", omittingEmptySubsequences: false).dropFirst(absolute ? 1 : 0)
        var endsInDirectory = false
        for segment in segments {
            endsInDirectory = false
            if segment.elementsEqual(".".unicodeScalars) {
                endsInDirectory = true
            } else if segment.elementsEqual("..".unicodeScalars) {
                if !output.isEmpty { output.removeLast() }
                endsInDirectory = true
            } else {
                output.append(string(segment))
            }
        }
        var result = (absolute ? "/" : "") + output.joined(separator: "/")
        if endsInDirectory && result.unicodeScalars.last != "/" { result += "/" }
        return result
    }

    /// Decodes `%XX` escapes (a `$ref` fragment is URI-encoded before it is a JSON Pointer, so
    /// `#/$defs/a%25b` names the key `a%b`). Nil when an escape is malformed or the bytes are
    /// not UTF-8.
    static func percentDecoded(_ text: String) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

private extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
