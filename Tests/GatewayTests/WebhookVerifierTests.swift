import Gateway
import Runtime
import Foundation
import TestSupport
import Testing

/// The receiving side of Standard Webhooks, checked against the reference vector (from the
/// spec's libraries, computed independently of this code) and against Python's `hmac`.
@Suite("Standard Webhooks verifier")
struct WebhookVerifierTests {
    typealias Vector = WebhookSignerTests
    static let secret = try! WebhookSecret(parsing: Vector.vectorSecret)
    static let verifier = WebhookVerifier(secrets: [secret])

    static func headers(
        id: String? = Vector.vectorID, timestamp: String? = String(Vector.vectorTimestamp),
        signature: String? = Vector.vectorSignature
    ) -> StandardWebhooksHeaders {
        StandardWebhooksHeaders(id: id, timestamp: timestamp, signature: signature)
    }

    @Test func theReferenceVectorVerifies() throws {
        let match = try Self.verifier.verify(Self.headers(), body: Vector.vectorBody, now: Vector.vectorTimestamp)
        #expect(match == WebhookVerifier.Match(version: "v1", secretIndex: 0, entryIndex: 0))
    }

    @Test func tamperingWithAnySignedPartFails() {
        let t = Vector.vectorTimestamp
        func verify(id: String = Vector.vectorID, timestamp: Int = t, body: [UInt8] = Vector.vectorBody) throws {
            _ = try Self.verifier.verify(Self.headers(id: id, timestamp: String(timestamp)), body: body, now: t)
        }
        #expect(throws: WebhookVerificationError.noMatchingSignature) { try verify(body: Array(#"{"test": 2432232315}"#.utf8)) }
        #expect(throws: WebhookVerificationError.noMatchingSignature) { try verify(body: Vector.vectorBody + [0x20]) }
        #expect(throws: WebhookVerificationError.noMatchingSignature) { try verify(body: []) }
        #expect(throws: WebhookVerificationError.noMatchingSignature) { try verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJeK") }
        #expect(throws: WebhookVerificationError.noMatchingSignature) { try verify(timestamp: t + 1) }
        // Moving the dot between id and timestamp changes the signed text, so it must fail too.
        #expect(throws: WebhookVerificationError.noMatchingSignature) {
            _ = try Self.verifier.verify(Self.headers(id: Vector.vectorID + ".1", timestamp: "614265330"),
                                         body: Vector.vectorBody, now: 614_265_330)
        }
    }

    @Test func aWrongSecretFailsAndTheRightOneAmongSeveralIsNamed() throws {
        let other = try WebhookSecret(parsing: "whsec_" + Base64.encode(Array(repeating: 7, count: 32)))
        #expect(throws: WebhookVerificationError.noMatchingSignature) {
            _ = try WebhookVerifier(secrets: [other]).verify(Self.headers(), body: Vector.vectorBody, now: Vector.vectorTimestamp)
        }
        #expect(throws: WebhookVerificationError.noMatchingSignature) {
            _ = try WebhookVerifier(secrets: []).verify(Self.headers(), body: Vector.vectorBody, now: Vector.vectorTimestamp)
        }
        let match = try WebhookVerifier(secrets: [other, Self.secret])
            .verify(Self.headers(), body: Vector.vectorBody, now: Vector.vectorTimestamp)
        #expect(match.secretIndex == 1)
    }

    @Test func theTimestampMustBeWithinTheToleranceEitherWay() throws {
        let t = Vector.vectorTimestamp
        func verify(now: Int, tolerance: Int = WebhookVerifier.defaultTolerance) throws {
            _ = try WebhookVerifier(secrets: [Self.secret], tolerance: tolerance)
                .verify(Self.headers(), body: Vector.vectorBody, now: now)
        }
        try verify(now: t + 300)
        try verify(now: t - 300)
        #expect(throws: WebhookVerificationError.timestampTooOld(secondsOld: 301, tolerance: 300)) { try verify(now: t + 301) }
        #expect(throws: WebhookVerificationError.timestampTooNew(secondsAhead: 301, tolerance: 300)) { try verify(now: t - 301) }
        #expect(throws: WebhookVerificationError.timestampTooOld(secondsOld: 86_400, tolerance: 300)) { try verify(now: t + 86_400) }
        try verify(now: t + 3600, tolerance: 3600)
        #expect(throws: WebhookVerificationError.timestampTooOld(secondsOld: 1, tolerance: 0)) { try verify(now: t + 1, tolerance: 0) }
        try verify(now: t, tolerance: 0)
    }

    @Test func aStaleTimestampFailsEvenWithAGoodSignatureButTheSignatureCanBeToldApart() throws {
        let later = Vector.vectorTimestamp + 420
        #expect(throws: WebhookVerificationError.timestampTooOld(secondsOld: 420, tolerance: 300)) {
            _ = try Self.verifier.verify(Self.headers(), body: Vector.vectorBody, now: later)
        }
        // What a tool reports beside the stale timestamp: the signature itself is genuine.
        let match = try Self.verifier.matchingSignature(
            Vector.vectorSignature, id: Vector.vectorID, timestamp: Vector.vectorTimestamp, body: Vector.vectorBody)
        #expect(match.secretIndex == 0)
        #expect(Self.verifier.timestampVerdict(Vector.vectorTimestamp, now: later) != nil)
        #expect(Self.verifier.timestampVerdict(Vector.vectorTimestamp, now: Vector.vectorTimestamp + 5) == nil)
    }

    @Test func hostileTimestampsDoNotTrap() {
        #expect(Self.verifier.timestampVerdict(Int.max, now: -10) == .timestampTooNew(secondsAhead: Int.max, tolerance: 300))
        #expect(Self.verifier.timestampVerdict(Int.min, now: 10) == .timestampTooOld(secondsOld: Int.max, tolerance: 300))
        #expect(Self.verifier.timestampVerdict(0, now: Int.min) == .timestampTooNew(secondsAhead: Int.max, tolerance: 300))
        #expect(throws: WebhookVerificationError.invalidTimestamp) {
            _ = try Self.verifier.verify(Self.headers(timestamp: "99999999999999999999999"), body: Vector.vectorBody, now: 0)
        }
    }

    @Test(arguments: ["abc", "-1614265330", "+1614265330", "1614265330.0", " 1614265330", "1614265330 ", "1e9", "１６"])
    func aTimestampThatIsNotUnixSecondsIsRefused(_ text: String) {
        #expect(throws: WebhookVerificationError.invalidTimestamp) {
            _ = try Self.verifier.verify(Self.headers(timestamp: text), body: Vector.vectorBody, now: Vector.vectorTimestamp)
        }
    }

    @Test func everyEntryIsReadAndOtherVersionsAreSkipped() throws {
        func verify(_ header: String) throws -> WebhookVerifier.Match {
            try Self.verifier.verify(Self.headers(signature: header), body: Vector.vectorBody, now: Vector.vectorTimestamp)
        }
        let asymmetric = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
        #expect(try verify(asymmetric + " " + Vector.vectorSignature).entryIndex == 1)
        #expect(try verify("v1,bm90IHRoaXM= v1,!!!! v2,abc " + Vector.vectorSignature).entryIndex == 3)
        #expect(try verify(Vector.vectorSignature + "  v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=").entryIndex == 0)
        #expect(throws: WebhookVerificationError.noSignature) { try verify("v1a,abc v2,def") }
        #expect(throws: WebhookVerificationError.noSignature) { try verify("V1," + Vector.vectorSignature.dropFirst(3)) }
        #expect(throws: WebhookVerificationError.noSignature) { try verify(" ") }
        #expect(throws: WebhookVerificationError.noMatchingSignature) { try verify("v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=") }
    }

    @Test func missingOrEmptyHeadersAreNamed() {
        func verify(_ headers: StandardWebhooksHeaders) throws {
            _ = try Self.verifier.verify(headers, body: Vector.vectorBody, now: Vector.vectorTimestamp)
        }
        #expect(throws: WebhookVerificationError.missingHeader("webhook-id")) { try verify(Self.headers(id: nil)) }
        #expect(throws: WebhookVerificationError.missingHeader("webhook-id")) { try verify(Self.headers(id: "")) }
        #expect(throws: WebhookVerificationError.missingHeader("webhook-timestamp")) { try verify(Self.headers(timestamp: nil)) }
        #expect(throws: WebhookVerificationError.missingHeader("webhook-signature")) { try verify(Self.headers(signature: nil)) }
        #expect(throws: WebhookVerificationError.missingHeader("webhook-signature")) { try verify(Self.headers(signature: "")) }
        #expect(throws: WebhookVerificationError.missingHeader("webhook-id")) {
            try verify(StandardWebhooksHeaders(id: nil, timestamp: nil, signature: nil))
        }
    }

    @Test func headersAreReadInOneFamilyWebhookFirstThenSvix() {
        func read(_ fields: [String: String]) -> StandardWebhooksHeaders {
            StandardWebhooksHeaders { fields[$0] }
        }
        let standard = read(["webhook-id": "a", "webhook-timestamp": "1", "webhook-signature": "v1,x", "svix-id": "b"])
        #expect(standard == StandardWebhooksHeaders(id: "a", timestamp: "1", signature: "v1,x"))
        let svix = read(["svix-id": "b", "svix-timestamp": "2", "svix-signature": "v1,y"])
        #expect(svix == StandardWebhooksHeaders(id: "b", timestamp: "2", signature: "v1,y"))
        // A mix is not assembled into one set: the webhook-* family is read, and lacks an id.
        let mixed = read(["svix-id": "b", "webhook-timestamp": "1", "webhook-signature": "v1,x"])
        #expect(mixed == StandardWebhooksHeaders(id: nil, timestamp: "1", signature: "v1,x"))
    }

    @Test func errorMessagesNeverCarryTheExpectedSignature() {
        let errors: [WebhookVerificationError] = [
            .missingHeader("webhook-id"), .invalidTimestamp, .timestampTooOld(secondsOld: 420, tolerance: 300),
            .timestampTooNew(secondsAhead: 400, tolerance: 300), .noSignature, .noMatchingSignature,
        ]
        for error in errors {
            #expect(!error.description.contains("g0hM9"))
            #expect(!error.description.isEmpty)
        }
    }

    @Test(.enabled(if: PythonHMAC.isAvailable, "python3 is not installed"))
    func signaturesMadeByPythonVerify() throws {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 64, 5000] {
            let secret = WebhookSecret.generate()
            let body = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let id = "msg_\(length)"
            let timestamp = 1_700_000_000 + length
            let header = try PythonHMAC.signature(secret: secret, id: id, timestamp: timestamp, body: body)
            let verifier = WebhookVerifier(secrets: [WebhookSecret.generate(), secret])
            let match = try verifier.verify(StandardWebhooksHeaders(id: id, timestamp: String(timestamp), signature: header),
                                            body: body, now: timestamp + 10)
            #expect(match.secretIndex == 1)
        }
    }
}
