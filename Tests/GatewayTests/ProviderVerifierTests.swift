import Foundation
@testable import Gateway
import TestSupport
import Testing

/// Provider signature verification (issue 12), against requests signed independently of this
/// code: Fixtures/providers/fixtures.json, made by make_fixtures.py with Python's hmac,
/// hashlib and cryptography from payloads shaped like the providers' documented examples.
@Suite("Provider verification")
struct ProviderVerifierTests {
    typealias Fixtures = ProviderFixtures

    @Test("a fixture case", arguments: ProviderFixtures.caseNames)
    func fixtureCase(_ name: String) throws {
        let document = try Fixtures.loaded.get()
        let fixture = try #require(document.case(named: name))
        let settings = try fixture.settings.verificationSettings()
        let result = ProviderVerifier.verify(try fixture.request(in: document), with: settings, now: document.now)
        let expect = fixture.expect
        switch result {
        case .success(let verified):
            guard expect.verified else {
                Issue.record("verified, but \(expect.check ?? "a refusal") was expected")
                return
            }
            #expect(verified.deliveryID == expect.deliveryID)
            #expect(verified.providerType == expect.providerType)
            #expect(verified.challenge == expect.challenge)
        case .failure(let failure):
            #expect(!expect.verified, "refused (\(failure.check.rawValue): \(failure.detail)), but it should verify")
            #expect(failure.check.rawValue == expect.check, "\(failure.detail)")
            Self.expectNothingSecret(in: failure.detail, settings: settings, request: try fixture.request(in: document))
        }
    }

    /// The fixture file cannot quietly lose the cases that matter: every scheme keeps its
    /// valid, tampered, wrong-secret, header and rotation cases, and the timestamped schemes
    /// their stale and future ones.
    @Test func theFixturesCoverEveryScheme() throws {
        let document = try Fixtures.loaded.get()
        var covered: [String: Set<String>] = [:]
        for fixture in document.cases { covered[fixture.settings.scheme, default: []].formUnion(fixture.covers) }
        let everywhere: Set = ["valid", "wrong-secret", "missing-header", "duplicated-header",
                               "rotation-previous-valid", "rotation-current-valid", "rotation-expired"]
        let signed: Set = ["tampered", "malformed-header"]
        let timestamped: Set = ["stale-timestamp", "future-timestamp"]
        let required: [String: Set<String>] = [
            "github": everywhere.union(signed).union(["large-payload", "dedupe-id", "provider-type"]),
            "stripe": everywhere.union(signed).union(timestamped).union(["multiple-signatures", "dedupe-id", "provider-type"]),
            "shopify": everywhere.union(signed).union(["dedupe-id", "provider-type"]),
            "slack": everywhere.union(signed).union(timestamped).union(["challenge", "dedupe-id", "provider-type"]),
            "gitlab": everywhere.union(["dedupe-id", "provider-type"]),
            "standard-webhooks": everywhere.union(signed).union(timestamped)
                .union(["multiple-signatures", "dedupe-id", "provider-type"]),
            "hmac": everywhere.union(signed).union(timestamped).union(["dedupe-id"]),
            "basic": everywhere.union(["malformed-header"]),
            "none": ["valid"],
        ]
        for scheme in VerificationScheme.allCases {
            let missing = required[scheme.rawValue, default: ["valid"]].subtracting(covered[scheme.rawValue, default: []])
            #expect(missing.isEmpty, "\(scheme.rawValue) has no fixture for \(missing.sorted())")
        }
        // Every refusal the verifiers can give is exercised by some fixture.
        let checks = Set(document.cases.compactMap(\.expect.check))
        for check in [VerificationFailure.Check.missingHeader, .duplicatedHeader, .malformedHeader, .staleTimestamp,
                      .futureTimestamp, .signatureMismatch, .credentials] {
            #expect(checks.contains(check.rawValue), "no fixture is refused with \(check.rawValue)")
        }
    }

    @Test func theGitHubPushIsRealisticallyLarge() throws {
        let document = try Fixtures.loaded.get()
        let push = try #require(document.bodies["github-push"])
        #expect((5_000...30_000).contains(push.utf8.count), "\(push.utf8.count) bytes")
        #expect(push.utf8.contains { $0 >= 0x80 }, "the push should carry non-ASCII UTF-8, signed as bytes")
    }

    /// The committed fixtures are exactly what the script makes, so they and their derivation
    /// cannot drift apart.
    @Test(.enabled(if: Python.canImport("hmac, hashlib, base64, cryptography"), "python3 with 'cryptography' is not installed"))
    func theFixturesAreWhatTheScriptMakes() throws {
        let script = try String(contentsOf: Fixtures.script, encoding: .utf8)
        let made = try Python.run(script, input: [])
        let committed = try String(contentsOf: Fixtures.file, encoding: .utf8)
        #expect(made == committed, "run 'python3 make_fixtures.py > fixtures.json' in \(Fixtures.directory.path)")
    }

    // MARK: - What the fixtures do not show

    /// A refusal's detail names the check, never a secret, a public key or a presented or
    /// expected signature.
    static func expectNothingSecret(in detail: String, settings: VerificationSettings, request: InboundRequest,
                                    sourceLocation: SourceLocation = #_sourceLocation) {
        var secrets = settings.secrets.map(\.value) + settings.publicKeys
        secrets += request.headers.map(\.value).filter { $0.count >= 16 }
        for secret in secrets where detail.contains(secret) {
            Issue.record("the detail '\(detail)' quotes a secret or a signature", sourceLocation: sourceLocation)
        }
    }

    static let secret = "s3cret-for-hand-made-cases"

    static func github(_ headers: [(String, String)], body: String = "{}") -> Result<VerifiedRequest, VerificationFailure> {
        var settings = VerificationSettings(scheme: .github)
        settings.secrets = [SourceSecret(value: secret)]
        return ProviderVerifier.verify(InboundRequest(headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8)),
                                       with: settings, now: 1_767_225_600_000_000)
    }

    @Test func signatureMismatchSaysHowMuchWasTried() throws {
        let document = try Fixtures.loaded.get()
        let fixture = try #require(document.case(named: "stripe several v1 signatures, none valid"))
        let failure = try #require(ProviderVerifier.verify(try fixture.request(in: document),
                                                           with: try fixture.settings.verificationSettings(),
                                                           now: document.now).failureValue)
        #expect(failure.detail == "No signature matched the body: 2 signatures checked against 1 active secret.")
    }

    /// A secret verifies until the microsecond its overlap ends, not at it; with none left,
    /// nothing verifies.
    @Test func aSecretStopsVerifyingWhenItExpires() throws {
        let document = try Fixtures.loaded.get()
        let fixture = try #require(document.case(named: "github push"))
        let request = try fixture.request(in: document)
        var settings = try fixture.settings.verificationSettings()
        settings.secrets[0].expiresAt = document.now + 1
        #expect(ProviderVerifier.verify(request, with: settings, now: document.now).isSuccess)
        settings.secrets[0].expiresAt = document.now
        let failure = try #require(ProviderVerifier.verify(request, with: settings, now: document.now).failureValue)
        #expect(failure.check == .signatureMismatch)
        #expect(failure.detail == "No signature matched the body: 1 signature checked against 0 active secrets.")
    }

    @Test func hostileTimestampsAreMalformedNotATrap() throws {
        var settings = VerificationSettings(scheme: .slack)
        settings.secrets = [SourceSecret(value: Self.secret)]
        for timestamp in ["99999999999999999999999", "-5", "+5", "1.5", " 5", "", "0x10", "١٢٣"] {
            let request = InboundRequest(headers: [("X-Slack-Request-Timestamp", timestamp),
                                                   ("X-Slack-Signature", "v0=" + String(repeating: "ab", count: 32))], body: [])
            let failure = try #require(ProviderVerifier.verify(request, with: settings, now: 1_767_225_600_000_000).failureValue,
                                       "\(timestamp) verified")
            #expect(failure.check == .malformedHeader, "\(timestamp): \(failure.detail)")
        }
        // Far but parseable: stale or future, told apart, without overflowing.
        for (timestamp, check) in [("0", VerificationFailure.Check.staleTimestamp), ("999999999999999999", .futureTimestamp)] {
            let request = InboundRequest(headers: [("X-Slack-Request-Timestamp", timestamp),
                                                   ("X-Slack-Signature", "v0=" + String(repeating: "ab", count: 32))], body: [])
            #expect(ProviderVerifier.verify(request, with: settings, now: 1_767_225_600_000_000).failureValue?.check == check)
        }
    }

    @Test func gitHubTypeIgnoresBodiesThatAreNotOneUnambiguousObject() {
        #expect(GitHubVerification.providerType(event: "issues", fields: BodyFields(json: Array(#"{"action":"opened"}"#.utf8))) == "issues.opened")
        #expect(GitHubVerification.providerType(event: "issues", fields: BodyFields(json: Array(#"{"action":7}"#.utf8))) == "issues")
        #expect(GitHubVerification.providerType(event: "issues", fields: BodyFields(json: Array(#"{"action":""}"#.utf8))) == "issues")
        #expect(GitHubVerification.providerType(event: "issues", fields: BodyFields(json: Array(#"{"action":"a","action":"b"}"#.utf8))) == "issues")
        #expect(GitHubVerification.providerType(event: "issues", fields: BodyFields(json: Array(#"["action"]"#.utf8))) == "issues")
        #expect(GitHubVerification.providerType(event: "issues", fields: BodyFields(json: Array("payload=%7B%7D".utf8))) == "issues")
        // Only the top level counts: a nested "action" is some other object's.
        #expect(GitHubVerification.providerType(event: "issues", fields: BodyFields(json: Array(#"{"issue":{"action":"x"}}"#.utf8))) == "issues")
    }

    @Test func slackDescribesWhatTheBodySays() {
        func described(_ json: String) -> VerifiedRequest { SlackVerification.described(by: BodyFields(json: Array(json.utf8))) }
        #expect(described(#"{"type":"event_callback","event_id":"Ev1","event":{"type":"message"}}"#)
                == VerifiedRequest(deliveryID: "Ev1", providerType: "message"))
        // An event_callback whose event names no type keeps the outer type.
        #expect(described(#"{"type":"event_callback","event_id":"Ev1","event":{}}"#)
                == VerifiedRequest(deliveryID: "Ev1", providerType: "event_callback"))
        #expect(described(#"{"type":"app_rate_limited","team_id":"T1"}"#) == VerifiedRequest(providerType: "app_rate_limited"))
        #expect(described(#"{"type":"url_verification"}"#) == VerifiedRequest(providerType: "url_verification"))
    }

    @Test func headerNamesCompareWithoutCaseAndNothingElse() {
        #expect(InboundRequest.sameName("X-Hub-Signature-256", "x-hub-signature-256"))
        #expect(InboundRequest.sameName("WEBHOOK-ID", "webhook-id"))
        #expect(!InboundRequest.sameName("webhook-id", "webhook_id"))
        #expect(!InboundRequest.sameName("webhook-id", "webhook-i"))
        // Folding the 0x20 bit is only right for letters: '[' (0x5B) is not '{' (0x7B).
        #expect(!InboundRequest.sameName("a[", "a{"))
    }

    @Test func hexDecodingIsStrict() {
        #expect(MessageAuthentication.decodeHex("00ff7F") == [0x00, 0xFF, 0x7F])
        #expect(MessageAuthentication.decodeHex("") == nil)
        #expect(MessageAuthentication.decodeHex("abc") == nil)
        #expect(MessageAuthentication.decodeHex("zz") == nil)
        #expect(MessageAuthentication.decodeHex("0x") == nil)
    }

    @Test func stripeHeaderParsing() throws {
        let mac = String(repeating: "0a", count: 32)
        let parsed = try StripeVerification.parse("t=12, v1=\(mac),v1=\(mac),v0=zz,scheme=x")
        #expect(parsed.timestamp == 12)
        #expect(parsed.signatures.count == 2)
        for header in ["t=1,t=2,v1=\(mac)", "t=1,v1=abc", "t=1,v1", "t=1,,v1=\(mac)", "v1=\(mac)", "t=1"] {
            #expect(throws: VerificationFailure.self, "\(header)") { try StripeVerification.parse(header) }
        }
    }

    @Test func basicCredentialsSplitAtTheFirstColon() throws {
        let value = "Basic " + Base64Helper.encode("ingest:pass:with:colons")
        let credentials = try BasicVerification.credentials(value)
        #expect(credentials.user == "ingest")
        #expect(credentials.password == "pass:with:colons")
        #expect(throws: VerificationFailure.self) { try BasicVerification.credentials("Basic") }
        #expect(throws: VerificationFailure.self) { try BasicVerification.credentials("Basic !!!!") }
    }

    @Test func misconfiguredSourcesAreFoundBeforeTheyAreUsed() {
        func problem(_ scheme: VerificationScheme, _ change: (inout VerificationSettings) -> Void = { _ in }) -> String? {
            var settings = VerificationSettings(scheme: scheme)
            change(&settings)
            return settings.configurationProblem
        }
        #expect(problem(.none) == nil)
        #expect(problem(.github) != nil, "a github source without a secret")
        #expect(problem(.github) { $0.secrets = [SourceSecret(value: "x")] } == nil)
        #expect(problem(.github) { $0.secrets = [SourceSecret(value: "x")]; $0.tolerance = -1 } != nil)
        #expect(problem(.hmac) { $0.secrets = [SourceSecret(value: "x")] } != nil, "an hmac source without a header")
        #expect(problem(.hmac) { $0.secrets = [SourceSecret(value: "x")]; $0.header = "X-Sig" } == nil)
        #expect(problem(.basic) { $0.secrets = [SourceSecret(value: "x")] } != nil, "a basic source without a user")
        #expect(problem(.basic) { $0.secrets = [SourceSecret(value: "x")]; $0.username = "a:b" } != nil)
        #expect(problem(.basic) { $0.secrets = [SourceSecret(value: "x")]; $0.username = "ingest" } == nil)
        #expect(problem(.standardWebhooks) != nil)
        #expect(problem(.standardWebhooks) { $0.secrets = [SourceSecret(value: "not a whsec")] } != nil)
        #expect(problem(.standardWebhooks) { $0.secrets = [SourceSecret(value: WebhookSecret.generate().serialized)] } == nil)
        #expect(problem(.standardWebhooks) { $0.publicKeys = ["whpk_AAAA"] } != nil)
        // And one that slipped through is refused as the operator's mistake, not the sender's.
        var settings = VerificationSettings(scheme: .hmac)
        settings.secrets = [SourceSecret(value: "x")]
        let failure = ProviderVerifier.verify(InboundRequest(headers: [], body: []), with: settings, now: 0).failureValue
        #expect(failure?.check == .sourceMisconfigured)
    }

    @Test func aMissingSignatureIsReportedBeforeAnyMetadataProblem() throws {
        // Two X-GitHub-Event headers, but no signature: the refusal is about authentication.
        let failure = try #require(Self.github([("X-GitHub-Event", "push"), ("X-GitHub-Event", "ping")]).failureValue)
        #expect(failure.check == .missingHeader)
        #expect(failure.detail == "The request has no 'X-Hub-Signature-256' header.")
    }
}

/// Base64 for building test input, through Foundation (not the code under test).
enum Base64Helper {
    static func encode(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }

    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
