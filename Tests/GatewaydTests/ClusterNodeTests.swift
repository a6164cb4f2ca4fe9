import Foundation
import HTTPServer
import Synchronization
import TestSupport
import Testing

/// Cluster mode with real gatewayd processes on one throwaway PostgreSQL: a node killed with
/// SIGKILL loses its advisory lock with its connection, another node takes its shards over,
/// and every acknowledged event still reaches every subscription (the ones in flight at the
/// kill again, with the same `webhook-id`). `make chaos` does this at length, with three
/// nodes and PostgreSQL restarted too.
@Suite("Cluster nodes", .serialized,
       .enabled(if: TestPostgres.isAvailable, "PostgreSQL (initdb, pg_ctl) is not installed here"),
       .enabled(if: TestPostgres.isClusterPhase, "runs in make test's PostgreSQL phase (GATEWAY_TEST_BACKEND=postgres)"),
       .enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"))
struct ClusterNodeTests {
    @Test(.timeLimit(.minutes(2))) func aKilledNodesSubscriptionsAreTakenOverAndNothingAcknowledgedIsLost() async throws {
        let report = try await offThePool { try Self.killOneOfTwo() }
        #expect(report.missing.isEmpty, "\(report.missing.count) acknowledged deliveries never arrived, e.g. \(report.missing.prefix(3))")
        #expect(report.acknowledged == 60)
        #expect(report.takeoverSeconds < 20, "the killed node's shards moved after \(report.takeoverSeconds) s")
        print("cluster kill -9: \(report.acknowledged) events x \(Self.subscriptions) subscriptions delivered, takeover in \(report.takeoverSeconds) s, \(report.duplicates) duplicates")
    }

    static let subscriptions = 8

    struct Report: Sendable {
        var acknowledged = 0
        var missing: [String] = []
        var duplicates = 0
        var takeoverSeconds = 0.0
    }

    private static func killOneOfTwo() throws -> Report {
        let binary = try #require(CrashTests.gatewayd)
        let server = try TestPostgres.start()
        defer { try? server.stop() }
        // Deliveries by subscription (its `x-sub` header) and event.
        let received = Mutex<[String: Int]>([:])
        let receiver = try CrashTests.Receiver { request in
            if let id = request.headers["webhook-id"], let sub = request.headers["x-sub"] {
                received.withLock { $0["\(sub) \(id)", default: 0] += 1 }
            }
            return HTTPResponse(status: 200)
        }
        defer { receiver.stop() }
        let directory = NSTemporaryDirectory() + "cluster-nodes-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func node(_ name: String) throws -> CrashTests.Daemon {
            try CrashTests.Daemon(binary: binary, dataDirectory: directory + "/" + name, extraArguments: [
                "--database-url", server.url, "--node-id", name, "--allow-private-targets",
            ])
        }
        let a = try node("a"), b = try node("b")
        defer { a.kill9(); b.kill9() }
        for index in 0..<subscriptions {
            let created = try HTTPTestClient.request(
                port: [a.port, b.port][index % 2], "POST", "/v1/subscriptions", token: CrashTests.Daemon.adminToken,
                body: #"{"url":"http://127.0.0.1:\#(receiver.port)/hook","eventTypes":["*"],"headers":{"x-sub":"s\#(index)"}}"#)
            guard created.status == 201 else { throw RawClient.Failure(description: "subscription: \(created.text)") }
        }
        // Both nodes hold shards before the kill (an even split: 32 each).
        let split = CrashTests.waitUntil(timeout: 20) {
            let owners = (try? server.psql("SELECT count(DISTINCT owner) FROM gateway_shards WHERE owner IS NOT NULL")) ?? ""
            return owners == "2"
        }
        guard split else { throw RawClient.Failure(description: "the shards were not split between the two nodes") }

        var report = Report()
        var acknowledged: [String] = []
        func publish(through port: UInt16, _ count: Int) throws {
            for n in 0..<count {
                let response = try HTTPTestClient.request(port: port, "POST", "/v1/events", token: CrashTests.Daemon.adminToken,
                                                          body: #"{"type":"cluster.test","data":{"n":\#(n)}}"#)
                guard response.status == 202, let id = response.json["id"] as? String else {
                    throw RawClient.Failure(description: "publish: \(response.status) \(response.text)")
                }
                acknowledged.append(id)
            }
        }
        func delivered(_ ids: [String]) -> Bool {
            received.withLock { got in ids.allSatisfy { id in (0..<subscriptions).allSatisfy { got["s\($0) \(id)"] != nil } } }
        }
        try publish(through: a.port, 30)
        _ = CrashTests.waitUntil(timeout: 20) { delivered(acknowledged) }

        // a dies; b is told nothing: it sees a's lock gone and takes its shards.
        a.kill9()
        let killedAt = ContinuousClock.now
        try publish(through: b.port, 30)
        let allDelivered = CrashTests.waitUntil(timeout: 40) { delivered(acknowledged) }
        let elapsed = ContinuousClock.now - killedAt
        report.takeoverSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        report.acknowledged = acknowledged.count
        report.missing = received.withLock { got in
            acknowledged.flatMap { id in (0..<subscriptions).compactMap { got["s\($0) \(id)"] == nil ? "s\($0) \(id)" : nil } }
        }
        report.duplicates = received.withLock { $0.values.filter { $0 > 1 }.count }
        if !allDelivered, report.missing.isEmpty { report.missing = ["(timed out)"] }
        return report
    }
}
