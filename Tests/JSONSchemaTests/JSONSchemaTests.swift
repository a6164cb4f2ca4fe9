import TestSupport
import JSON
import JSONSchema
import Testing

@Suite("JSON Schema")
struct JSONSchemaTests {
    // MARK: Violations

    @Test func reportsEveryViolationWithItsPointer() throws {
        let schema = try JSONSchema([
            "type": "object",
            "required": ["id", "amount"],
            "properties": [
                "amount": ["type": "number", "minimum": 0],
                "tags": ["type": "array", "items": ["type": "string", "maxLength": 3]],
                "a/b~c": ["type": "integer"],
                "customer": [
                    "type": "object",
                    "properties": ["email": ["type": "string", "pattern": "@"]],
                    "additionalProperties": false,
                ],
            ],
        ])
        let instance: JSONValue = [
            "amount": -5,
            "tags": ["ok", 7, "toolong"],
            "a/b~c": 1.5,
            "customer": ["email": "nope", "extra": true],
        ]
        #expect(schema.validate(instance) == [
            SchemaViolation(instancePath: "", keyword: "required", message: "missing required property \"id\""),
            SchemaViolation(instancePath: "/amount", keyword: "minimum", message: "must be >= 0, got -5"),
            SchemaViolation(instancePath: "/tags/1", keyword: "type", message: "must be string, got number 7"),
            SchemaViolation(instancePath: "/tags/2", keyword: "maxLength", message: "must be at most 3 characters long, got 7"),
            SchemaViolation(instancePath: "/a~1b~0c", keyword: "type", message: "must be integer, got number 1.5"),
            SchemaViolation(instancePath: "/customer/email", keyword: "pattern", message: "must match pattern \"@\", got \"nope\""),
            SchemaViolation(instancePath: "/customer/extra", keyword: "additionalProperties", message: "property \"extra\" is not allowed"),
        ])
        #expect(!schema.isValid(instance))
        #expect(schema.validate(["id": "x", "amount": 3, "tags": ["a"], "customer": ["email": "a@b"]]) == [])
    }

    @Test func reportsSeveralViolationsOfOneValue() throws {
        let schema = try JSONSchema(["type": "number", "maximum": 10, "multipleOf": 4, "enum": [4, 8]])
        #expect(schema.validate(12) == [
            SchemaViolation(instancePath: "", keyword: "enum", message: "must be one of [4,8], got 12"),
            SchemaViolation(instancePath: "", keyword: "maximum", message: "must be <= 10, got 12"),
        ])
        #expect(schema.validate(7).map(\.keyword) == ["enum", "multipleOf"])
    }

    @Test func pointsIntoNestedArraysAndPrefixItems() throws {
        let schema = try JSONSchema([
            "type": "array",
            "prefixItems": [["type": "string"], ["type": "array", "items": ["minimum": 1]]],
            "items": false,
        ])
        #expect(schema.validate([1, [1, 0, 2, -1], "extra"]) == [
            SchemaViolation(instancePath: "/0", keyword: "type", message: "must be string, got number 1"),
            SchemaViolation(instancePath: "/1/1", keyword: "minimum", message: "must be >= 1, got 0"),
            SchemaViolation(instancePath: "/1/3", keyword: "minimum", message: "must be >= 1, got -1"),
            SchemaViolation(instancePath: "/2", keyword: "items",
                            message: "item 2 is not allowed, the array may hold at most 2 items"),
        ])
    }

    @Test func describesCompositionFailures() throws {
        let oneOf = try JSONSchema(["oneOf": [["type": "integer"], ["minimum": 0]]])
        #expect(oneOf.validate(3) == [SchemaViolation(instancePath: "", keyword: "oneOf",
            message: "must match exactly one schema in oneOf, matched 2 (schemas 0, 1)")])
        #expect(oneOf.validate(-1.5) == [SchemaViolation(instancePath: "", keyword: "oneOf",
            message: "must match exactly one schema in oneOf, matched none of 2")])

        let anyOf = try JSONSchema(["anyOf": [["type": "string"], ["type": "null"]]])
        #expect(anyOf.validate(1).map(\.message) == ["must match at least one schema in anyOf, matched none of 2"])

        let not = try JSONSchema(["not": ["const": "forbidden"]])
        #expect(not.validate("forbidden").map(\.message) == ["must not match the schema in not"])

        // `then` and `else` report their own violations, at their own paths.
        let conditional = try JSONSchema([
            "if": ["properties": ["kind": ["const": "card"]]],
            "then": ["required": ["last4"]],
            "else": ["properties": ["iban": ["type": "string"]]],
        ])
        #expect(conditional.validate(["kind": "card"]) == [
            SchemaViolation(instancePath: "", keyword: "required", message: "missing required property \"last4\""),
        ])
        #expect(conditional.validate(["kind": "sepa", "iban": 5]) == [
            SchemaViolation(instancePath: "/iban", keyword: "type", message: "must be string, got number 5"),
        ])
    }

    @Test func describesObjectAndArrayKeywords() throws {
        let schema = try JSONSchema([
            "minProperties": 3,
            "propertyNames": ["pattern": "^[a-z]+$"],
            "dependentRequired": ["card": ["cvc"]],
            "properties": ["list": ["uniqueItems": true, "contains": ["type": "string"], "maxItems": 3]],
        ])
        #expect(schema.validate(["card": 1, "Bad": 2, "list": [["a": 1, "b": 2], 1, ["b": 2, "a": 1], 3]]) == [
            SchemaViolation(instancePath: "", keyword: "dependentRequired",
                            message: "missing property \"cvc\", required when \"card\" is present"),
            SchemaViolation(instancePath: "", keyword: "propertyNames",
                            message: "property name \"Bad\" is invalid: must match pattern \"^[a-z]+$\", got \"Bad\""),
            SchemaViolation(instancePath: "/list", keyword: "maxItems", message: "must have at most 3 items, got 4"),
            SchemaViolation(instancePath: "/list", keyword: "uniqueItems", message: "items must be unique, but item 2 equals item 0"),
            SchemaViolation(instancePath: "/list", keyword: "contains",
                            message: "must contain at least 1 item matching the contains schema, got 0"),
        ])
        #expect(schema.validate([:]).map(\.message) == ["must have at least 3 properties, got 0"])
    }

    @Test func unevaluatedPropertiesSeesThroughInPlaceApplicators() throws {
        let schema = try JSONSchema([
            "$defs": ["base": ["properties": ["id": ["type": "string"]]]],
            "$ref": "#/$defs/base",
            "anyOf": [["properties": ["a": true]], ["properties": ["b": true]]],
            "unevaluatedProperties": false,
        ])
        #expect(schema.validate(["id": "1", "a": 1, "b": 2]) == [])
        #expect(schema.validate(["id": "1", "a": 1, "c": 3, "d~": 4]) == [
            SchemaViolation(instancePath: "/c", keyword: "unevaluatedProperties",
                            message: "property \"c\" is not allowed (no other keyword accepts it)"),
            SchemaViolation(instancePath: "/d~0", keyword: "unevaluatedProperties",
                            message: "property \"d~\" is not allowed (no other keyword accepts it)"),
        ])
    }

    @Test func isValidAgreesWithValidate() throws {
        let schema = try JSONSchema(["items": ["anyOf": [["type": "integer"], ["type": "string", "minLength": 2]]]])
        for instance: JSONValue in [[1, "ab"], [1.5], ["a"], [], "not an array", [true]] {
            #expect(schema.isValid(instance) == schema.validate(instance).isEmpty, "\(instance)")
        }
    }

    @Test func falseSchemaRejectsEverything() throws {
        let schema = try JSONSchema(false)
        #expect(schema.validate(.null) == [SchemaViolation(instancePath: "", keyword: "false",
                                                           message: "no value is allowed here (the schema is false)")])
        #expect(try JSONSchema(true).validate(["anything": [1, 2]]) == [])
    }

    // MARK: Values that are easy to get wrong

    @Test func lengthsCountCodePoints() throws {
        let schema = try JSONSchema(["minLength": 2, "maxLength": 2])
        #expect(schema.isValid("ab"))
        #expect(!schema.isValid("💩"), "one code point, two UTF-16 units, four bytes")
        #expect(schema.isValid("e\u{301}x") == false, "three code points even if two characters")
        #expect(schema.isValid("e\u{301}"), "two code points, one grapheme")
        #expect(schema.validate("💩") == [SchemaViolation(instancePath: "", keyword: "minLength",
                                                         message: "must be at least 2 characters long, got 1")])
    }

    @Test func multipleOfToleratesBinaryFloatingPoint() throws {
        let cents = try JSONSchema(["multipleOf": 0.01])
        #expect(cents.isValid(19.99))
        #expect(cents.isValid(0.07))
        #expect(!cents.isValid(0.075))
        let small = try JSONSchema(["multipleOf": 0.0001])
        #expect(small.isValid(0.0075))
        #expect(!small.isValid(0.00751))
        #expect(small.validate(0.00751).map(\.message) == ["must be a multiple of 0.0001, got 0.00751"])
        let integer = try JSONSchema(["multipleOf": 2])
        #expect(!integer.isValid(.number(1e15 + 1)))
        #expect(integer.isValid(.number(1e15 + 2)))
        #expect(!integer.isValid(10_000_000_000.5))
        #expect(try JSONSchema(["multipleOf": 0.1]).isValid(0.3))
        #expect(try JSONSchema(["multipleOf": 1e-8]).isValid(1e-7))
        #expect(try JSONSchema(["multipleOf": 1e-8]).isValid(12_391_239_123))
        #expect(try !JSONSchema(["multipleOf": 0.123456789]).isValid(1e308), "the quotient overflows")
        let half = try JSONSchema(["multipleOf": 0.5])
        #expect(half.isValid(.number(2e14 + 0.5)))
        #expect(!half.isValid(.number(1e14 + 0.25)), "a quotient tolerance would accept this")
        #expect(try !JSONSchema(["multipleOf": 1e300]).isValid(1e-300))
        #expect(try JSONSchema(["multipleOf": 1e-300]).isValid(1e300))
    }

    @Test func stringEqualityIsByCodePoint() throws {
        let schema = try JSONSchema(["const": "\u{e9}"])
        #expect(schema.isValid("\u{e9}"))
        #expect(!schema.isValid("e\u{301}"), "canonically equivalent but different code points")
        #expect(try JSONSchema(["required": ["\u{e9}"]]).validate(["e\u{301}": 1]).map(\.keyword) == ["required"])
    }

    // "café" spelled with U+00E9 (NFC) and with e + U+0301 (NFD): canonically equivalent, so
    // one String to Swift's `==`, but two different JSON member names.
    private static let composed = "caf\u{e9}"
    private static let decomposed = "cafe\u{301}"

    /// An object with these members, in this order (a dictionary literal cannot hold both
    /// spellings of one name: to Swift they are one key).
    private static func object(_ members: (String, JSONValue)...) -> JSONValue {
        .object(members.map { (key: $0.0, value: $0.1) })
    }

    @Test func canonicallyEquivalentPropertyNamesKeepTheirOwnRules() throws {
        let (composed, decomposed) = (Self.composed, Self.decomposed)
        // Below and above the property table's scan limit (12 names), where it switches to a
        // dictionary.
        for fillers in [0, 20] {
            var properties: [(key: String, value: JSONValue)] = [(composed, ["type": "string"]), (decomposed, ["type": "integer"])]
            for index in 0..<fillers {
                properties.append(("p\(index)", ["type": "boolean"]))
            }
            let schema = try JSONSchema(["properties": .object(properties), "required": [.string(decomposed)]])
            #expect(schema.isValid(Self.object((composed, "x"), (decomposed, 1))), "\(fillers) fillers")
            #expect(schema.isValid(Self.object((decomposed, 2))), "\(fillers) fillers")
            let violations = schema.validate(Self.object((composed, 1), (decomposed, "x")))
            // SchemaViolation's `==` compares Strings, so compare the paths' bytes.
            #expect(violations.map { Array($0.instancePath.utf8) } == [Array("/\(composed)".utf8), Array("/\(decomposed)".utf8)],
                    "\(fillers) fillers")
            #expect(violations.map(\.message) == ["must be string, got number 1", "must be integer, got string \"x\""])
            // `required` names the NFD spelling, which the NFC member does not satisfy.
            let missing = schema.validate(Self.object((composed, "x")))
            #expect(missing.map(\.keyword) == ["required"], "\(fillers) fillers")
            #expect(missing.first.map { Array($0.message.utf8) } == Array("missing required property \"\(decomposed)\"".utf8))
        }
    }

    @Test func canonicallyEquivalentNamesStayDistinctInEveryKeyword() throws {
        let (composed, decomposed) = (Self.composed, Self.decomposed)
        // Both spellings in one `required` (or `dependentRequired`) list are two names, not a
        // duplicate.
        let required = try JSONSchema(["required": [.string(composed), .string(decomposed)]])
        #expect(!required.isValid(Self.object((composed, 1))))
        #expect(required.isValid(Self.object((composed, 1), (decomposed, 2))))
        let dependent = try JSONSchema(["dependentRequired": ["a": [.string(composed), .string(decomposed)]]])
        #expect(!dependent.isValid(Self.object(("a", 1), (decomposed, 2))))
        #expect(dependent.isValid(Self.object(("a", 1), (composed, 1), (decomposed, 2))))

        // Evaluating one spelling does not evaluate the other.
        let unevaluated = try JSONSchema(["properties": Self.object((composed, true)), "unevaluatedProperties": false])
        #expect(unevaluated.isValid(Self.object((composed, 1))))
        #expect(unevaluated.validate(Self.object((composed, 1), (decomposed, 2))).map { Array($0.instancePath.utf8) }
            == [Array("/\(decomposed)".utf8)])

        // `dependentSchemas` keyed by one spelling does not fire for the other.
        let dependentSchemas = try JSONSchema(["dependentSchemas": Self.object((decomposed, ["required": ["x"]]))])
        #expect(dependentSchemas.isValid(Self.object((composed, 1))))
        #expect(!dependentSchemas.isValid(Self.object((decomposed, 1))))

        // `$defs` entries and the `$ref`s that name them.
        let definitions = try JSONSchema([
            "$defs": Self.object((composed, ["type": "string"]), (decomposed, ["type": "integer"])),
            "properties": [
                "text": ["$ref": .string("#/$defs/\(composed)")],
                "number": ["$ref": .string("#/$defs/\(decomposed)")],
                "encoded": ["$ref": "#/$defs/cafe%CC%81"],
            ],
        ])
        #expect(definitions.isValid(["text": "x", "number": 1, "encoded": 2]))
        #expect(definitions.validate(["text": 1, "number": "x", "encoded": "y"]).map(\.instancePath) == ["/text", "/number", "/encoded"])

        // `$id`s that differ only in normalisation are two resources, not a duplicate.
        let resources = try JSONSchema([
            "$id": "https://example.com/root.json",
            "$defs": [
                "a": ["$id": .string("\(composed).json"), "type": "string"],
                "b": ["$id": .string("\(decomposed).json"), "type": "integer"],
            ],
            "properties": ["a": ["$ref": .string("\(composed).json")], "b": ["$ref": .string("\(decomposed).json")]],
        ])
        #expect(resources.isValid(["a": "x", "b": 1]))
        #expect(!resources.isValid(["a": 1]))
        #expect(!resources.isValid(["b": "x"]))
    }

    @Test func pointersWorkOnCodePointsNotCharacters() throws {
        // A token starting with a combining mark fuses with the `/` before it into one Swift
        // Character; pointers must still split there, and escape `~` and `/` before it.
        let schema = try JSONSchema([
            "$defs": [
                "\u{301}x": ["type": "integer"],
                "~\u{301}": ["type": "string"],
                "a/\u{301}": ["type": "boolean"],
            ],
            "properties": [
                "i": ["$ref": "#/$defs/\u{301}x"],
                "s": ["$ref": "#/$defs/~0\u{301}"],
                "b": ["$ref": "#/$defs/a~1\u{301}"],
                "~\u{301}": ["type": "null"],
            ],
        ])
        #expect(schema.isValid(["i": 1, "s": "x", "b": true, "~\u{301}": .null]))
        #expect(schema.validate(["i": "x", "s": 1, "b": 1]).map(\.instancePath) == ["/i", "/s", "/b"])
        #expect(schema.validate(["~\u{301}": 1]).map { Array($0.instancePath.utf8) } == [Array("/~0\u{301}".utf8)])
    }

    /// ECMA-262's `$` (JSON Schema's regex dialect, no multiline flag) is the end of the string;
    /// ICU's would also match before a final line break.
    @Test func dollarMatchesOnlyAtTheVeryEnd() throws {
        let digits = try JSONSchema(["type": "string", "pattern": "^[0-9]+$"])
        #expect(digits.isValid("42"))
        for text in ["42\n", "42\r\n", "42\r", "42\u{2028}", "42\n\n"] {
            #expect(!digits.isValid(.string(text)), "\(text.debugDescription)")
        }
        // A `$` that is escaped or inside a class is a dollar sign, in either engine.
        #expect(try JSONSchema(["pattern": "^a\\$"]).isValid("a$"))
        #expect(try JSONSchema(["pattern": "^[$]$"]).isValid("$"))
        #expect(try !JSONSchema(["pattern": "^[$]$"]).isValid("$\n"))
        #expect(try JSONSchema(["pattern": "\\\\$"]).isValid("a\\"))
        let keys = try JSONSchema(["patternProperties": ["^x$": ["type": "integer"]]])
        #expect(!keys.isValid(["x": "s"]))
        #expect(keys.isValid(["x\n": "s"]))
    }

    @Test func formatIsOnlyAnAnnotation() throws {
        let schema = try JSONSchema([
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": "x", "title": "t", "description": "d", "default": 1, "examples": [1],
            "deprecated": false, "readOnly": false, "writeOnly": false, "format": "email",
            "contentMediaType": "application/json", "contentEncoding": "base64", "contentSchema": ["type": "object"],
        ])
        #expect(schema.isValid("not an email"))
    }

    // MARK: References

    @Test func recursiveReferencesValidateToAnyDepth() throws {
        let schema = try JSONSchema([
            "$defs": [
                "node": [
                    "type": "object",
                    "required": ["value"],
                    "properties": [
                        "value": ["type": "integer"],
                        "children": ["type": "array", "items": ["$ref": "#/$defs/node"]],
                    ],
                ],
            ],
            "$ref": "#/$defs/node",
        ])
        var tree: JSONValue = ["value": 0]
        for depth in 1...50 {
            tree = ["value": .number(Double(depth)), "children": [tree, ["value": 1]]]
        }
        #expect(schema.isValid(tree))
        let bad: JSONValue = ["value": 1, "children": [["value": 2, "children": [["value": "three"], [:]]]]]
        #expect(schema.validate(bad) == [
            SchemaViolation(instancePath: "/children/0/children/0/value", keyword: "type", message: "must be integer, got string \"three\""),
            SchemaViolation(instancePath: "/children/0/children/1", keyword: "required", message: "missing required property \"value\""),
        ])
    }

    @Test func rootReferenceAndMutualRecursion() throws {
        let root = try JSONSchema(["properties": ["next": ["$ref": "#"]], "additionalProperties": false])
        #expect(root.isValid(["next": ["next": ["next": [:]]]]))
        #expect(root.validate(["next": ["next": ["other": 1]]]).map(\.instancePath) == ["/next/next/other"])

        let mutual = try JSONSchema([
            "$defs": [
                "even": ["type": "array", "maxItems": 1, "items": ["$ref": "#/$defs/odd"]],
                "odd": ["type": "array", "minItems": 1, "items": ["$ref": "#/$defs/even"]],
            ],
            "$ref": "#/$defs/odd",
        ])
        #expect(mutual.isValid([[[[]]]]))
        #expect(!mutual.isValid([[[]]]))
    }

    @Test func referencesResolveAgainstIdsAndAnchors() throws {
        let schema = try JSONSchema([
            "$id": "https://example.com/schemas/order.json",
            "properties": [
                "price": ["$ref": "money.json"],
                "code": ["$ref": "#currency"],
            ],
            "$defs": [
                "money": ["$id": "money.json", "type": "number", "minimum": 0],
                "currency": ["$anchor": "currency", "pattern": "^[A-Z]{3}$"],
            ],
        ])
        #expect(schema.validate(["price": -1, "code": "eur"]).map(\.keyword) == ["minimum", "pattern"])
    }

    /// A schema inside a larger document that is not a schema (an OpenAPI description):
    /// its fragment references resolve against the whole document.
    @Test func aSchemaInsideALargerDocumentResolvesAgainstIt() throws {
        let document: JSONValue = [
            "openapi": "3.1.0",
            "paths": ["/x": ["properties": "not a schema, never compiled"]],
            "components": ["schemas": [
                "A": ["type": "object", "properties": ["b": ["$ref": "#/components/schemas/B"]], "required": ["b"]],
                "B": ["type": "integer", "minimum": 1],
                "Dangling": ["$ref": "#/components/schemas/Nope"],
            ]],
        ]
        let schema = try JSONSchema(document, at: "/components/schemas/A")
        #expect(schema.isValid(["b": 2]))
        #expect(schema.validate(["b": 0]).map(\.instancePath) == ["/b"])
        #expect(schema.validate([:]).map(\.keyword) == ["required"])
        #expect(try JSONSchema(document, at: "/components/schemas/B").isValid(3))
        #expect(throws: SchemaError.self) { try JSONSchema(document, at: "/components/schemas/Dangling") }
        #expect(throws: SchemaError.self) { try JSONSchema(document, at: "/components/schemas/Missing") }
        #expect(throws: SchemaError.self) { try JSONSchema(document, at: "/paths/~1x") }
    }

    // MARK: Refused schemas

    @Test func refusesUnsupportedKeywordsWithTheirLocation() {
        let error = refusal(["properties": ["a": ["$dynamicRef": "#meta"]]])
        #expect(error?.reason == .unsupportedKeyword("$dynamicRef"))
        #expect(error?.schemaLocation == "/properties/a")
        #expect(error?.description == "unsupported keyword \"$dynamicRef\" at /properties/a")

        let typo = refusal(["items": ["minimun": 1]])
        #expect(typo?.description == "unknown keyword \"minimun\" at /items")
        let draft7 = refusal(["definitions": [:]])
        #expect(draft7?.description == "unknown keyword \"definitions\" at the schema root (draft 2020-12 uses \"$defs\")")

        let nested = refusal(["$defs": ["a/b": ["allOf": [true, ["$dynamicAnchor": "x"]]]]])
        #expect(nested?.schemaLocation == "/$defs/a~1b/allOf/1")
    }

    @Test func refusesMalformedKeywordValues() {
        let cases: [(JSONValue, String)] = [
            (["minimum": "x"], "\"minimum\" at the schema root must be a number, got string \"x\""),
            (["properties": ["n": ["required": [1]]]],
             "\"required\" at /properties/n must be an array of distinct strings, got array [1]"),
            (["required": ["a", "a"]], "\"required\" at the schema root must be an array of distinct strings, got array [\"a\",\"a\"]"),
            (["type": "strin"], "\"type\" at the schema root must be a type name (null, boolean, object, array, number, string, integer) or an array of them, got string \"strin\""),
            (["minLength": -1], "\"minLength\" at the schema root must be a non-negative integer, got number -1"),
            (["maxItems": 1.5], "\"maxItems\" at the schema root must be a non-negative integer, got number 1.5"),
            (["multipleOf": 0], "\"multipleOf\" at the schema root must be a number greater than 0, got number 0"),
            (["uniqueItems": "yes"], "\"uniqueItems\" at the schema root must be a boolean, got string \"yes\""),
            (["enum": 3], "\"enum\" at the schema root must be an array, got number 3"),
            (["allOf": []], "\"allOf\" at the schema root must be a non-empty array of schemas, got array []"),
            (["items": [true]], "\"items\" at the schema root must be a schema (2020-12 puts per-position schemas in \"prefixItems\"), got array [true]"),
            (["properties": ["a": 3]], "a schema must be an object or a boolean, got number 3 at /properties/a"),
            (["$ref": 5], "\"$ref\" at the schema root must be a URI reference string, got number 5"),
            (["$anchor": "1x"], "\"$anchor\" at the schema root must be a name matching ^[A-Za-z_][-A-Za-z0-9._]*$, got string \"1x\""),
            ("object", "a schema must be an object or a boolean, got string \"object\" at the schema root"),
            (["title": 5], "\"title\" at the schema root must be a string, got number 5"),
            (["$schema": 2020], "\"$schema\" at the schema root must be a URI string, got number 2020"),
        ]
        for (schema, message) in cases {
            #expect(refusal(schema)?.description == message)
        }
    }

    @Test func refusesInvalidRegularExpressions() {
        let pattern = refusal(["properties": ["a": ["pattern": "(unclosed"]]])
        #expect(pattern?.schemaLocation == "/properties/a")
        guard case .invalidPattern(let keyword, let source, _)? = pattern?.reason else {
            Issue.record("expected invalidPattern, got \(String(describing: pattern))")
            return
        }
        #expect(keyword == "pattern" && source == "(unclosed")
        #expect(pattern?.description.hasPrefix("\"pattern\" at /properties/a has an invalid regular expression \"(unclosed\"") == true)

        let key = refusal(["patternProperties": ["[a-": true]])
        #expect(key?.schemaLocation == "")
        if case .invalidPattern(let keyword, let source, _)? = key?.reason {
            #expect(keyword == "patternProperties" && source == "[a-")
        } else {
            Issue.record("expected invalidPattern, got \(String(describing: key))")
        }
    }

    @Test func refusesReferencesThatCannotBeFollowed() {
        let remote = refusal(["properties": ["a": ["$ref": "http://example.com/other.json#/x"]]])
        #expect(remote?.isRemoteReference == true)
        #expect(remote?.description == "remote reference \"http://example.com/other.json#/x\" at /properties/a is not supported: "
            + "only references within this schema resolve, nothing is fetched")

        let missing = refusal(["items": ["$ref": "#/$defs/nope"]])
        #expect(missing?.description == "$ref \"#/$defs/nope\" at /items does not resolve: nothing at /$defs/nope")
        #expect(missing?.isRemoteReference == false)

        let anchor = refusal(["$ref": "#nowhere"])
        #expect(anchor?.reason == .unresolvableReference("#nowhere", detail: "no $anchor \"nowhere\" in \"\""))

        let dialect = refusal(["$schema": "http://json-schema.org/draft-07/schema#"])
        #expect(dialect?.description == "unsupported $schema \"http://json-schema.org/draft-07/schema#\" at the schema root: only draft 2020-12 is supported")

        let duplicate = refusal(["$defs": ["a": ["$id": "x.json"], "b": ["$id": "x.json"]]])
        #expect(duplicate?.reason == .duplicateIdentifier("x.json"))
    }

    @Test func refusesReferenceLoopsThatNeverConsumeTheInstance() {
        let selfLoop = refusal(["$ref": "#"])
        #expect(selfLoop?.reason == .referenceCycle(["", ""]))

        let loop = refusal([
            "$defs": ["a": ["$ref": "#/$defs/b"], "b": ["allOf": [["$ref": "#/$defs/a"]]]],
            "properties": ["x": ["$ref": "#/$defs/a"]],
        ])
        guard case .referenceCycle(let locations)? = loop?.reason else {
            Issue.record("expected a reference cycle, got \(String(describing: loop))")
            return
        }
        #expect(Set(locations) == ["/$defs/a", "/$defs/b", "/$defs/b/allOf/0"])
        #expect(loop?.description.hasPrefix("references loop without consuming the instance") == true)
    }

    @Test func refusesSchemasNestedBeyondTheLimit() {
        var deep: JSONValue = ["type": "string"]
        for _ in 0..<JSONSchema.maximumSchemaDepth {
            deep = ["items": deep]
        }
        #expect(refusal(deep)?.reason == .tooDeep(limit: JSONSchema.maximumSchemaDepth))

        // A long chain of references is refused whichever end the compiler meets first.
        var definitions: [(key: String, value: JSONValue)] = [("d0", ["type": "integer"])]
        for index in 1..<1_000 {
            definitions.append(("d\(index)", ["$ref": .string("#/$defs/d\(index - 1)")]))
        }
        for order in [definitions, definitions.reversed()] {
            let chain = refusal(["$defs": .object(order), "$ref": "#/$defs/d999"])
            #expect(chain?.reason == .tooDeep(limit: JSONSchema.maximumSchemaDepth))
        }
        var shortChain = Array(definitions.prefix(100))
        shortChain.append(("entry", ["$ref": "#/$defs/d99"]))
        #expect(refusal(["$defs": .object(shortChain), "$ref": "#/$defs/entry"]) == nil)
    }

    @Test func reportsInstancesNestedBeyondTheEvaluationLimit() throws {
        let schema = try JSONSchema(["items": ["$ref": "#"]])
        var deep: JSONValue = []
        for _ in 0..<JSONSchema.maximumEvaluationDepth {
            deep = [deep]
        }
        let violations = schema.validate(deep)
        #expect(violations.count == 1)
        #expect(violations.first?.keyword == "depth")
        #expect(!schema.isValid(deep))
        #expect(schema.isValid([[[[]]]]))
    }

    // MARK: Evaluation cost

    @Test func refusesSchemasWhoseEvaluationDoublesPerLevel() {
        for throughProperty in [false, true] {
            for levels in [22, 40] {
                let clock = ContinuousClock()
                var error: SchemaError?
                let elapsed = clock.measure {
                    error = refusal(Self.doublingSchema(levels: levels, throughProperty: throughProperty))
                }
                guard case .unboundedEvaluation(let evaluations, _, let limit)? = error?.reason else {
                    Issue.record("\(levels) levels (through property: \(throughProperty)): expected a refusal, got \(String(describing: error))")
                    continue
                }
                #expect(limit == JSONSchema.maximumEvaluationsPerLocation)
                #expect(evaluations > limit)
                #expect(error?.description.hasPrefix("the schema's evaluation cannot be bounded: it would evaluate subschemas") == true)
                // Compiling takes about a millisecond; the bound only catches a check that
                // evaluates the paths instead of counting them.
                #expect(elapsed < .seconds(2), "compiling \(levels) levels took \(elapsed)")
            }
        }
    }

    @Test func namesWhereTheEvaluationCountPassesTheLimit() {
        // Level k applies level k+1 twice, plus two `$ref` nodes: 2^(levels+2) - 2 evaluations
        // at the root. Twelve levels (16 382) are over the limit; level 10 is where one
        // subschema alone first passes it (a11 costs 8 189, a10 16 381).
        let error = refusal(Self.doublingSchema(levels: 22, throughProperty: false))
        #expect(error?.schemaLocation == "/$defs/a10")
        #expect(error?.reason == .unboundedEvaluation(evaluations: (1 << 24) - 2, instanceDepth: 0, limit: 10_000))
        #expect(error?.description == "the schema's evaluation cannot be bounded: it would evaluate subschemas 16777214 times "
            + "for one instance value, more than the limit of 10000; at /$defs/a10, applicators (allOf, anyOf, oneOf, $ref, ...) "
            + "reach the same subschemas along several paths, multiplying the work at every level")

        // Through `properties` the count doubles per instance level instead: d levels down,
        // 2^d paths each through two nodes (the `properties` branch and its `$ref`), times two
        // for the `allOf` at the top — 2^(d+2), over the limit at depth 12.
        let nested = refusal(Self.doublingSchema(levels: 40, throughProperty: true))
        #expect(nested?.reason == .unboundedEvaluation(evaluations: 16_384, instanceDepth: 12, limit: 10_000))
        #expect(nested?.schemaLocation == "/$defs/a0")
    }

    @Test func acceptsDoublingWithinTheLimitAndValidatesIt() throws {
        // The count is exact for this chain, so the cut-off is exactly the documented limit.
        for levels in 1...14 {
            let evaluations = (1 << (levels + 2)) - 2
            let accepted = refusal(Self.doublingSchema(levels: levels, throughProperty: false)) == nil
            #expect(accepted == (evaluations <= JSONSchema.maximumEvaluationsPerLocation), "\(levels) levels")
        }

        // Ten levels: 1 024 paths to the leaf, 4 094 evaluations.
        let schema = try JSONSchema(Self.doublingSchema(levels: 10, throughProperty: false))
        #expect(schema.isValid(5))
        #expect(!schema.isValid("x"))
        let violations = schema.validate("x")
        #expect(violations.count == 1_024, "each path to the leaf reports it")
        #expect(violations.allSatisfy { $0 == SchemaViolation(instancePath: "", keyword: "type", message: "must be integer, got string \"x\"") })

        // Ten levels through `properties`: 1 024 evaluations of the leaf, ten levels down.
        let nested = try JSONSchema(Self.doublingSchema(levels: 10, throughProperty: true))
        var instance: JSONValue = 7
        for _ in 0..<10 { instance = ["a": instance] }
        #expect(nested.isValid(instance))
        var bad: JSONValue = "seven"
        for _ in 0..<10 { bad = ["a": bad] }
        #expect(!nested.isValid(bad))
        #expect(Set(nested.validate(bad).map(\.instancePath)) == ["/a/a/a/a/a/a/a/a/a/a"])
    }

    @Test func recursiveSchemasStayAccepted() throws {
        // A binary tree: 2^d paths d levels down, but each reaches a different node.
        let binary = try JSONSchema([
            "$defs": ["tree": [
                "type": "object",
                "required": ["value"],
                "properties": ["value": ["type": "integer"], "left": ["$ref": "#/$defs/tree"], "right": ["$ref": "#/$defs/tree"]],
                "additionalProperties": false,
            ]],
            "$ref": "#/$defs/tree",
        ])
        var tree: JSONValue = ["value": 0]
        for depth in 1...60 {
            tree = ["value": .number(Double(depth)), "left": tree, "right": ["value": 1]]
        }
        #expect(binary.isValid(tree))
        #expect(binary.validate(["value": 1, "left": ["value": 2, "right": ["value": "x"]]]).map(\.instancePath) == ["/left/right/value"])

        // Any JSON value whose strings are short: 2^d paths d levels down through `anyOf`,
        // but a child is either an item or a member, so it meets one of the two branches.
        let value = try JSONSchema([
            "$defs": ["value": ["anyOf": [
                ["type": ["number", "boolean", "null"]],
                ["type": "string", "maxLength": 3],
                ["type": "array", "items": ["$ref": "#/$defs/value"]],
                ["type": "object", "additionalProperties": ["$ref": "#/$defs/value"]],
            ]]],
            "$ref": "#/$defs/value",
        ])
        var nested: JSONValue = "abc"
        for depth in 0..<100 {
            nested = depth % 2 == 0 ? [nested, 1, .null] : ["k": nested, "b": true]
        }
        #expect(value.isValid(nested))
        #expect(!value.isValid(["a": [1, ["b": "long"]]]))

        // Recursion through in-place wrappers: a labelled tree that is also a tree, a
        // conditional whose branches both recurse, items and unevaluatedProperties.
        let wrapped = try JSONSchema([
            "$defs": [
                "tree": ["properties": ["children": ["items": ["$ref": "#/$defs/tree"]]]],
                "labelled": [
                    "allOf": [["$ref": "#/$defs/tree"]],
                    "properties": ["label": ["type": "string"], "children": ["items": ["$ref": "#/$defs/labelled"]]],
                    "if": ["required": ["leaf"]],
                    "then": ["properties": ["leaf": ["const": true]]],
                    "else": ["properties": ["more": ["$ref": "#/$defs/labelled"]]],
                    "unevaluatedProperties": false,
                ],
            ],
            "$ref": "#/$defs/labelled",
        ])
        var labelled: JSONValue = ["label": "leaf", "leaf": true]
        for _ in 0..<40 {
            labelled = ["label": "node", "children": [labelled, ["leaf": true]], "more": ["label": "m"]]
        }
        #expect(wrapped.isValid(labelled))
        #expect(wrapped.validate(["children": [["children": [["label": 5, "extra": 1]]]]]).map(\.instancePath)
            == ["/children/0/children/0/label", "/children/0/children/0/extra"])
    }

    /// `$defs/a0` … `a(levels-1)`: each applies the next level twice, directly or through
    /// property `a`; `a(levels)` is `{"type": "integer"}`. The root refers to `a0`.
    private static func doublingSchema(levels: Int, throughProperty: Bool) -> JSONValue {
        var definitions: [(key: String, value: JSONValue)] = []
        for level in 0..<levels {
            let next: JSONValue = ["$ref": .string("#/$defs/a\(level + 1)")]
            let branch: JSONValue = throughProperty ? ["properties": ["a": next]] : next
            definitions.append(("a\(level)", ["allOf": [branch, branch]]))
        }
        definitions.append(("a\(levels)", ["type": "integer"]))
        return ["$defs": .object(definitions), "$ref": "#/$defs/a0"]
    }

    // MARK: Concurrency

    @Test func oneSchemaValidatesFromManyTasks() async throws {
        let schema = try JSONSchema(["type": "object", "patternProperties": ["^x": ["type": "integer"]]])
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask { schema.isValid(["x\(index)": index % 2 == 0 ? 1 : "no"]) }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 32)
    }

    private func refusal(_ schema: JSONValue) -> SchemaError? {
        do {
            _ = try JSONSchema(schema)
            return nil
        } catch {
            return error
        }
    }
}
