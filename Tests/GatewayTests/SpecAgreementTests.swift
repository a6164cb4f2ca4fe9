import Foundation
@testable import Gateway
import JSON
import PropertyBased
import TestSupport
import Testing

/// Inputs generated around what openapi.yaml allows, sent to the server: whatever the spec's
/// own schema says is invalid must be refused (400 for a query, 422 for a body), and whatever
/// it says is valid must not be. The spec is the oracle here, so a disagreement fails
/// whichever side is wrong. (The answers themselves are checked against the spec by
/// `GatewayHarness.request`.)
@Suite("openapi.yaml and the server agree on what is valid")
struct SpecAgreementTests {
    let spec = OpenAPIContract.repository

    // MARK: Query parameters

    /// Candidates for a query value: spellings of integers and booleans a client might send.
    static let queryWords = ["", "true", "false", "TRUE", "False", "1", "0", "yes", "no", "-0", "+1", "007", "1.0",
                             "1e3", " 1", "1 ", "x", "0x10", "-1", "1000", "1001", "9007199254740991"]

    /// `GET /v1/events?after=&limit=` and `GET /v1/event-types?archived=`: 400 exactly when
    /// a value is outside its parameter's schema.
    @Test func queryParametersAreRefusedExactlyWhenTheSpecSaysSo() async throws {
        let gateway = try GatewayHarness()
        _ = try gateway.request("POST", "/v1/events", body: #"{"type":"q.a","data":1}"#)
        let parameters = [
            ("/v1/events", "after", try parameterSchema("/v1/events", "get", "after")),
            ("/v1/events", "limit", try parameterSchema("/v1/events", "get", "limit")),
            ("/v1/event-types", "archived", try parameterSchema("/v1/event-types", "get", "archived")),
        ]
        await propertyCheck(count: 150, input: Gen.int(in: 0...Int.max)) { seed in
            var random = SplitMix64(seed: UInt64(seed))
            let (path, name, schema) = parameters[Int(random.next() % 3)]
            let text = Self.queryValue(&random)
            let allowed = spec.schemaViolations(of: Self.queryJSON(text, schema: schema), against: schema, what: name).isEmpty
            let response = try gateway.request("GET", "\(path)?\(name)=\(Self.percentEncoded(text))")
            #expect(response.status == (allowed ? 200 : 400), "\(name)=\(text.debugDescription): \(response.text)")
        }
    }

    /// The ends of `after`'s range, which a Double (the generated test's oracle) cannot tell
    /// apart: the largest `sequence` is a cursor, one more is not.
    @Test func afterTakesTheWholeRangeOfSequences() throws {
        let gateway = try GatewayHarness()
        _ = try gateway.request("POST", "/v1/events", body: #"{"type":"q.a","data":1}"#)
        #expect(try gateway.request("GET", "/v1/events?after=9223372036854775807").status == 200)
        #expect((try gateway.request("GET", "/v1/events?after=0").json["events"] as? [Any])?.count == 1)
        for refused in ["9223372036854775808", "18446744073709551615", "-1", "+5"] {
            let response = try gateway.request("GET", "/v1/events?after=\(Self.percentEncoded(refused))")
            #expect(response.status == 400, "\(refused): \(response.text)")
            #expect((response.json["detail"] as? String)?.contains("9223372036854775807") == true)
        }
    }

    @Test func archivedIsTrueOrFalse() throws {
        let gateway = try GatewayHarness()
        #expect(try gateway.request("PUT", "/v1/event-types/a.b", body: "{}").status == 201)
        #expect(try gateway.request("DELETE", "/v1/event-types/a.b").status == 204)
        let count = { (query: String) in (try gateway.request("GET", "/v1/event-types" + query).json["eventTypes"] as? [Any])?.count }
        #expect(try count("") == 0 && count("?archived=false") == 0 && count("?archived=true") == 1)
        let typo = try gateway.request("GET", "/v1/event-types?archived=yes")
        #expect(typo.status == 400 && typo.json["detail"] as? String == "'archived' must be true or false.")
    }

    // MARK: Bodies

    /// `retry` on `POST /v1/subscriptions`: 201 exactly when `SubscriptionCreate` allows the
    /// body, else 422 (`null` included, which both sides read as "no overrides").
    @Test func subscriptionRetryIsRefusedExactlyWhenTheSpecSaysSo() async throws {
        let gateway = try GatewayHarness()
        let schema = "/components/schemas/SubscriptionCreate"
        await propertyCheck(count: 150, input: Gen.int(in: 0...Int.max)) { seed in
            var random = SplitMix64(seed: UInt64(seed))
            let retry = Self.retryValue(&random)
            let body: JSONValue = ["url": "https://example.com/hook", "eventTypes": ["a.b"], "retry": retry]
            let allowed = spec.schemaViolations(of: body, against: schema, what: "retry").isEmpty
            let text = String(decoding: JSONParser.serialize(body), as: UTF8.self)
            let response = try gateway.request("POST", "/v1/subscriptions", body: text)
            #expect(response.status == (allowed ? 201 : 422), "\(text): \(response.text)")
        }
    }

    @Test func retryNullMeansTheDefaultsOnCreateAndOnPatch() throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://x.com/","eventTypes":["a.b"],"retry":null}"#)
        #expect(created.status == 201)
        let retry = try #require(created.json["retry"] as? [String: Any])
        #expect(retry["maxAttempts"] is NSNull && retry["maxAgeSeconds"] is NSNull)
        let id = try #require(created.json["id"] as? String)
        #expect(try gateway.request("PATCH", "/v1/subscriptions/\(id)", body: #"{"retry":{"maxAttempts":3}}"#).status == 200)
        let reset = try gateway.request("PATCH", "/v1/subscriptions/\(id)", body: #"{"retry":null}"#)
        #expect((reset.json["retry"] as? [String: Any])?["maxAttempts"] is NSNull)
        let unknown = try gateway.request("PATCH", "/v1/subscriptions/\(id)", body: #"{"retry":{"tries":3}}"#)
        #expect(unknown.status == 422 && unknown.json["detail"] as? String == "Unknown field 'retry.tries'.")
    }

    /// `POST …/rotate-secret`: 200 exactly when `RotateSecretRequest` allows the body, else 422.
    @Test func rotateSecretBodiesAreRefusedExactlyWhenTheSpecSaysSo() async throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://x.com/","eventTypes":["a.b"]}"#)
        let id = try #require(created.json["id"] as? String)
        let schema = "/components/schemas/RotateSecretRequest"
        await propertyCheck(count: 100, input: Gen.int(in: 0...Int.max)) { seed in
            var random = SplitMix64(seed: UInt64(seed))
            let body = Self.rotateBody(&random)
            let allowed = spec.schemaViolations(of: body, against: schema, what: "rotate-secret").isEmpty
            let text = String(decoding: JSONParser.serialize(body), as: UTF8.self)
            let response = try gateway.request("POST", "/v1/subscriptions/\(id)/rotate-secret", body: text)
            #expect(response.status == (allowed ? 200 : 422), "\(text): \(response.text)")
        }
    }

    @Test func rotateSecretRefusesRepeatedKeysUnknownMembersAndOtherMediaTypes() throws {
        let gateway = try GatewayHarness()
        let created = try gateway.request("POST", "/v1/subscriptions", body: #"{"url":"https://x.com/","eventTypes":["a.b"]}"#)
        let path = "/v1/subscriptions/\(try #require(created.json["id"] as? String))/rotate-secret"
        let repeated = try gateway.request("POST", path, body: #"{"overlapSeconds":5,"overlapSeconds":6}"#)
        #expect(repeated.status == 400 && (repeated.json["detail"] as? String)?.contains("duplicate key") == true)
        let unknown = try gateway.request("POST", path, body: #"{"overlapSeconds":5,"note":"x"}"#)
        #expect(unknown.status == 422 && unknown.json["detail"] as? String == "Unknown field 'note'.")
        #expect(try gateway.request("POST", path, body: "[1]").status == 422)
        #expect(try gateway.request("POST", path, body: #"{"overlapSeconds":5}"#, contentType: "text/plain").status == 415)
        // An empty body needs no Content-Type.
        #expect(try gateway.request("POST", path, contentType: nil).status == 200)
    }

    // MARK: Path parameters

    /// `PUT /v1/event-types/{name}`: created exactly when the name fits `EventTypeName`, else
    /// 422; `GET` of a name outside it is 404, as the spec says.
    @Test func eventTypeNamesAreRefusedExactlyWhenTheSpecSaysSo() async throws {
        let gateway = try GatewayHarness()
        let schema = "/components/parameters/EventTypeNamePath/schema"
        await propertyCheck(count: 150, input: Gen.int(in: 0...Int.max)) { seed in
            var random = SplitMix64(seed: UInt64(seed))
            let name = Self.eventTypeName(&random)
            let allowed = spec.schemaViolations(of: .string(name), against: schema, what: "name").isEmpty
            let path = "/v1/event-types/" + Self.percentEncoded(name)
            let put = try gateway.request("PUT", path, body: "{}")
            #expect(allowed ? [200, 201].contains(put.status) : put.status == 422, "\(name.debugDescription): \(put.text)")
            if !allowed {
                #expect(try gateway.request("GET", path).status == 404, "\(name.debugDescription)")
            }
        }
    }

    // MARK: README promises

    /// `data` is kept as the bytes of its value; the whitespace around it belongs to the
    /// envelope, so it neither reaches subscribers nor makes a repeat a different event.
    @Test func whitespaceAroundDataIsTheEnvelopes() throws {
        let gateway = try GatewayHarness()
        let first = try gateway.request("POST", "/v1/events", body: "{\"id\":\"w-1\",\"type\":\"a.b\",\"data\": \n\t {\"x\": 1 }  \r\n }")
        #expect(first.status == 202)
        let read = try gateway.request("GET", "/v1/events/w-1")
        #expect(read.text.hasSuffix(#""data":{"x": 1 }}"#), "\(read.text)")
        let repeated = try gateway.request("POST", "/v1/events", body: #"{"id":"w-1","type":"a.b","data":{"x": 1 }}"#)
        #expect(repeated.status == 200)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"id":"w-1","type":"a.b","data":{"x":1}}"#).status == 409)
    }

    /// Annotation keywords are accepted when a type is registered and never refuse an event.
    @Test func annotationKeywordsAreAcceptedAndNotEnforced() throws {
        let gateway = try GatewayHarness()
        let schema = #"""
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "$comment": "c", "title": "Contact",
         "description": "d", "type": "object", "deprecated": true, "examples": [{"email": "a@b.c"}],
         "properties": {"email": {"type": "string", "format": "email", "default": "x@y.z", "readOnly": true,
                                  "writeOnly": true, "contentMediaType": "text/plain", "contentEncoding": "base64",
                                  "contentSchema": {"type": "object"}}}}
        """#
        #expect(try gateway.request("PUT", "/v1/event-types/contact.made", body: #"{"schema":\#(schema)}"#).status == 201)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"contact.made","data":{"email":"not an address"}}"#).status == 202)
        #expect(try gateway.request("POST", "/v1/events", body: #"{"type":"contact.made","data":{"email":5}}"#).status == 422)
        let unknown = try gateway.request("PUT", "/v1/event-types/contact.made", body: #"{"schema":{"example":1}}"#)
        #expect(unknown.status == 422 && (unknown.json["detail"] as? String)?.contains("unknown keyword \"example\"") == true)
    }

    // MARK: Generators and the spec's reading of them

    private func parameterSchema(_ path: String, _ method: String, _ name: String) throws -> String {
        let pointer = "/paths/" + OpenAPIContract.escape(path) + "/" + method + "/parameters"
        guard case .array(let parameters)? = spec.value(at: pointer),
              let index = parameters.firstIndex(where: { $0["name"] == .string(name) }) else {
            throw ContractViolation(violations: ["no parameter '\(name)' at \(pointer)"])
        }
        return pointer + "/\(index)/schema"
    }

    /// A query value as the spec reads it: decimal digits (with an optional `-`) are an
    /// integer where the schema wants a number; anything else is a string.
    static func queryJSON(_ text: String, schema: String) -> JSONValue {
        let wantsInteger = OpenAPIContract.repository.value(at: schema)?["type"] == .string("integer")
        if wantsInteger, text.range(of: "^-?[0-9]+$", options: .regularExpression) != nil, let number = Double(text) {
            return .number(number)
        }
        return .string(text)
    }

    static func queryValue(_ random: inout SplitMix64) -> String {
        switch random.next() % 4 {
        case 0: return queryWords[Int(random.next() % UInt64(queryWords.count))]
        case 1: return String(Int64(bitPattern: random.next()) % 2_000)
        case 2: return String(Int64(bitPattern: random.next()) % (1 << 53))
        default: return String(random.next() % 3 == 0 ? "-" : "") + String(random.next() % 1_100)
        }
    }

    static func retryValue(_ random: inout SplitMix64) -> JSONValue {
        func member(_ random: inout SplitMix64) -> JSONValue {
            let candidates: [JSONValue] = [.null, 0, 1, 2, 3.0, 1.5, 100, 101, 2_592_000, 2_592_001, -1, "3", true, [3]]
            return candidates[Int(random.next() % UInt64(candidates.count))]
        }
        switch random.next() % 8 {
        case 0: return .null
        case 1: return [:]
        case 2: return ["maxAttempts": member(&random)]
        case 3: return ["maxAgeSeconds": member(&random)]
        case 4: return ["maxAttempts": member(&random), "maxAgeSeconds": member(&random)]
        case 5: return ["maxAttempts": member(&random), "tries": 1]
        case 6: return ["tries": member(&random)]
        default:
            let others: [JSONValue] = [5, "x", [], true, [["maxAttempts": 2]]]
            return others[Int(random.next() % UInt64(others.count))]
        }
    }

    static func rotateBody(_ random: inout SplitMix64) -> JSONValue {
        let values: [JSONValue] = [.null, 0, 1, 3600, 604_800, 604_801, -1, 2.5, 60.0, "60", true]
        let value = values[Int(random.next() % UInt64(values.count))]
        switch random.next() % 5 {
        case 0: return [:]
        case 1, 2: return ["overlapSeconds": value]
        case 3: return ["overlapSeconds": value, "note": "x"]
        default: return ["overlap": value]
        }
    }

    /// Mostly near-valid names (segments, dots, the allowed punctuation), sometimes with a
    /// character outside the pattern, sometimes at the length limit.
    static func eventTypeName(_ random: inout SplitMix64) -> String {
        let valid = Array("abz09_-")
        let invalid = Array("A Z./%é\n\t:*")
        var characters: [Character] = []
        let length = random.next() % 8 == 0 ? 126 + Int(random.next() % 5) : 1 + Int(random.next() % 10)
        for _ in 0..<length {
            switch random.next() % 10 {
            case 0: characters.append(Character("."))
            case 1: characters.append(invalid[Int(random.next() % UInt64(invalid.count))])
            default: characters.append(valid[Int(random.next() % UInt64(valid.count))])
            }
        }
        return String(characters)
    }

    /// Everything but unreserved characters percent-encoded, as UTF-8 (RFC 3986 §2.1).
    static func percentEncoded(_ text: String) -> String {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
