import Foundation
@testable import Gateway
import HTTPServer
import TargetPolicy
import TestSupport
import Logging

/// A real gateway — journal on disk, HTTP server on 127.0.0.1 port 0 — in a scratch
/// directory that outlives restarts of the gateway and is removed at the end.
final class GatewayHarness {
    static let adminToken = "adm_test_token"

    let directory: String
    private(set) var core: GatewayCore!
    private(set) var server: HTTPServer!
    private(set) var port: UInt16 = 0
    var configure: (inout GatewayCore.Configuration, inout HTTPServerConfiguration) -> Void

    init(directory: String? = nil, configure: @escaping (inout GatewayCore.Configuration, inout HTTPServerConfiguration) -> Void = { _, _ in }) throws {
        self.directory = directory ?? NSTemporaryDirectory() + "gateway-test-" + UUID().uuidString
        self.configure = configure
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        try start()
    }

    func start() throws {
        var coreConfiguration = GatewayCore.Configuration(dataDirectory: directory)
        // Tests point subscriptions at loopback receivers and at names that cannot resolve
        // offline; the target policy has its own tests.
        coreConfiguration.targetPolicy = TargetAddressPolicy(allowPrivate: true)
        var serverConfiguration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
        serverConfiguration.eventLoopCount = 1
        configure(&coreConfiguration, &serverConfiguration)
        let logger = Logger(label: "gateway-test") { _ in SwiftLogNoOpLogHandler() }
        core = try GatewayCore(configuration: coreConfiguration, logger: logger)
        var router = Router()
        GatewayAPI.register(on: &router, core: core, adminToken: Self.adminToken)
        server = HTTPServer(configuration: serverConfiguration, responder: router, logger: logger)
        port = try server.start().port
    }

    func stop() {
        server?.shutdown(gracePeriod: .seconds(2))
        server?.wait()
        core?.close()
        server = nil
        core = nil
    }

    func restart() throws {
        stop()
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func request(
        _ method: String, _ path: String, token: String? = GatewayHarness.adminToken,
        headers: [(String, String)] = [], body: String? = nil, contentType: String? = "application/json"
    ) throws -> TestResponse {
        try HTTPTestClient.request(port: port, method, path, token: token, headers: headers, body: body, contentType: contentType)
    }
}
