@testable import Gateway
import JSON
import TargetPolicy
import Testing

/// Issue 12: a source's inbound configuration as the API takes it and the journal keeps it,
/// and how provider types become our event types.
@Suite("Inbound configuration")
struct InboundConfigurationTests {
    static func parse(_ text: String, name: String = "shop") throws -> InboundConfiguration {
        try InboundConfiguration(try JSONParser.parse(Array(text.utf8)), sourceName: name)
    }

    @Test(arguments: [
        ("Orders/Create", "orders.create"),
        ("Push Hook", "push_hook"),
        ("pull_request.opened", "pull_request.opened"),
        ("github.pull_request..opened.", "github.pull_request.opened"),
        ("invoice:paid", "invoice.paid"),
        ("Ünïcode Event", "__n__code_event"),
        ("", "webhook"),
        ("...", "webhook"),
    ])
    func typesAreNormalizedPredictably(_ raw: String, _ expected: String) {
        let normalized = EventTypeName.normalize(raw)
        #expect(normalized == expected)
        #expect(EventTypeName.isValid(normalized))
    }

    @Test func aLongTypeIsCutToTheLimit() {
        let normalized = EventTypeName.normalize(String(repeating: "abcdefg.", count: 40))
        #expect(normalized.utf8.count <= EventTypeName.maxLength)
        #expect(EventTypeName.isValid(normalized))
    }

    @Test func theTypeComesFromWhereTheMappingSays() throws {
        let body = try JSONParser.parse(Array(#"{"meta":{"kind":"Invoice/Paid"},"list":["x"]}"#.utf8))
        let request = InboundRequest(headers: [("X-Event", "Order Created")], body: [])
        let verified = VerifiedRequest(deliveryID: "d1", providerType: "push")
        #expect(TypeMapping(source: .provider, prefix: "github.").type(of: request, verified: verified, body: body) == "github.push")
        #expect(TypeMapping(source: .fixed("ping"), prefix: "acme.").type(of: request, verified: verified, body: body) == "acme.ping")
        #expect(TypeMapping(source: .header("x-event"), prefix: "acme.").type(of: request, verified: verified, body: body) == "acme.order_created")
        #expect(TypeMapping(source: .pointer("/meta/kind"), prefix: "").type(of: request, verified: verified, body: body) == "invoice.paid")
        // Missing: the fallback, never a refusal of a genuine delivery.
        #expect(TypeMapping(source: .pointer("/nope"), prefix: "acme.").type(of: request, verified: verified, body: body) == "acme.webhook")
        #expect(TypeMapping(source: .provider, prefix: "acme.").type(of: request, verified: VerifiedRequest(), body: nil) == "acme.webhook")
    }

    @Test func jsonPointersFollowRFC6901() throws {
        let value = try JSONParser.parse(Array(#"{"a/b":{"m~n":[10,20]},"":1}"#.utf8))
        #expect(JSONPointer.resolve("/a~1b/m~0n/1", in: value) == .number(20))
        #expect(JSONPointer.resolve("/", in: value) == .number(1))
        #expect(JSONPointer.resolve("/a~1b/m~0n/01", in: value) == nil)
        #expect(JSONPointer.resolve("/a~1b/m~0n/2", in: value) == nil)
        #expect(JSONPointer.resolve("a", in: value) == nil)
    }

    @Test func eachSchemeGetsWhatItNeedsAndDefaultsItsTypes() throws {
        let github = try Self.parse(#"{"verification":{"scheme":"github","secret":"s3cret"}}"#)
        #expect(github.verification.scheme == .github && github.verification.secrets.map(\.value) == ["s3cret"])
        #expect(github.eventType == TypeMapping(source: .provider, prefix: "github."))
        let hmac = try Self.parse(#"{"verification":{"scheme":"hmac","secret":"k","header":"X-Sig","algorithm":"sha512","encoding":"base64","prefix":"sha512=","timestampHeader":"X-Ts","tolerance":60},"eventType":{"from":"header","value":"X-Event"},"allowedIps":["10.0.0.0/8","::1"]}"#)
        #expect(hmac.verification.algorithm == .sha512 && hmac.verification.encoding == .base64 && hmac.verification.tolerance == 60)
        #expect(hmac.eventType == TypeMapping(source: .header("X-Event"), prefix: "shop."))
        #expect(hmac.allows(IPAddress("10.1.2.3")!) && hmac.allows(IPAddress("::1")!) && !hmac.allows(IPAddress("192.168.0.1")!))
        let basic = try Self.parse(#"{"verification":{"scheme":"basic","username":"u","password":"p"}}"#)
        #expect(basic.verification.username == "u" && basic.verification.secrets.map(\.value) == ["p"])
        let none = try Self.parse(#"{"verification":{"scheme":"none"},"eventType":{"from":"fixed","value":"received"}}"#)
        #expect(none.verification.scheme == .none && none.eventType == TypeMapping(source: .fixed("received"), prefix: "shop."))
        let standard = try Self.parse(#"{"verification":{"scheme":"standard-webhooks","publicKey":"whpk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}}"#)
        #expect(standard.verification.publicKeys == ["whpk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="])
    }

    @Test(arguments: [
        (#"{}"#, "'verification' must be an object"),
        (#"{"verification":{"scheme":"magic"}}"#, "'verification.scheme' must be one of"),
        (#"{"verification":{"secret":"x"}}"#, "'verification.scheme' must be one of"),
        (#"{"verification":{"scheme":"github"}}"#, "'verification.secret' is required for github"),
        (#"{"verification":{"scheme":"hmac","secret":"k"}}"#, "'verification.header' is required for hmac"),
        (#"{"verification":{"scheme":"hmac","secret":"k","header":"X","algorithm":"md5"}}"#, "sha256, sha512 or sha1"),
        (#"{"verification":{"scheme":"basic","username":"u"}}"#, "'verification.password' are required"),
        (#"{"verification":{"scheme":"standard-webhooks"}}"#, "is required for standard-webhooks"),
        (#"{"verification":{"scheme":"github","secret":"s","header":"X"}}"#, "for the hmac scheme only"),
        (#"{"verification":{"scheme":"github","secret":"s","color":"red"}}"#, "Unknown field 'verification.color'"),
        (#"{"verification":{"scheme":"github","secret":"s","tolerance":0}}"#, "'verification.tolerance' must be seconds"),
        (#"{"verification":{"scheme":"github","secret":"s"},"eventType":{"from":"header"}}"#, "needs 'value'"),
        (#"{"verification":{"scheme":"github","secret":"s"},"eventType":{"from":"pointer","value":"type"}}"#, "JSON pointer"),
        (#"{"verification":{"scheme":"github","secret":"s"},"eventType":{"from":"provider","value":"x"}}"#, "not used with from: provider"),
        (#"{"verification":{"scheme":"github","secret":"s"},"allowedIps":["10.0.0.1/8"]}"#, "'allowedIps':"),
        (#"{"verification":{"scheme":"github","secret":""}}"#, "'verification.secret' must be a string"),
        (#"{"verification":{"scheme":"standard-webhooks","publicKey":"whpk_abc"}}"#, "32-byte Ed25519 public key"),
    ])
    func badConfigurationsAreRefusedWithAReason(_ body: String, _ says: String) {
        #expect {
            _ = try Self.parse(body)
        } throws: { error in
            (error as? InboundConfiguration.Invalid)?.detail.contains(says) == true
        }
    }

    @Test func theStoredFormReadsBackWithSecretsAndTheAPIFormShowsNone() throws {
        var configuration = try Self.parse(#"{"verification":{"scheme":"stripe","secret":"whsec_new","tolerance":120},"eventType":{"from":"pointer","value":"/type","prefix":"pay."},"allowedIps":["3.18.12.63/32"]}"#)
        configuration.verification.secrets.append(SourceSecret(value: "whsec_old", expiresAt: 1_900_000_000_000_000))
        let stored = configuration.json(showingSecrets: true)
        #expect(try InboundConfiguration(stored, sourceName: "shop", stored: true) == configuration)
        let shown = JSONParser.serialize(configuration.json(showingSecrets: false, now: 1_800_000_000_000_000))
        let text = String(decoding: shown, as: UTF8.self)
        #expect(!text.contains("whsec_") && text.contains(#""activeSecrets":2"#), "\(text)")
        // Once the previous secret's overlap has passed, one is active.
        let later = String(decoding: JSONParser.serialize(configuration.json(showingSecrets: false, now: 2_000_000_000_000_000)), as: UTF8.self)
        #expect(later.contains(#""activeSecrets":1"#))
    }

    @Test func eventRecordsKeepHeadersAndAVersion4RecordStillReads() throws {
        var event = EventRecord(id: "evt_1", type: "github.push", source: "gh", partitionKey: nil, occurredAt: nil,
                                idempotencyKey: "d-1", bodyDigest: [1, 2], data: Array("{}".utf8), tenant: "acme")
        event.headers = [("X-GitHub-Event", "push"), ("Content-Type", "application/json")]
        let encoded = event.encode()
        #expect(try EventRecord.decode(encoded) == event)
        // The fold reads no headers; the envelope's fields are where they were.
        #expect(try EventRecord.decode(encoded, includeData: false).headers.isEmpty)
        let fields = try EventRecord.envelopeFields(encoded)
        #expect(Array(encoded[fields.data]) == Array("{}".utf8))
        // A version 4 record (no headers) is the same bytes without the trailing count.
        var older = Array(encoded.dropLast(4 + 4 + 14 + 4 + 4 + 4 + 12 + 4 + 16))
        older[0] = 4
        var decoded = try EventRecord.decode(older)
        #expect(decoded.headers.isEmpty && decoded.tenant == "acme")
        decoded.headers = event.headers
        #expect(decoded == event)
    }

    @Test func sourceRecordsOfBothVersionsRead() throws {
        var writer = BinaryWriter()
        writer.byte(1)
        writer.string("legacy")
        writer.blob([1, 2, 3])
        let old = try SourceRecord.decode(writer.bytes)
        #expect(old == SourceRecord(name: "legacy", tokenDigest: [1, 2, 3]))
        let current = SourceRecord(name: "gh", tokenDigest: [9], inbound: Array(#"{"verification":{"scheme":"none"}}"#.utf8))
        #expect(try SourceRecord.decode(current.encode()) == current)
    }
}
