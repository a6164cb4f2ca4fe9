import Foundation
@testable import Delivery
@testable import Gateway
import HTTPServer
import Logging
import TargetPolicy
import TestSupport

/// The gateway as `gatewayd serve` wires it — journal, core, HTTP API and the webhook
/// dispatcher — on 127.0.0.1 port 0 in a scratch directory: for tests that publish through
/// the API and watch real receivers get (or not get) the deliveries. Answers are checked
/// against openapi.yaml as in GatewayTests' harness.
final class LiveGateway {
    static let adminToken = "adm_live_test"

    let directory = NSTemporaryDirectory() + "live-gateway-" + UUID().uuidString
    let store: JournalStore
    let core: GatewayCore
    let dispatcher: WebhookDispatcher
    let server: HTTPServer
    let port: UInt16

    init(tenantDefaults: TenantDefaults = TenantDefaults()) throws {
        let logger = Logger(label: "live-gateway") { _ in SwiftLogNoOpLogHandler() }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try JournalStore(configuration: JournalStore.Configuration(directory: directory + "/journal"), logger: logger)
        var coreConfiguration = GatewayCore.Configuration()
        coreConfiguration.targetPolicy = TargetAddressPolicy(allowPrivate: true)
        coreConfiguration.tenantDefaults = tenantDefaults
        core = try GatewayCore(configuration: coreConfiguration, store: store)
        var dispatcherConfiguration = WebhookDispatcher.Configuration()
        dispatcherConfiguration.tenantDeliveryRateLimit = tenantDefaults.deliveryRateLimit
        dispatcherConfiguration.engine.timeout = .seconds(2)
        dispatcher = WebhookDispatcher(store: store, status: core.deliveryStatus, configuration: dispatcherConfiguration, logger: logger)
        try dispatcher.start()
        var router = Router()
        GatewayAPI.register(on: &router, core: core, adminToken: Self.adminToken)
        var serverConfiguration = HTTPServerConfiguration(address: try SocketAddress(host: "127.0.0.1", port: 0))
        serverConfiguration.eventLoopCount = 1
        server = HTTPServer(configuration: serverConfiguration, responder: router, logger: logger)
        port = try server.start().port
    }

    deinit {
        server.shutdown(gracePeriod: .seconds(1))
        server.wait()
        dispatcher.shutdown()
        core.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// One request, its answer checked against openapi.yaml.
    func request(_ method: String, _ path: String, token: String? = LiveGateway.adminToken, body: String? = nil) throws -> TestResponse {
        let response = try HTTPTestClient.request(port: port, method, path, token: token, body: body)
        try OpenAPIContract.repository.verify(method, path, response)
        return response
    }
}
