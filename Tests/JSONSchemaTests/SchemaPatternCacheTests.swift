import TestSupport
import JSON
@testable import JSONSchema
import Testing

/// `pattern` and `patternProperties` regexes are compiled once per process and shared, because
/// NSRegularExpression on Linux leaks memory on each compilation of a long pattern.
@Suite("JSON Schema pattern cache")
struct SchemaPatternCacheTests {
    /// Over 256 UTF-16 units, the length from which compiling leaks. The prefix keeps it apart
    /// from every other test's patterns, which share the process-wide cache.
    static let longPattern = "^pattern-cache-test-(" + (0..<60).map { "item\($0)" }.joined(separator: "|") + ")$"

    @Test func aLongPatternIsCompiledOnce() throws {
        #expect(Self.longPattern.utf16.count > 256)
        let first = try #require(SchemaPattern.compiled(Self.longPattern))
        let second = try #require(SchemaPattern.compiled(Self.longPattern))
        #expect(first.regex === second.regex)
        #expect(first.source == Self.longPattern)
        #expect(first.matches("pattern-cache-test-item59"))
        #expect(!first.matches("pattern-cache-test-item60"))
    }

    @Test func schemasSharingAPatternValidateAsBefore() throws {
        // Registered twice, as replaying the journal does; both use the one compiled regex.
        for _ in 0..<2 {
            let schema = try JSONSchema([
                "properties": ["code": ["pattern": .string(Self.longPattern)]],
                "patternProperties": [.init(stringLiteral: Self.longPattern): ["type": "integer"]],
            ])
            #expect(schema.isValid(["code": "pattern-cache-test-item7", "pattern-cache-test-item8": 8]))
            #expect(schema.validate(["code": "item7", "pattern-cache-test-item8": "eight"]).map(\.keyword) == ["pattern", "type"])
        }
    }

    @Test func refusedPatternsStayRefused() {
        // The refusal is remembered too, and still reported as before.
        for _ in 0..<2 {
            #expect(SchemaPattern.compiled("(unclosed-pattern-cache-test") == nil)
            #expect(throws: SchemaError.self) { try JSONSchema(["pattern": "(unclosed-pattern-cache-test"]) }
        }
    }

    @Test func patternsDifferingOnlyInNormalisationAreTwoPatterns() throws {
        let composed = try #require(SchemaPattern.compiled("^caf\u{e9}$"))
        let decomposed = try #require(SchemaPattern.compiled("^cafe\u{301}$"))
        #expect(composed.regex !== decomposed.regex)
        #expect(composed.matches("caf\u{e9}") && !composed.matches("cafe\u{301}"))
        #expect(decomposed.matches("cafe\u{301}") && !decomposed.matches("caf\u{e9}"))
    }
}
