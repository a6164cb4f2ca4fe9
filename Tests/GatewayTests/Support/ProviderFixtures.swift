import Foundation
import Gateway
import TestSupport
import Testing

/// Fixtures/providers/fixtures.json: signed provider requests made by make_fixtures.py beside
/// it, with Python's hmac/hashlib/cryptography (not our code), and what verifying each must
/// conclude.
enum ProviderFixtures {
    static let directory = OpenAPIContract.packageRoot.appendingPathComponent("Tests/GatewayTests/Fixtures/providers")
    static let file = directory.appendingPathComponent("fixtures.json")
    static let script = directory.appendingPathComponent("make_fixtures.py")

    /// The file, read once; a failure to read it is reported by a test, not a crash.
    static let loaded: Result<Document, any Error> = Result {
        try JSONDecoder().decode(Document.self, from: Data(contentsOf: file))
    }

    /// The case names, for a parameterized test (empty when the file cannot be read).
    static var caseNames: [String] { (try? loaded.get())?.cases.map(\.name) ?? [] }

    struct Document: Decodable {
        /// Microseconds since the epoch: when every case is verified.
        let now: Int64
        let bodies: [String: String]
        let cases: [Case]

        func `case`(named name: String) -> Case? { cases.first { $0.name == name } }
    }

    struct Case: Decodable {
        let name: String
        let settings: Settings
        let headers: [[String]]
        let body: String
        let expect: Expectation
        let covers: [String]

        func request(in document: Document) throws -> InboundRequest {
            let text = try #require(document.bodies[body], "no body named \(body)")
            let fields = try headers.map { pair in
                guard pair.count == 2 else { throw FixtureError("header \(pair) is not a name and a value") }
                return (name: pair[0], value: pair[1])
            }
            return InboundRequest(headers: fields, body: Array(text.utf8))
        }
    }

    struct Settings: Decodable {
        struct Secret: Decodable {
            let value: String
            let expiresAt: Int64?
        }
        let scheme: String
        let secrets: [Secret]
        let tolerance: Int
        let publicKeys: [String]
        let header: String?
        let algorithm: String?
        let encoding: String?
        let prefix: String?
        let timestampHeader: String?
        let username: String?

        func verificationSettings() throws -> VerificationSettings {
            let scheme = try #require(VerificationScheme(rawValue: self.scheme), "unknown scheme \(self.scheme)")
            var settings = VerificationSettings(scheme: scheme)
            settings.secrets = secrets.map { SourceSecret(value: $0.value, expiresAt: $0.expiresAt) }
            settings.tolerance = tolerance
            settings.publicKeys = publicKeys
            settings.header = header
            if let algorithm { settings.algorithm = try #require(.init(rawValue: algorithm)) }
            if let encoding { settings.encoding = try #require(.init(rawValue: encoding)) }
            settings.prefix = prefix
            settings.timestampHeader = timestampHeader
            settings.username = username
            return settings
        }
    }

    struct Expectation: Decodable {
        let verified: Bool
        let deliveryID: String?
        let providerType: String?
        let challenge: String?
        /// A `VerificationFailure.Check` raw value, when refused.
        let check: String?
    }

    struct FixtureError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
