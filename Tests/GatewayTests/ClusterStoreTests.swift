import Foundation
@testable import Gateway
import HTTPServer
import Logging
import Postgres
import Synchronization
import TestSupport
import Testing

/// The lease must outlive the longest delivery: a node that cannot renew stops starting
/// deliveries once its lease could have expired, less a delivery's timeout — with a lease
/// shorter than that, a delivery could still be in flight when another node takes over.
@Test func aLeaseShorterThanADeliveryPlusRenewalsIsRefused() {
    var configuration = ShardLeases.Configuration()
    #expect(ShardLeases.problem(with: configuration) == nil)
    configuration.leaseDuration = .seconds(20)
    #expect(ShardLeases.problem(with: configuration)?.contains("must be longer than the delivery timeout") == true)
    configuration.transferTimeout = .seconds(10)
    #expect(ShardLeases.problem(with: configuration) == nil)
}

/// Cluster mode's guarantees with several nodes in one process on one throwaway PostgreSQL:
/// what one node stores the others see; idempotency, names and quotas are exact across
/// nodes; the log has one order without gaps; schema migrations, shard leases and their
/// fencing, retention by partitions, and PostgreSQL going away. (The API suites run on this
/// backend too: `make test`; the kill -9 takeover is in GatewaydTests' ClusterNodeTests.)
///
/// Serialized: each test runs two or three nodes (threads and PostgreSQL backends of their
/// own) and blocks on them; side by side they starved the rest of the suite on 2 cores.
@Suite("Cluster store", .serialized, .enabled(if: TestPostgres.isAvailable, "PostgreSQL (initdb, pg_ctl) is not installed here"),
       .enabled(if: TestPostgres.isClusterPhase, "runs in make test's PostgreSQL phase (GATEWAY_TEST_BACKEND=postgres)"))
struct ClusterStoreTests {
    static let order = #"{"type":"order.created","data":{"n":1}}"#

    /// A fresh database of the shared server, made off Swift Testing's few threads: the
    /// first one starts the server (initdb), seconds a pool thread would be blocked for.
    static func freshDatabase() async throws -> String {
        try await offThePool { try TestPostgres.shared().freshDatabase() }
    }

    /// Two nodes on a fresh database of the shared server.
    static func twoNodes(
        configure: @escaping (inout GatewayHarness.Settings, inout HTTPServerConfiguration) -> Void = { _, _ in }
    ) async throws -> (GatewayHarness, GatewayHarness) {
        let database = try await freshDatabase()
        return (try GatewayHarness(database: database, nodeID: "a", configure: configure),
                try GatewayHarness(database: database, nodeID: "b", configure: configure))
    }

    static func psql(_ harness: GatewayHarness, _ sql: String) throws -> String {
        let connection = try PostgresConnection(url: harness.databaseURL!)
        let rows = try connection.run(sql)
        return (0..<rows.count).map { row in (0..<rows.columns).map { rows.string(row, $0) ?? "" }.joined(separator: "|") }
            .joined(separator: "\n")
    }

    @Test func whatOneNodeStoresTheOthersSeeAndIdempotencyHoldsAcrossNodes() async throws {
        let (a, b) = try await Self.twoNodes()
        let type = #"{"description":"orders","schema":{"type":"object","required":["n"]}}"#
        #expect(try a.request("PUT", "/v1/event-types/order.created", body: type).status == 201)
        let created = try a.request("POST", "/v1/subscriptions", body: #"{"url":"https://example.com/hook","eventTypes":["order.*"]}"#)
        #expect(created.status == 201)
        let subscription = try #require(created.json["id"] as? String)
        // Config changes reach the other node by notification (the poll is the fallback).
        #expect(await eventually(timeout: .seconds(5)) { (try? b.request("GET", "/v1/subscriptions/\(subscription)").status) == 200 })
        #expect(try b.request("POST", "/v1/events", body: #"{"type":"order.created","data":{}}"#).status == 422)

        let key = [("Idempotency-Key", "k-1")]
        let first = try a.request("POST", "/v1/events", headers: key, body: Self.order)
        #expect(first.status == 202)
        // Through the other node at once, before it may have folded the original: decided
        // under the log's lock against every node's writes.
        let repeated = try b.request("POST", "/v1/events", headers: key, body: Self.order)
        #expect(repeated.status == 200, "\(repeated.text)")
        #expect(repeated.json["id"] as? String == first.json["id"] as? String)
        let conflicting = try b.request("POST", "/v1/events", headers: key, body: #"{"type":"order.created","data":{"n":2}}"#)
        #expect(conflicting.status == 409, "\(conflicting.text)")
        let id = try #require(first.json["id"] as? String)
        #expect(try b.request("GET", "/v1/events/\(id)").status == 200)
        #expect(try Self.psql(a, "SELECT count(*) FROM gateway_log WHERE kind = 1") == "1")
        #expect(try Self.psql(a, "SELECT count(*) FROM gateway_event_keys") == "1")
    }

    @Test func concurrentRepeatsThroughTwoNodesStoreOneEvent() async throws {
        let (a, b) = try await Self.twoNodes()
        let ports = [a.port, b.port]
        let answers = try await concurrently(20) { client in
            let response = try HTTPTestClient.request(
                port: ports[client % 2], "POST", "/v1/events", token: GatewayHarness.adminToken,
                headers: [("Idempotency-Key", "same")], body: Self.order)
            return (response.status, response.json["id"] as? String)
        }
        #expect(Set(answers.compactMap(\.1)).count == 1, "\(answers)")
        #expect(answers.filter { $0.0 == 202 }.count == 1, "\(answers)")
        #expect(answers.allSatisfy { $0.0 == 202 || $0.0 == 200 || $0.0 == 503 }, "\(answers)")
        #expect(try Self.psql(a, "SELECT count(*) FROM gateway_log WHERE kind = 1") == "1")
    }

    /// Sequences are taken under the head row's lock and held through COMMIT: the log's order
    /// is its commit order, without gaps, so no node ever folds a later record before an
    /// earlier one that could still commit (an ordered lane would deliver out of order).
    @Test func theLogHasOneOrderWithoutGapsWhateverNodeWrote() async throws {
        let (a, b) = try await Self.twoNodes()
        let ports = [a.port, b.port]
        _ = try await concurrently(8) { client in
            for n in 0..<25 {
                let response = try HTTPTestClient.request(
                    port: ports[client % 2], "POST", "/v1/events", token: GatewayHarness.adminToken,
                    body: #"{"type":"order.created","data":{"client":\#(client),"n":\#(n)}}"#)
                guard response.status == 202 else { throw RawClient.Failure(description: response.text) }
            }
        }
        let sequences = try Self.psql(a, "SELECT sequence FROM gateway_log ORDER BY sequence").split(separator: "\n").compactMap { Int($0) }
        #expect(sequences == Array(1...sequences.count))
        #expect(sequences.count == 200)
        #expect(await eventually(timeout: .seconds(5)) { a.store.eventCount == 200 && b.store.eventCount == 200 })
        let listed = try b.request("GET", "/v1/events?limit=1000").json["events"] as? [[String: Any]] ?? []
        #expect(listed.compactMap { $0["sequence"] as? Int } == Array(1...200))
    }

    @Test func aSourceNameTakenThroughAnotherNodeIsRefused() async throws {
        let (a, b) = try await Self.twoNodes()
        #expect(try a.request("POST", "/v1/sources", body: #"{"name":"billing"}"#).status == 201)
        // Before b folded it, the write decides against the up-to-date log.
        let second = try b.request("POST", "/v1/sources", body: #"{"name":"billing"}"#)
        #expect(second.status == 409, "\(second.text)")
        #expect(try Self.psql(a, "SELECT count(*) FROM gateway_log WHERE kind = 4") == "1")
    }

    @Test func migrationsRunOnceWhenNodesStartTogetherAndANewerDatabaseIsRefused() async throws {
        let database = try await Self.freshDatabase()
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let stores = try await concurrently(3) { index in
            try PostgresStore(configuration: PostgresStore.Configuration(url: database, nodeID: "n\(index)"), logger: logger)
        }
        defer { stores.forEach { $0.close() } }
        let connection = try PostgresConnection(url: database)
        #expect(try connection.run("SELECT value FROM gateway_meta WHERE key = 'schema_version'").string(0, 0) == String(ClusterSchema.latestVersion))
        #expect(try connection.run("SELECT count(*) FROM gateway_shards").string(0, 0) == "64")

        try connection.run("UPDATE gateway_meta SET value = '99' WHERE key = 'schema_version'")
        #expect {
            try PostgresStore(configuration: PostgresStore.Configuration(url: database, nodeID: "late"), logger: logger)
        } throws: { error in
            "\(error)".contains("schema is version 99, newer than this gatewayd knows")
        }
    }

    @Test func shardsAreSplitAndABusyNodeGivesThemBackAndFencingDropsAStaleOwnersOutcomes() async throws {
        let (a, b) = try await Self.twoNodes()
        #expect(await eventually(timeout: .seconds(15)) {
            a.cluster.heldShards.count == 32 && b.cluster.heldShards.count == 32
        }, "a: \(a.cluster.heldShards.count), b: \(b.cluster.heldShards.count)")
        // A graceful stop gives the shards back: the other node takes them at its next round.
        b.stop()
        #expect(await eventually(timeout: .seconds(10)) { a.cluster.heldShards.count == 64 })

        // Another node took a shard over (its epoch moved on): a's outcome for a subscription
        // in it is not written, though a still believed it held the shard.
        let created = try a.request("POST", "/v1/subscriptions", body: #"{"url":"https://example.com/hook","eventTypes":["*"]}"#)
        let subscription = try #require(created.json["id"] as? String)
        let event = try a.request("POST", "/v1/events", body: Self.order)
        let sequence = UInt64(try #require(event.json["sequence"] as? Int))
        let shard = ShardLeases.shard(of: subscription)
        let view = a.cluster.deliveries
        #expect(view.subscription(subscription) != nil)
        _ = try Self.psql(a, "UPDATE gateway_shards SET owner = 'intruder', epoch = epoch + 1 WHERE shard = \(shard)")
        view.recordAttempts([DeliveryAttemptRecord(
            subscriptionID: subscription, sequence: sequence, attempt: 1, status: 200, error: "", durationMicroseconds: 1,
            response: [], result: .delivered)])
        a.store.waitForWrites()
        #expect(try Self.psql(a, "SELECT count(*) FROM gateway_log WHERE kind = 8") == "0")
        #expect(a.store.state.pendingDeliveries(for: subscription).count == 1)
        // And the node notices at its next renewal, and stops delivering the shard.
        #expect(await eventually(timeout: .seconds(10)) { view.subscription(subscription) == nil })
    }

    /// Advisory locks are per database, pg_locks the whole server's: another cluster on the
    /// same server (another database) is not counted among this one's nodes, nor taken for
    /// one of them. (The API suites running on one server in parallel found this.)
    @Test func anotherClusterOnTheSameServerIsNotCountedAsANode() async throws {
        let (a, b) = try await Self.twoNodes()
        let alone = try GatewayHarness(database: try await Self.freshDatabase(), nodeID: "alone")
        #expect(await eventually(timeout: .seconds(15)) {
            alone.cluster.heldShards.count == 64 && a.cluster.heldShards.count == 32 && b.cluster.heldShards.count == 32
        }, "alone: \(alone.cluster.heldShards.count), a: \(a.cluster.heldShards.count), b: \(b.cluster.heldShards.count)")
    }

    @Test func retentionDropsWholePartitionsButNothingOwed() async throws {
        let database = try await Self.freshDatabase()
        let node = try GatewayHarness(database: database) { settings, _ in
            settings.partitionPeriod = .seconds(1)
            settings.retention.retention = .seconds(1)
        }
        let created = try node.request("POST", "/v1/subscriptions", body: #"{"url":"https://example.com/hook","eventTypes":["order.*"]}"#)
        let subscription = try #require(created.json["id"] as? String)
        let owed = try #require(try node.request("POST", "/v1/events", body: Self.order).json["id"] as? String)
        let unowed = try #require(try node.request("POST", "/v1/events", body: #"{"type":"user.created","data":{}}"#).json["id"] as? String)
        try await Task.sleep(for: .milliseconds(2200))
        // Two snapshots must cover a partition before it goes (a start from either needs it).
        let connection = try PostgresConnection(url: database)
        try node.cluster.maintainer.writeSnapshot(connection)
        #expect(try node.request("POST", "/v1/events", body: #"{"type":"user.created","data":{}}"#).status == 202)
        try node.cluster.maintainer.writeSnapshot(connection)
        try await Task.sleep(for: .milliseconds(1200))
        node.cluster.maintainer.pass()
        #expect(node.cluster.maintainer.partitionsDropped >= 1)
        #expect(try node.request("GET", "/v1/events/\(unowed)").status == 404)
        // The owed event was carried forward: readable, still owed, with its own id.
        let read = try node.request("GET", "/v1/events/\(owed)")
        #expect(read.status == 200, "\(read.text)")
        #expect(node.store.state.pendingDeliveries(for: subscription).count == 1)
        let reader = node.cluster.deliveries.makeEventReader()
        let reference = try #require(node.store.state.pendingDeliveries(for: subscription).first).event
        #expect(try reader.envelope(reference)?.eventID == owed)
        // A node starting now starts from the snapshot and finds the same.
        try node.restart()
        #expect(node.cluster.recoveredFromSnapshot > 0)
        #expect(node.store.state.pendingDeliveries(for: subscription).count == 1)
        #expect(try node.request("GET", "/v1/events/\(owed)").status == 200)
    }

    /// PostgreSQL gone: ingest answers 503 with Retry-After (never 202), `/readyz` says why;
    /// back: the node reconnects by itself. Restarted abruptly: nothing acknowledged is lost.
    @Test(.timeLimit(.minutes(2))) func postgresGoingAwayIsA503AndComingBackNeedsNothing() async throws {
        let server = try await offThePool { try TestPostgres.start() }
        defer { try? server.stop() }
        let node = try GatewayHarness(database: server.url)
        #expect(try node.request("POST", "/v1/events", body: Self.order).status == 202)

        try await offThePool { try server.pause() }
        let refused = try node.request("POST", "/v1/events", body: Self.order)
        #expect(refused.status == 503, "\(refused.text)")
        #expect(refused.header("Retry-After") != nil)
        #expect(await eventually(timeout: .seconds(10)) {
            let ready = try? node.request("GET", "/readyz", token: nil)
            return ready?.status == 503 && ready?.text.contains("database") == true
        })

        try await offThePool { try server.resume() }
        #expect(await eventually(timeout: .seconds(20)) {
            (try? node.request("POST", "/v1/events", body: Self.order).status) == 202
        })
        #expect(await eventually(timeout: .seconds(10)) { (try? node.request("GET", "/readyz", token: nil).status) == 200 })

        // An immediate restart (no checkpoint: recovery from the WAL) while clients publish.
        let port = node.port
        let acknowledged = Mutex<[String]>([])
        let publishing = Task.detached {
            try await concurrently(4) { client in
                for n in 0..<60 {
                    let response = try? HTTPTestClient.request(
                        port: port, "POST", "/v1/events", token: GatewayHarness.adminToken,
                        body: #"{"type":"order.created","data":{"c":\#(client),"n":\#(n)}}"#)
                    if response?.status == 202, let id = response?.json["id"] as? String { acknowledged.withLock { $0.append(id) } }
                    Thread.sleep(forTimeInterval: 0.01)
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        try await offThePool { try server.restartImmediately() }
        _ = try await publishing.value
        let ids = acknowledged.withLock { $0 }
        #expect(ids.count > 0)
        let missing = try ids.filter { try node.request("GET", "/v1/events/\($0)").status != 200 }
        #expect(missing.isEmpty, "acknowledged but not stored: \(missing)")
    }
}
