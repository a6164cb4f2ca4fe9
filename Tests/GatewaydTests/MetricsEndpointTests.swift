import Foundation
import HTTPServer
import TestSupport
import Testing

/// `GET /metrics` of a real gatewayd after real traffic — ingest from the admin and a
/// source, refusals, deliveries to a subscriber that answers and to one that fails — read by
/// the Prometheus project's own text parser (Python's prometheus_client), with every family
/// README lists present and its values what the traffic implies.
@Suite("gatewayd /metrics", .serialized)
struct MetricsEndpointTests {
    static let parserAvailable = Python.canImport("prometheus_client")

    /// Sample name → labels and value, as the parser read them; families by name and type.
    struct Scrape: Sendable {
        var status: Int
        var contentType: String?
        /// JSON from the parser: `{family: {"type": t, "samples": [[name, {labels}, value], ...]}}`.
        var parsed: String
        var goodSubscription: String
        var failingSubscription: String
        var failingStats: String
    }

    static let parse = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {}
        for family in text_string_to_metric_families(sys.stdin.read()):
            out[family.name] = {"type": family.type, "samples": [[s.name, s.labels, s.value] for s in family.samples]}
        print(json.dumps(out))
        """

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"),
          .enabled(if: MetricsEndpointTests.parserAvailable, "needs python3 with prometheus_client (pip install prometheus-client)"))
    func everyFamilyIsThereAfterTraffic() async throws {
        let binary = try #require(CrashTests.gatewayd)
        let scrape = try await offThePool { try Self.runTraffic(binary: binary) }
        #expect(scrape.status == 200)
        #expect(scrape.contentType == "text/plain; version=0.0.4; charset=utf-8")
        let families = try #require(try JSONSerialization.jsonObject(with: Data(scrape.parsed.utf8)) as? [String: [String: Any]])
        var samples: [(name: String, labels: [String: String], value: Double)] = []
        for family in families.values {
            for sample in family["samples"] as? [[Any]] ?? [] {
                samples.append((sample[0] as? String ?? "", sample[1] as? [String: String] ?? [:], (sample[2] as? NSNumber)?.doubleValue ?? .nan))
            }
        }
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        func values(_ name: String) -> [(labels: [String: String], value: Double)] {
            samples.filter { $0.name == name }.map { ($0.labels, $0.value) }
        }

        // Every family, with the type README gives it.
        let expected: [(sample: String, type: String)] = [
            ("gateway_http_requests_total", "counter"), ("gateway_http_request_duration_seconds_count", "histogram"),
            ("gateway_events_ingested_total", "counter"), ("gateway_events_rejected_total", "counter"),
            ("gateway_journal_batch_records_count", "histogram"), ("gateway_journal_written_bytes_total", "counter"),
            ("gateway_journal_fsync_duration_seconds_count", "histogram"), ("gateway_journal_size_bytes", "gauge"),
            ("gateway_journal_segments", "gauge"), ("gateway_delivery_attempts_total", "counter"),
            ("gateway_delivery_latency_seconds_count", "histogram"), ("gateway_delivery_attempts_in_flight", "gauge"),
            ("gateway_subscription_pending_deliveries", "gauge"), ("gateway_subscription_dead_letters", "gauge"),
            ("gateway_subscription_circuit_state", "gauge"), ("gateway_process_resident_memory_bytes", "gauge"),
            ("gateway_process_open_fds", "gauge"), ("gateway_uptime_seconds", "gauge"),
        ]
        for (sample, type) in expected {
            #expect(!values(sample).isEmpty, "no \(sample) in /metrics")
            let family = families.first { name, content in
                (content["samples"] as? [[Any]] ?? []).contains { ($0.first as? String) == sample }
            }
            #expect(family?.value["type"] as? String == type, "\(sample)")
        }

        // HTTP: by route template, method and status.
        #expect(value("gateway_http_requests_total", ["method": "POST", "route": "/v1/events", "status": "202"]) == 5)
        #expect(value("gateway_http_requests_total", ["method": "POST", "route": "/v1/events", "status": "415"]) == 1)
        #expect(value("gateway_http_requests_total", ["method": "unmatched", "route": "unmatched", "status": "404"]) == 1)
        #expect(value("gateway_http_request_duration_seconds_count", ["method": "POST", "route": "/v1/events"]) == 7)
        // Ingest: by type and publisher; refusals by reason.
        #expect(value("gateway_events_ingested_total", ["type": "order.created", "source": "admin"]) == 3)
        #expect(value("gateway_events_ingested_total", ["type": "order.created", "source": "shop"]) == 2)
        #expect(value("gateway_events_rejected_total", ["reason": "unsupported_media_type"]) == 1)
        #expect(value("gateway_events_rejected_total", ["reason": "unauthorized"]) == 1)
        #expect(value("gateway_events_rejected_total", ["reason": "conflict"]) == 0)
        // Journal.
        #expect((value("gateway_journal_batch_records_count") ?? 0) >= 1)
        #expect((value("gateway_journal_fsync_duration_seconds_count") ?? 0) >= 1)
        #expect((value("gateway_journal_written_bytes_total") ?? 0) > 0)
        #expect((value("gateway_journal_size_bytes") ?? 0) >= (value("gateway_journal_written_bytes_total") ?? .infinity))
        #expect((value("gateway_journal_segments") ?? 0) >= 1)
        // Delivery: five delivered to one subscriber, five given up on by the other.
        #expect(value("gateway_delivery_attempts_total", ["outcome": "delivered"]) == 5)
        #expect(value("gateway_delivery_attempts_total", ["outcome": "dead_lettered"]) == 5)
        #expect(value("gateway_delivery_latency_seconds_count") == 5)
        #expect(value("gateway_delivery_attempts_in_flight") == 0)
        let good = scrape.goodSubscription, failing = scrape.failingSubscription
        #expect(value("gateway_subscription_pending_deliveries", ["subscription": good]) == 0)
        #expect(value("gateway_subscription_dead_letters", ["subscription": good]) == 0)
        #expect(value("gateway_subscription_dead_letters", ["subscription": failing]) == 5)
        // Five failures in a row open the failing one's circuit; nothing is left to probe with.
        #expect(value("gateway_subscription_circuit_state", ["subscription": good, "state": "closed"]) == 1)
        #expect(value("gateway_subscription_circuit_state", ["subscription": failing, "state": "open"]) == 1)
        for id in [good, failing] {
            let states = values("gateway_subscription_circuit_state").filter { $0.labels["subscription"] == id }
            #expect(states.count == 3 && states.map(\.value).reduce(0, +) == 1, "\(id): \(states)")
        }
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(scrape.failingStats.utf8)) as? [String: Any])
        #expect(stats["circuit"] as? String == "open")
        #expect(stats["circuitOpenedAt"] is String)
        #expect(stats["nextProbeAt"] is NSNull)
        // The process.
        #expect((value("gateway_process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect((value("gateway_process_open_fds") ?? 0) > 3)
        #expect((value("gateway_uptime_seconds") ?? 0) > 0)
        // Labels never carry an event id or a URL.
        #expect(!samples.contains { $0.labels.values.contains { $0.hasPrefix("evt_") || $0.contains("://") } })
    }

    /// Starts the receivers and gatewayd, sends the traffic, waits for the deliveries to
    /// settle and scrapes.
    private static func runTraffic(binary: String) throws -> Scrape {
        let directory = NSTemporaryDirectory() + "metrics-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let answering = try CrashTests.Receiver { _ in HTTPResponse(status: 200) }
        defer { answering.stop() }
        let refusing = try CrashTests.Receiver { _ in HTTPResponse(status: 500) }
        defer { refusing.stop() }
        let daemon = try CrashTests.Daemon(binary: binary, dataDirectory: directory, extraArguments: ["--allow-private-targets"])
        defer { daemon.kill9() }
        let admin = CrashTests.Daemon.adminToken
        func call(_ method: String, _ path: String, token: String? = admin, body: String? = nil,
                  contentType: String? = "application/json") throws -> TestResponse {
            try HTTPTestClient.request(port: daemon.port, method, path, token: token, body: body, contentType: contentType)
        }
        func subscribe(_ port: UInt16, maxAttempts: Int) throws -> String {
            let created = try call("POST", "/v1/subscriptions", body: """
                {"url":"http://127.0.0.1:\(port)/hook","eventTypes":["order.*"],"retry":{"maxAttempts":\(maxAttempts)}}
                """)
            guard created.status == 201, let id = created.json["id"] as? String else {
                throw RawClient.Failure(description: "subscription not created: \(created.status) \(created.text)")
            }
            return id
        }
        let good = try subscribe(answering.port, maxAttempts: 3)
        let failing = try subscribe(refusing.port, maxAttempts: 1)
        let source = try call("POST", "/v1/sources", body: #"{"name":"shop"}"#)
        guard let sourceToken = source.json["token"] as? String else {
            throw RawClient.Failure(description: "source not created: \(source.text)")
        }
        let event = #"{"type":"order.created","source":"made-up-by-admin","data":{"n":1}}"#
        for _ in 0..<3 { _ = try call("POST", "/v1/events", body: event) }
        for _ in 0..<2 { _ = try call("POST", "/v1/events", token: sourceToken, body: event) }
        _ = try call("POST", "/v1/events", body: "n=1", contentType: "application/x-www-form-urlencoded")
        _ = try call("POST", "/v1/events", token: "wrong", body: event)
        _ = try call("GET", "/no/such/path")

        var failingStats = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let delivered = try call("GET", "/v1/subscriptions/\(good)/stats").json["delivered"] as? Int
            let stats = try call("GET", "/v1/subscriptions/\(failing)/stats")
            failingStats = stats.text
            // The status board is posted at the dispatcher's next pass after the outcome.
            if delivered == 5, stats.json["deadLettered"] as? Int == 5, stats.json["circuit"] as? String == "open" { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let metrics = try call("GET", "/metrics", token: nil)
        return Scrape(status: metrics.status, contentType: metrics.header("content-type"),
                      parsed: try Python.run(parse, input: metrics.body),
                      goodSubscription: good, failingSubscription: failing, failingStats: failingStats)
    }
}
