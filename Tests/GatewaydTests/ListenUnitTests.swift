import Foundation
import Gateway
@testable import gatewayd
import HTTPServer
import Testing

/// `gatewayd listen`'s pure parts: option parsing, the answer policy, the verification
/// verdicts and the report, without sockets or processes.
@Suite("gatewayd listen: options, answers, reports")
struct ListenUnitTests {
    static let vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let otherSecret = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()
    static let vectorID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let vectorTimestamp = 1_614_265_330
    static let vectorBody = Array(#"{"test": 2432232314}"#.utf8)
    static let vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    static func settings(_ arguments: [String]) throws -> ListenSettings {
        try Listen.parse(arguments).settings()
    }

    // MARK: - Options

    @Test func defaults() throws {
        let settings = try Self.settings([])
        #expect(settings.address.description == "127.0.0.1:9000")
        #expect(settings.secrets.isEmpty)
        #expect(settings.tolerance == 300)
        #expect(settings.answers == ListenAnswerPolicy.Configuration())
        #expect(!settings.json)
    }

    @Test func everyOptionIsRead() throws {
        let settings = try Self.settings([
            "--port", "0", "--host", "::1", "--secret", Self.otherSecret + "," + Self.vectorSecret, "--secret", Self.vectorSecret,
            "--fail-rate", "0.25", "--status", "503", "--delay", "250ms", "--retry-after", "1.5s", "--tolerance", "1h",
            "--seed", "42", "--json",
        ])
        #expect(settings.address.description == "[::1]:0")
        #expect(settings.secrets.count == 3)
        #expect(settings.tolerance == 3600)
        #expect(settings.answers == ListenAnswerPolicy.Configuration(
            failRate: 0.25, failureStatus: 503, delay: .milliseconds(250), retryAfterSeconds: 2, seed: 42))
        #expect(settings.json)
        #expect(try Self.settings(["--host", "localhost"]).address.description == "127.0.0.1:9000")
    }

    @Test(arguments: [
        ["--port", "x"], ["--port", "65536"], ["--host", "example.com"], ["--secret", "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        ["--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,whsec_QUFBQUFB"], ["--fail-rate", "1.5"],
        ["--fail-rate", "often"], ["--status", "199"], ["--status", "600"], ["--delay", "2"], ["--delay", "0s"],
        ["--retry-after", "0s"], ["--tolerance", "forever"], ["--seed", "x"],
    ])
    func aBadValueIsOneLineNamingItsOption(_ arguments: [String]) {
        #expect {
            _ = try Listen.parse(arguments)
        } throws: { error in
            let message = Listen.message(for: error)
            return message.hasPrefix(arguments[0] + ": ") && !message.contains("\n") && !message.contains("QUFBQUFB")
                && !message.contains("MfKQ9r8G")
        }
    }

    @Test func aBadSecretAmongSeveralIsNamedByPosition() {
        #expect {
            _ = try Listen.parse(["--secret", Self.vectorSecret + ",nonsense!"])
        } throws: { error in
            Listen.message(for: error).hasPrefix("--secret: secret 2 of 2: ")
        }
    }

    // MARK: - Answers

    @Test func answersFollowTheOptions() {
        let plain = ListenAnswerPolicy(.init())
        #expect((1...50).allSatisfy { plain.answer(toRequest: $0) == .init(status: 204, reason: .success) })
        let always = ListenAnswerPolicy(.init(failRate: 1, retryAfterSeconds: 10))
        #expect((1...50).allSatisfy { always.answer(toRequest: $0) == .init(status: 500, reason: .failRate, retryAfterSeconds: 10) })
        let never = ListenAnswerPolicy(.init(failRate: 0, failureStatus: 503))
        #expect((1...50).allSatisfy { never.answer(toRequest: $0).status == 204 })
        let statusAlone = ListenAnswerPolicy(.init(failureStatus: 503, delay: .seconds(2)))
        #expect(statusAlone.answer(toRequest: 1) == .init(status: 503, reason: .status, delay: .seconds(2)))
        let slow = ListenAnswerPolicy(.init(delay: .milliseconds(250)))
        #expect(slow.answer(toRequest: 7) == .init(status: 204, reason: .success, delay: .milliseconds(250)))
    }

    @Test func theFailRateIsKeptAndASeedRepeatsTheRun() {
        let policy = ListenAnswerPolicy(.init(failRate: 0.3, seed: 1))
        let failures = (1...10_000).filter { policy.answer(toRequest: $0).status == 500 }
        #expect((2700...3300).contains(failures.count), "\(failures.count) of 10000 failed at a rate of 0.3")
        let again = ListenAnswerPolicy(.init(failRate: 0.3, seed: 1))
        #expect((1...10_000).filter { again.answer(toRequest: $0).status == 500 } == failures)
        let other = ListenAnswerPolicy(.init(failRate: 0.3, seed: 2))
        #expect((1...10_000).filter { other.answer(toRequest: $0).status == 500 } != failures)
    }

    @Test func aFailureIsAProblemDocumentWithRetryAfter() throws {
        let response = ListenResponder.response(.init(status: 503, reason: .failRate, retryAfterSeconds: 30))
        #expect(response.status == 503)
        #expect(response.headers["Retry-After"] == "30")
        #expect(response.headers["Content-Type"] == "application/problem+json")
        let problem = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(problem["status"] as? Int == 503)
        #expect((problem["detail"] as? String)?.contains("--fail-rate") == true)
        let success = ListenResponder.response(.init(status: 204, reason: .success))
        #expect(success.status == 204 && success.body.isEmpty && success.headers["Retry-After"] == nil)
    }

    // MARK: - Verification verdicts

    static func vectorHeaders(signature: String = vectorSignature, timestamp: Int = vectorTimestamp) -> HTTPHeaders {
        ["webhook-id": vectorID, "webhook-timestamp": String(timestamp), "webhook-signature": signature,
         "Content-Type": "application/json"]
    }

    static func verification(_ headers: HTTPHeaders, body: [UInt8] = vectorBody, secrets: [String] = [vectorSecret],
                             now: Int = vectorTimestamp + 2) throws -> ReceivedRequest.Verification {
        let verifier = WebhookVerifier(secrets: try secrets.map { try WebhookSecret(parsing: $0) })
        return ReceivedRequest.Verification(checking: headers, body: body, with: verifier, now: now)
    }

    @Test func verdictsSayWhatWasFound() throws {
        #expect(try Self.verification(Self.vectorHeaders()).summary == "valid (v1, key 1)")
        #expect(try Self.verification(Self.vectorHeaders(), secrets: [Self.otherSecret, Self.vectorSecret]).summary == "valid (v1, key 2)")
        let rotated = Self.vectorHeaders(signature: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= " + Self.vectorSignature)
        #expect(try Self.verification(rotated).summary == "valid (v1, key 1, entry 2 of 2)")
        #expect(try Self.verification(Self.vectorHeaders(), body: Self.vectorBody + [0x20]).summary == "INVALID (no v1 signature matches)")
        #expect(try Self.verification(Self.vectorHeaders(), secrets: [Self.otherSecret]).summary == "INVALID (no v1 signature matches)")
        #expect(try Self.verification(["Content-Type": "application/json"]).summary == "INVALID (no webhook-id header)")
        #expect(try Self.verification(Self.vectorHeaders(signature: "v1a,abc")).summary == "INVALID (no v1 signature in webhook-signature)")
        let stale = try Self.verification(Self.vectorHeaders(), now: Self.vectorTimestamp + 720)
        #expect(stale.summary == "INVALID (timestamp too old by 7m: sent 12m ago, tolerance 5m; the signature itself matches key 1)")
        #expect(stale.verdict == "invalid")
        let future = try Self.verification(Self.vectorHeaders(), body: [], now: Self.vectorTimestamp - 600)
        #expect(future.summary == "INVALID (timestamp too new by 5m: 10m in the future, tolerance 5m; the signature does not match either)")
        let unchecked = ReceivedRequest.Verification(checking: Self.vectorHeaders(), body: Self.vectorBody, with: nil, now: 0)
        #expect(unchecked == .unchecked && unchecked.verdict == "unchecked")
    }

    // MARK: - Reports

    static func request(
        headers: HTTPHeaders = vectorHeaders(), body: [UInt8] = vectorBody,
        verification: ReceivedRequest.Verification = .valid(.init(version: "v1", secretIndex: 0, entryIndex: 0), entries: 1),
        sighting: ReceivedRequest.Sighting? = .init(count: 1), answer: ListenAnswerPolicy.Answer = .init(status: 204, reason: .success)
    ) -> ReceivedRequest {
        ReceivedRequest(number: 3, receivedAt: Int64(vectorTimestamp + 2) * 1_000_000 + 250_000, method: "POST",
                        target: "/hook?x=1", headers: headers, body: body, verification: verification, sighting: sighting,
                        answer: answer, failRate: 0.3)
    }

    @Test func theReadableReport() {
        var headers = Self.vectorHeaders()
        headers.add(name: "Host", value: "127.0.0.1:9000")
        headers.add(name: "User-Agent", value: "webhook-gateway")
        headers.add(name: "X-Team", value: "billing")
        headers.add(name: "Authorization", value: "Bearer abcdefghijkl")
        let text = ListenReport.text(Self.request(
            headers: headers, sighting: .init(count: 2, microsecondsSincePrevious: 5_040_000),
            answer: .init(status: 500, reason: .failRate, delay: .seconds(2), retryAfterSeconds: 10)))
        #expect(text == """
            #3  POST /hook?x=1  2021-02-25T15:02:12.250000Z
              webhook-id         msg_p5jXN8AQM9LWM0D4loKWxJek  (delivery 2 of this id, +5.0s)
              webhook-timestamp  1614265330  (2s ago)
              webhook-signature  v1,g0hM9SsE…
              content-type       application/json
              user-agent         webhook-gateway
              x-team             billing
              authorization      Bearer … (redacted, 19 characters)
              signature          valid (v1, key 1)
              body               20 bytes of JSON
              {
                "test": 2432232314
              }
              → 500 Internal Server Error (fail-rate 0.3), held 2s, Retry-After: 10


            """)
        #expect(!text.contains("abcdefghijkl"))
    }

    @Test func colourIsOnlyForTerminals() {
        let plain = ListenReport.text(Self.request())
        let coloured = ListenReport.text(Self.request(), style: .init(colours: true))
        #expect(!plain.contains("\u{1B}["))
        #expect(coloured.contains("\u{1B}[32mvalid (v1, key 1)\u{1B}[0m"))
    }

    @Test func bodiesThatAreNotJSONAreShownSafely() {
        let hostile = ListenReport.text(Self.request(headers: ["Content-Type": "application/json"],
                                                     body: Array("clear\u{1B}[2J\u{07}done\nline two".utf8), verification: .unchecked))
        #expect(hostile.contains("body               23 bytes of text (declared JSON, but: "))
        #expect(hostile.contains("  clear\\u{1b}[2J\\u{7}done\n  line two\n"))
        #expect(!hostile.contains("\u{1B}"))
        let binary = ListenReport.text(Self.request(body: [0xFF, 0xFE, 0x00, 0x01], verification: .unchecked))
        #expect(binary.contains("body               4 bytes, not UTF-8 text; starts ff fe 00 01\n"))
        let empty = ListenReport.text(Self.request(body: [], verification: .unchecked))
        #expect(empty.contains("body               (empty)\n"))
    }

    @Test func aHugeBodyIsCut() {
        let body = Array(String(repeating: "é", count: 20_000).utf8)  // 40,000 bytes of two-byte characters
        let text = ListenReport.text(Self.request(headers: [:], body: body, verification: .unchecked))
        #expect(text.contains("(23616 more bytes not shown)"))
        #expect(text.utf8.count < 17_000)
        #expect(!text.contains("\u{FFFD}"))
    }

    @Test func theJSONLineCarriesEverythingOnOneLine() throws {
        let line = ListenReport.jsonLine(Self.request(
            body: Array("{\n  \"test\": 2432232314,\n  \"big\": 123456789012345678901\n}".utf8),
            answer: .init(status: 503, reason: .status, delay: .milliseconds(250))))
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")))
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""body":{"test":2432232314,"big":123456789012345678901}"#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["n"] as? Int == 3)
        #expect(object["method"] as? String == "POST")
        #expect(object["target"] as? String == "/hook?x=1")
        #expect(object["signature"] as? String == "valid")
        #expect(object["verification"] as? String == "valid (v1, key 1)")
        #expect(object["key"] as? Int == 1)
        #expect(object["seen"] as? Int == 1)
        #expect(object["status"] as? Int == 503)
        #expect(object["reason"] as? String == "status")
        #expect(object["delayMs"] as? Int == 250)
        let headers = try #require(object["headers"] as? [String: String])
        #expect(headers["webhook-signature"] == "v1,g0hM9SsE…")
        #expect(headers["webhook-id"] == Self.vectorID)
        let textBody = try JSONSerialization.jsonObject(with: Data(ListenReport.jsonLine(Self.request(body: Array("a\u{1B}b".utf8)))))
        #expect((textBody as? [String: Any])?["bodyText"] as? String == "a\u{1B}b")
    }

    @Test func durationsReadAsPeopleSayThem() {
        #expect(ListenFormat.seconds(0) == "0s")
        #expect(ListenFormat.seconds(59) == "59s")
        #expect(ListenFormat.seconds(60) == "1m")
        #expect(ListenFormat.seconds(450) == "7m30s")
        #expect(ListenFormat.seconds(7500) == "2h5m")
        #expect(ListenFormat.seconds(90_000) == "1d1h")
        #expect(ListenFormat.seconds(-5) == "-5s")
        #expect(!ListenFormat.seconds(Int.max).isEmpty)
        #expect(ListenFormat.interval(microseconds: 250_000) == "250ms")
        #expect(ListenFormat.interval(microseconds: 5_049_999) == "5.0s")
        #expect(ListenFormat.interval(microseconds: 29_960_000) == "30.0s")
        #expect(ListenFormat.interval(microseconds: 120_000_000) == "2m")
    }
}
