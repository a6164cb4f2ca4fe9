import Delivery
import Gateway
@testable import GatewayMetrics
import HTTPServer
import Prometheus
import Synchronization
import Testing

/// What the observers are told comes out of `/metrics` as the right series and values.
@Suite("Gateway metrics")
struct GatewayMetricsTests {
    @Test("HTTP responses count by route template, method and status; durations land in their buckets")
    func httpRequestsByRoute() {
        let metrics = GatewayMetrics()
        var router = Router()
        router.post("/v1/events") { _, _ in .response(HTTPResponse(status: 202)) }
        router.get("/v1/subscriptions/{id}") { _, _ in .response(HTTPResponse(status: 200)) }
        let http = metrics.http(for: router)
        http.responded(route: 0, status: 202, nanoseconds: 400_000)
        http.responded(route: 0, status: 202, nanoseconds: 2_000_000)
        http.responded(route: 0, status: 415, nanoseconds: 50_000)
        http.responded(route: 1, status: 404, nanoseconds: 50_000)
        http.responded(route: nil, status: 404, nanoseconds: 50_000)
        let exposition = Exposition(metrics.exposition())

        let events = ["method": "POST", "route": "/v1/events"]
        #expect(exposition.value("gateway_http_requests_total", events.merging(["status": "202"]) { $1 }) == 2)
        #expect(exposition.value("gateway_http_requests_total", events.merging(["status": "415"]) { $1 }) == 1)
        #expect(exposition.value("gateway_http_requests_total",
                                 ["method": "GET", "route": "/v1/subscriptions/{id}", "status": "404"]) == 1)
        #expect(exposition.value("gateway_http_requests_total",
                                 ["method": "unmatched", "route": "unmatched", "status": "404"]) == 1)
        #expect(exposition.value("gateway_http_request_duration_seconds_count", events) == 3)
        #expect(exposition.value("gateway_http_request_duration_seconds_bucket", events.merging(["le": "0.0001"]) { $1 }) == 1)
        #expect(exposition.value("gateway_http_request_duration_seconds_bucket", events.merging(["le": "0.0005"]) { $1 }) == 2)
        #expect(exposition.value("gateway_http_request_duration_seconds_bucket", events.merging(["le": "0.0025"]) { $1 }) == 3)
        #expect(exposition.value("gateway_http_request_duration_seconds_bucket", events.merging(["le": "+Inf"]) { $1 }) == 3)
        #expect(abs((exposition.value("gateway_http_request_duration_seconds_sum", events) ?? 0) - 0.00245) < 1e-9)
        #expect(exposition.types["gateway_http_request_duration_seconds"] == "histogram")
        #expect(exposition.types["gateway_http_requests_total"] == "counter")
    }

    @Test("a route never answered adds no series")
    func unusedRoutesStayOut() {
        let metrics = GatewayMetrics()
        var router = Router()
        router.get("/a") { _, _ in .response(HTTPResponse(status: 200)) }
        router.get("/b") { _, _ in .response(HTTPResponse(status: 200)) }
        metrics.http(for: router).responded(route: 1, status: 200, nanoseconds: 1)
        let routes = Set(Exposition(metrics.exposition()).all("gateway_http_requests_total").compactMap { $0.labels["route"] })
        #expect(routes == ["/b"])
    }

    @Test("events count by type and publisher: a source's name or admin, never the envelope's source; types past the cap as other")
    func ingestedEventsHaveBoundedLabels() {
        let metrics = GatewayMetrics()
        metrics.ingest.eventStored(type: "order.created", publisher: .admin)
        metrics.ingest.eventStored(type: "order.created", publisher: .admin)
        metrics.ingest.eventStored(type: "order.created", publisher: .source("shop"))
        for n in 0..<(IngestMetrics.typeLimit + 5) {
            metrics.ingest.eventStored(type: "type.n\(n)", publisher: .source("shop"))
        }
        let exposition = Exposition(metrics.exposition())
        #expect(exposition.value("gateway_events_ingested_total", ["type": "order.created", "source": "admin"]) == 2)
        #expect(exposition.value("gateway_events_ingested_total", ["type": "order.created", "source": "shop"]) == 1)
        // order.created took one of the slots: the last 6 numbered types overflow.
        #expect(exposition.value("gateway_events_ingested_total", ["type": "other", "source": "shop"]) == 6)
        let types = Set(exposition.all("gateway_events_ingested_total").compactMap { $0.labels["type"] })
        #expect(types.count == IngestMetrics.typeLimit + 1)
    }

    @Test("every refusal reason and attempt outcome is there from the start, at zero")
    func fixedLabelSetsStartAtZero() {
        let metrics = GatewayMetrics()
        metrics.ingest.ingestRefused(IngestRefusal(status: 422, hasViolations: true))
        metrics.ingest.ingestRefused(IngestRefusal(status: 401))
        metrics.delivery.attemptFinished(.retryScheduled, latencyMicroseconds: nil)
        let exposition = Exposition(metrics.exposition())
        for reason in IngestRefusal.allCases {
            let expected: Double = [.schemaViolation, .unauthorized].contains(reason) ? 1 : 0
            #expect(exposition.value("gateway_events_rejected_total", ["reason": reason.rawValue]) == expected, "\(reason)")
        }
        for outcome in AttemptResult.allCases {
            #expect(exposition.value("gateway_delivery_attempts_total", ["outcome": outcome.rawValue]) == (outcome == .retryScheduled ? 1 : 0))
        }
    }

    @Test("refusal reasons follow the answer's status")
    func refusalReasons() {
        #expect(IngestRefusal(status: 400) == .invalidJSON)
        #expect(IngestRefusal(status: 403) == .unauthorized)
        #expect(IngestRefusal(status: 409) == .conflict)
        #expect(IngestRefusal(status: 413) == .tooLarge)
        #expect(IngestRefusal(status: 415) == .unsupportedMediaType)
        #expect(IngestRefusal(status: 422) == .invalidEnvelope)
        #expect(IngestRefusal(status: 422, hasViolations: true) == .schemaViolation)
        #expect(IngestRefusal(status: 500) == .unavailable)
        #expect(IngestRefusal(status: 503) == .unavailable)
    }

    @Test("journal groups, bytes and fsyncs; delivery latency counts only what has one")
    func journalAndDeliveryFigures() {
        let metrics = GatewayMetrics()
        metrics.journal.groupWritten(records: 1, bytes: 100)
        metrics.journal.groupWritten(records: 40, bytes: 4000)
        metrics.journal.synced(nanoseconds: 150_000)
        metrics.delivery.attemptFinished(.delivered, latencyMicroseconds: 3_000)
        metrics.delivery.attemptFinished(.delivered, latencyMicroseconds: nil)
        metrics.delivery.attemptFinished(.deadLettered, latencyMicroseconds: nil)
        let exposition = Exposition(metrics.exposition())
        #expect(exposition.value("gateway_journal_batch_records_count") == 2)
        #expect(exposition.value("gateway_journal_batch_records_sum") == 41)
        #expect(exposition.value("gateway_journal_batch_records_bucket", ["le": "1.0"]) == 1)
        #expect(exposition.value("gateway_journal_batch_records_bucket", ["le": "32.0"]) == 1)
        #expect(exposition.value("gateway_journal_batch_records_bucket", ["le": "64.0"]) == 2)
        #expect(exposition.value("gateway_journal_written_bytes_total") == 4100)
        #expect(exposition.value("gateway_journal_fsync_duration_seconds_count") == 1)
        #expect(exposition.value("gateway_journal_fsync_duration_seconds_bucket", ["le": "0.0001"]) == 0)
        #expect(exposition.value("gateway_journal_fsync_duration_seconds_bucket", ["le": "0.00025"]) == 1)
        #expect(exposition.value("gateway_delivery_attempts_total", ["outcome": "delivered"]) == 2)
        #expect(exposition.value("gateway_delivery_latency_seconds_count") == 1)
        #expect(exposition.value("gateway_delivery_latency_seconds_bucket", ["le": "0.0025"]) == 0)
        #expect(exposition.value("gateway_delivery_latency_seconds_bucket", ["le": "0.005"]) == 1)
    }

    @Test("state is read at scrape time; a deleted subscription's series go")
    func stateAtScrapeTime() {
        let registry = PrometheusCollectorRegistry()
        let collector = StateCollector(registry: registry)
        let backlogs = MutableBox<[String: DeliveryBacklog]>([
            "sub_a": DeliveryBacklog(pending: 3, deadLettered: 1),
            "sub_b": DeliveryBacklog(pending: 0, deadLettered: 0),
        ])
        let lanes = MutableBox<[String: DeliveryStatusBoard.LaneStatus]>([
            "sub_a": .init(inFlight: 1, circuit: .halfOpen, circuitOpenedAt: 1, nextProbeAt: nil),
            "sub_b": .init(inFlight: 2, circuit: .closed, circuitOpenedAt: nil, nextProbeAt: nil),
        ])
        collector.watch(StateCollector.Sources(
            backlogs: { backlogs.value }, lanes: { lanes.value }, journalUsage: { (3, 4096) }))
        collector.collect()
        var exposition = Exposition(registry.emitToBuffer())
        #expect(exposition.value("gateway_subscription_pending_deliveries", ["subscription": "sub_a"]) == 3)
        #expect(exposition.value("gateway_subscription_dead_letters", ["subscription": "sub_a"]) == 1)
        #expect(exposition.value("gateway_subscription_circuit_state", ["subscription": "sub_a", "state": "half-open"]) == 1)
        #expect(exposition.value("gateway_subscription_circuit_state", ["subscription": "sub_a", "state": "closed"]) == 0)
        #expect(exposition.value("gateway_subscription_circuit_state", ["subscription": "sub_b", "state": "closed"]) == 1)
        #expect(exposition.value("gateway_delivery_attempts_in_flight") == 3)
        #expect(exposition.value("gateway_journal_segments") == 3)
        #expect(exposition.value("gateway_journal_size_bytes") == 4096)
        #expect((exposition.value("gateway_process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect((exposition.value("gateway_process_open_fds") ?? 0) >= 3)
        #expect((exposition.value("gateway_uptime_seconds") ?? -1) >= 0)

        // sub_b is deleted; sub_a's circuit closes.
        backlogs.value = ["sub_a": DeliveryBacklog(pending: 0, deadLettered: 1)]
        lanes.value = ["sub_a": .init(inFlight: 0, circuit: .closed, circuitOpenedAt: nil, nextProbeAt: nil)]
        collector.collect()
        exposition = Exposition(registry.emitToBuffer())
        #expect(exposition.all("gateway_subscription_pending_deliveries").map { $0.labels["subscription"] } == ["sub_a"])
        #expect(!exposition.samples.contains { $0.labels["subscription"] == "sub_b" })
        #expect(exposition.value("gateway_subscription_circuit_state", ["subscription": "sub_a", "state": "closed"]) == 1)
        #expect(exposition.value("gateway_delivery_attempts_in_flight") == 0)
    }

    @Test("Provider webhooks count by source and outcome")
    func inboundRequestsBySourceAndOutcome() {
        let metrics = GatewayMetrics()
        metrics.inbound.inboundRequest(source: "github", outcome: .accepted)
        metrics.inbound.inboundRequest(source: "github", outcome: .accepted)
        metrics.inbound.inboundRequest(source: "github", outcome: .signatureMismatch)
        metrics.inbound.inboundRequest(source: "stripe", outcome: .duplicate)
        let exposition = Exposition(metrics.exposition())
        #expect(exposition.value("gateway_inbound_requests_total", ["source": "github", "outcome": "accepted"]) == 2)
        #expect(exposition.value("gateway_inbound_requests_total", ["source": "github", "outcome": "signature_mismatch"]) == 1)
        #expect(exposition.value("gateway_inbound_requests_total", ["source": "stripe", "outcome": "duplicate"]) == 1)
    }

    @Test("every family has a HELP and a TYPE line, and its name says its unit")
    func familiesAreDocumented() {
        let metrics = GatewayMetrics()
        var router = Router()
        router.get("/a") { _, _ in .response(HTTPResponse(status: 200)) }
        metrics.http(for: router).responded(route: 0, status: 200, nanoseconds: 1)
        metrics.ingest.eventStored(type: "a.b", publisher: .admin)
        metrics.inbound.inboundRequest(source: "github", outcome: .accepted)
        let exposition = Exposition(metrics.exposition())
        for family in MetricFamily.all where !family.name.hasPrefix("gateway_subscription_") {
            #expect(exposition.helps[family.name] == family.help, "\(family.name)")
            #expect(exposition.types[family.name] != nil, "\(family.name)")
        }
        for family in MetricFamily.all {
            #expect(family.name.hasPrefix("gateway_"))
            let type = exposition.types[family.name]
            if type == "counter" { #expect(family.name.hasSuffix("_total"), "\(family.name)") }
            if type == "histogram" && family.name.contains("duration") { #expect(family.name.hasSuffix("_seconds")) }
        }
    }

    @Test("Past 1,000 subscriptions, series go to those in trouble first, then the largest backlogs")
    func subscriptionSeriesAreCapped() {
        let cap = StateCollector.maxSubscriptionSeries
        var backlogs: [String: DeliveryBacklog] = [:]
        for n in 0..<(cap + 500) { backlogs["sub_\(n)"] = DeliveryBacklog(pending: n % 3 == 0 ? 0 : n, deadLettered: 0) }
        let open = DeliveryStatusBoard.LaneStatus(inFlight: 0, circuit: .open, circuitOpenedAt: 1, nextProbeAt: nil)
        // Quiet (nothing pending) but in trouble: shown before any backlog.
        let statuses = ["sub_0": open, "sub_3": open]
        let shown = StateCollector.shown(backlogs, statuses: statuses)
        #expect(shown.count == cap)
        #expect(shown["sub_0"] != nil && shown["sub_3"] != nil)
        // The largest backlogs are in, the smallest and the quiet ones out.
        #expect(shown["sub_\(cap + 498)"] != nil)
        #expect(shown["sub_1"] == nil && shown["sub_6"] == nil)
        // Up to the cap, every subscription is shown, quiet ones included.
        let few = Dictionary(uniqueKeysWithValues: (0..<10).map { ("sub_\($0)", DeliveryBacklog(pending: 0, deadLettered: 0)) })
        #expect(StateCollector.shown(few, statuses: [:]).count == 10)
    }
}

/// A value a test changes while a collector reads it through a closure.
final class MutableBox<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) { storage = Mutex(value) }

    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}
