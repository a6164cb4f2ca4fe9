import Runtime
@testable import Gateway
import Foundation
import TestSupport
import Testing

@Suite("Standard Webhooks signer")
struct WebhookSignerTests {
    // The Standard Webhooks reference vector (the libraries' shared test case).
    static let vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let vectorID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let vectorTimestamp = 1_614_265_330
    static let vectorBody = Array(#"{"test": 2432232314}"#.utf8)
    static let vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    /// The reference vector's id, timestamp and body with `header`, checked at its own time.
    static func verify(_ header: String, secrets: [WebhookSecret]) throws(WebhookVerificationError) -> WebhookVerifier.Match {
        try WebhookVerifier(secrets: secrets).verify(
            StandardWebhooksHeaders(id: vectorID, timestamp: String(vectorTimestamp), signature: header),
            body: vectorBody, now: vectorTimestamp)
    }

    @Test func knownVector() throws {
        let secret = try WebhookSecret(parsing: Self.vectorSecret)
        let header = WebhookSigner.signature(secrets: [secret], id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody)
        #expect(header == Self.vectorSignature)
        #expect(try Self.verify(header, secrets: [secret]).secretIndex == 0)
    }

    @Test func bareBase64SecretIsTheSameKey() throws {
        let prefixed = try WebhookSecret(parsing: Self.vectorSecret)
        let bare = try WebhookSecret(parsing: String(Self.vectorSecret.dropFirst("whsec_".count)))
        #expect(bare.key == prefixed.key)
        #expect(WebhookSigner.signature(secrets: [bare], id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody)
            == Self.vectorSignature)
    }

    @Test func rotationSignsWithEverySecretAndEachVerifies() throws {
        let old = try WebhookSecret(parsing: Self.vectorSecret)
        let new = WebhookSecret.generate()
        let header = WebhookSigner.signature(secrets: [new, old], id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody)
        let entries = header.split(separator: " ", omittingEmptySubsequences: false)
        #expect(entries.count == 2)
        #expect(!header.contains("  "))
        #expect(entries.allSatisfy { $0.hasPrefix("v1,") && $0.count == 3 + 44 })
        #expect(String(entries[1]) == Self.vectorSignature)
        #expect(String(entries[0]) == WebhookSigner.signature(secrets: [new], id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody))
        // A subscriber holding either secret accepts the request.
        #expect(try Self.verify(header, secrets: [old]).entryIndex == 1)
        #expect(try Self.verify(header, secrets: [new]).entryIndex == 0)
        // One holding neither does not.
        #expect(throws: WebhookVerificationError.noMatchingSignature) {
            try Self.verify(header, secrets: [WebhookSecret.generate()])
        }
        #expect(WebhookSigner.signature(secrets: [], id: "x", timestamp: 1, body: []) == "")
    }

    @Test func generatedSecretsAre32RandomBytesAndRoundTrip() throws {
        let first = WebhookSecret.generate()
        let second = WebhookSecret.generate()
        #expect(first.key.count == 32)
        #expect(first.key != second.key)
        #expect(first.serialized.hasPrefix("whsec_"))
        #expect(first.serialized.count == 6 + 44)
        #expect(try WebhookSecret(parsing: first.serialized).key == first.key)
        // Foundation's decoder agrees with ours.
        #expect(Data(base64Encoded: String(first.serialized.dropFirst(6))).map(Array.init) == first.key)
    }

    @Test func secretsNeverPrint() throws {
        let secret = try WebhookSecret(parsing: Self.vectorSecret)
        let body = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        var dumped = ""
        dump(secret, to: &dumped)
        for text in ["\(secret)", String(reflecting: secret), dumped, "\([secret])"] {
            #expect(!text.contains(body))
            #expect(!text.contains("MfKQ"))
        }
        #expect("\(secret)" == "WebhookSecret(redacted)")
    }

    @Test func invalidSecretsAreTypedErrors() {
        #expect(throws: WebhookSecretError.empty) { try WebhookSecret(parsing: "") }
        #expect(throws: WebhookSecretError.empty) { try WebhookSecret(parsing: "whsec_") }
        #expect(throws: WebhookSecretError.wrongPrefix("whsk_")) { try WebhookSecret(parsing: "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") }
        #expect(throws: WebhookSecretError.wrongPrefix("whpk_")) { try WebhookSecret(parsing: "whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") }
        #expect(throws: WebhookSecretError.wrongPrefix("")) { try WebhookSecret(parsing: "MfKQ9r8GKYqrTwjUPD8I_LPZIo2LaLaSw") }
        #expect(throws: WebhookSecretError.invalidBase64("the character at offset 9 is not in the base64 alphabet (A-Z, a-z, 0-9, '+', '/')")) {
            try WebhookSecret(parsing: "whsec_MfK-9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        }
        #expect(throws: WebhookSecretError.invalidBase64("its length (31 characters) is not a multiple of 4")) {
            try WebhookSecret(parsing: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS")
        }
        #expect(throws: WebhookSecretError.invalidBase64("the character at offset 3 is not in the base64 alphabet (A-Z, a-z, 0-9, '+', '/')")) {
            try WebhookSecret(parsing: "MfK-9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        }
        #expect(throws: WebhookSecretError.invalidBase64("the '=' padding at offset 34 is misplaced (only 1 or 2 may end the text)")) {
            try WebhookSecret(parsing: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La=aSw")
        }
        #expect(throws: WebhookSecretError.wrongLength(byteCount: 3)) { try WebhookSecret(parsing: "whsec_AAAA") }
        #expect(throws: WebhookSecretError.wrongLength(byteCount: 23)) { try WebhookSecret(bytes: Array(repeating: 1, count: 23)) }
        #expect(throws: WebhookSecretError.wrongLength(byteCount: 65)) { try WebhookSecret(bytes: Array(repeating: 1, count: 65)) }
        #expect(throws: WebhookSecretError.empty) { try WebhookSecret(bytes: []) }
        #expect((try? WebhookSecret(bytes: Array(repeating: 1, count: 64))) != nil)
        #expect((try? WebhookSecret(bytes: Array(repeating: 1, count: 24))) != nil)
    }

    @Test func secretErrorMessagesAreClearAndCarryNoKeyMaterial() {
        let secretBody = "SECRETmaterialXYZ0123456789abcdef"
        let attempts = ["whsk_" + secretBody, secretBody + "_x", "whsec_" + secretBody + "!", "whsec_" + "QUFBQUFBQUFBQUFB"]
        for attempt in attempts {
            do {
                _ = try WebhookSecret(parsing: attempt)
                Issue.record("'\(attempt)' was accepted")
            } catch {
                #expect(!error.description.contains("SECRET"))
                #expect(!error.description.contains("QUFB"))
                #expect(error.description.contains("signing secret"))
            }
        }
        #expect(WebhookSecretError.wrongLength(byteCount: 12).description
            == "The signing secret decodes to 12 bytes; Standard Webhooks requires 24 to 64 random bytes.")
    }

    @Test func base64MatchesFoundationOnEveryLength() throws {
        var generator = SystemRandomNumberGenerator()
        for length in 0...70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString())
            #expect(try Base64.decode(encoded) == bytes)
        }
        for bad in ["A", "AB=C", "A===", "====", "AAAA=", "AA=A", "AAA\n", "AA A"] {
            #expect(throws: Base64.DecodingError.self) { try Base64.decode(bad) }
        }
    }

    // MARK: - An independent implementation: Python's hmac module

    @Test(.enabled(if: PythonHMAC.isAvailable, "python3 is not installed"))
    func pythonComputesTheSameSignatures() throws {
        let vector = try WebhookSecret(parsing: Self.vectorSecret)
        #expect(try PythonHMAC.signature(secret: vector, id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody)
            == Self.vectorSignature)

        // Random secrets and bodies, including bytes that are not UTF-8 and a large body:
        // the body is signed as the exact bytes sent.
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 63, 64, 65, 1000, 70_000] {
            let secret = WebhookSecret.generate()
            let body = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let id = "evt_01J\(length)ABCDEFGHJKMNPQRST"
            let timestamp = 1_700_000_000 + length
            let ours = WebhookSigner.signature(secrets: [secret], id: id, timestamp: timestamp, body: body)
            #expect(try PythonHMAC.signature(secret: secret, id: id, timestamp: timestamp, body: body) == ours)
        }
    }
}

/// HMAC-SHA256 by Python's standard library, run as a child process. The inputs travel as
/// base64 lines through a file, so no shell quoting or argument-length limit is involved.
enum PythonHMAC {
    static let isAvailable = Python.canImport("hmac, hashlib, base64")

    private static let script = """
    import base64, hashlib, hmac, sys
    key, msg_id, timestamp, body = (base64.b64decode(part) for part in sys.stdin.read().split("\\n"))
    signed = msg_id + b"." + timestamp + b"." + body
    print("v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode())
    """

    static func signature(secret: WebhookSecret, id: String, timestamp: Int, body: [UInt8]) throws -> String {
        let key = String(secret.serialized.dropFirst(WebhookSecret.prefix.count))
        // One field a line; an empty body is an empty last line, which decodes to b"".
        let fields = [key, Data(id.utf8).base64EncodedString(), Data(String(timestamp).utf8).base64EncodedString(),
                      Data(body).base64EncodedString()]
        return try Python.run(script, input: Array(fields.joined(separator: "\n").utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
