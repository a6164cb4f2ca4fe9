import Foundation
import Synchronization

/// A `pattern` or `patternProperties` regex, compiled when the schema is.
struct SchemaPattern: Sendable {
    let source: String
    /// NSRegularExpression is immutable and safe to match from many threads at once, which is
    /// also what lets every schema naming the same pattern share one.
    let regex: NSRegularExpression

    /// ECMA-262 semantics are an unanchored search (2020-12 validation §6.3.3); ICU's syntax
    /// is close enough to ECMA-262 for the patterns schemas use (`\p{Letter}` included).
    func matches(_ string: String) -> Bool {
        let range = NSRange(location: 0, length: string.utf16.count)
        return regex.firstMatch(in: string, options: [], range: range) != nil
    }

    /// The pattern `source`, or nil when the regex engine refuses it. Each distinct pattern is
    /// compiled once per process: on Linux, Foundation's NSRegularExpression leaks memory on
    /// every compilation of a pattern longer than 256 UTF-16 units (about 600 bytes each,
    /// measured), and the gateway compiles every schema again whenever an event type is
    /// registered or the journal is replayed, so the same long pattern would leak each time.
    static func compiled(_ source: String) -> SchemaPattern? {
        let key = CodePointKey(source)
        if let known = cache.withLock({ $0.outcomes[key] }) {
            return known.map { SchemaPattern(source: source, regex: $0) }
        }
        // Compiled outside the lock: a long pattern may take a while, and other schemas'
        // patterns need not wait for it.
        let regex = try? NSRegularExpression(pattern: icuPattern(source))
        let shared = cache.withLock { state -> NSRegularExpression? in
            // Another thread may have compiled the same pattern meanwhile; keep the first.
            if let known = state.outcomes[key] { return known }
            state.remember(key, regex)
            return regex
        }
        return shared.map { SchemaPattern(source: source, regex: $0) }
    }

    /// `source` with ECMA-262's meaning of `$` in ICU's syntax. Without the multiline flag
    /// (JSON Schema never sets it) ECMA-262's `$` matches only at the end of the string; ICU's
    /// also matches before a final line terminator, so `^[0-9]+$` would accept "42\n". Every
    /// `$` that is an anchor (not escaped, not inside a character class) becomes `\z`, ICU's
    /// end of input. Classes are tracked as ICU reads them, where `[` inside one opens a
    /// nested set.
    static func icuPattern(_ source: String) -> String {
        guard source.unicodeScalars.contains("$") else { return source }
        var result = String.UnicodeScalarView()
        var scalars = source.unicodeScalars.makeIterator()
        var classDepth = 0
        while let scalar = scalars.next() {
            switch scalar {
            case "\\":
                result.append(scalar)
                if let escaped = scalars.next() { result.append(escaped) }
            case "[":
                classDepth += 1
                result.append(scalar)
            case "]" where classDepth > 0:
                classDepth -= 1
                result.append(scalar)
            case "$" where classDepth == 0:
                result.append(contentsOf: "\\z".unicodeScalars)
            default:
                result.append(scalar)
            }
        }
        return String(result)
    }

    /// Patterns beyond this many are compiled without being cached (as before the cache
    /// existed). A gateway's event types name a few dozen patterns; a thousand leaves room for
    /// many versions of each, while keeping a stream of distinct patterns from growing the
    /// cache without end, since nothing is ever evicted (a schema being replaced may still be
    /// validating an event with the old regex).
    static let maximumCachedPatterns = 1_024
    /// The same for the patterns' total UTF-8 size, so a few huge patterns cannot pin much
    /// memory either: 1 MiB, a thousand times a long pattern.
    static let maximumCachedBytes = 1 << 20

    /// Keyed by code points, like everything else that compares schema strings: "caf\u{E9}"
    /// and "cafe\u{301}" are different patterns (ICU matches code points, not canonical
    /// equivalents), and must not share a regex.
    private static let cache = Mutex(Cache())

    private struct Cache {
        /// nil for a pattern the engine refused: refusing it again need not compile it again.
        var outcomes: [CodePointKey: NSRegularExpression?] = [:]
        var bytes = 0

        mutating func remember(_ key: CodePointKey, _ regex: NSRegularExpression?) {
            let size = key.string.utf8.count
            guard outcomes.count < SchemaPattern.maximumCachedPatterns,
                  bytes + size <= SchemaPattern.maximumCachedBytes else { return }
            outcomes[key] = .some(regex)
            bytes += size
        }
    }
}
