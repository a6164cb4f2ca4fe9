import HTTPServer

/// `GET /metrics`: the Prometheus text exposition. Like `/healthz` it needs no token, since
/// scrapers rarely carry one; it shows no secrets, but names subscriptions, sources and
/// event types, so it belongs on a network only the monitoring system reaches (README).
public enum MetricsAPI {
    /// The text format's media type (Prometheus exposition format 0.0.4).
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func register(on router: inout Router, metrics: GatewayMetrics) {
        // Off the event loop: a scrape walks every subscription and writes every series.
        router.addAsync(.get, "/metrics") { _ in
            HTTPResponse(status: 200, headers: ["Content-Type": contentType], body: metrics.exposition())
        }
    }
}
