import ArgumentParser
import HTTPServer
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `gatewayd listen`: a webhook receiver for trying the gateway out. It prints every request
/// it gets, checks Standard Webhooks signatures when given the secret, and can fail, hold
/// or throttle its answers on purpose, so retries, backoff, the circuit breaker and dead
/// letters can be watched as they happen.
struct Listen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a local webhook receiver that prints each delivery and verifies its signature.",
        discussion: """
        Every request, on any path and with any method, is printed to standard output: when \
        it arrived, the webhook-* headers and the other interesting ones (signatures \
        shortened, credentials redacted), the body (JSON pretty-printed), whether the \
        signature is valid, and the answer. Requests are answered 204 unless told otherwise. \
        Messages about the listener itself go to standard error.

        Examples:
          gatewayd listen --secret whsec_...
              verify what the gateway sends
          gatewayd listen --fail-rate 0.3
              30% of requests get 500: watch retries and backoff
          gatewayd listen --status 500
              every request fails: the circuit breaker opens, then dead letters
          gatewayd listen --status 503 --retry-after 30s
              the gateway waits as it is told
          gatewayd listen --delay 2s --json
              slow answers; one JSON line per request
        """
    )

    @Option(help: ArgumentHelp("Port to listen on; 0 picks a free one (printed at start).", valueName: "port"))
    var port = "9000"

    @Option(help: ArgumentHelp("Address to listen on: a numeric IPv4 or IPv6 address, or localhost.", valueName: "address"))
    var host = "127.0.0.1"

    @Option(name: .customLong("secret"), help: ArgumentHelp(
        "The subscription's signing secret, to verify each request's signature and timestamp. Repeat it, or separate secrets with commas, to accept any of several (as during a rotation); the report names the one that matched (key 1, key 2, ...).",
        valueName: "whsec_..."))
    var secrets: [String] = []

    @Option(help: ArgumentHelp(
        "Share of requests, from 0 to 1, answered with --status (500 unless set) instead of 204.",
        valueName: "rate"))
    var failRate: String?

    @Option(help: ArgumentHelp(
        "The status failures get (200-599). Without --fail-rate, every request gets it (410 disables the subscription).",
        valueName: "code"))
    var status: String?

    @Option(help: ArgumentHelp(
        "Hold every answer this long (250ms, 2s, 1m). Other requests are still received and answered meanwhile.",
        valueName: "duration"))
    var delay: String?

    @Option(help: ArgumentHelp(
        "Send Retry-After with every failure (10s, 2m), e.g. with --status 429 or 503, which the gateway honours.",
        valueName: "duration"))
    var retryAfter: String?

    @Option(help: ArgumentHelp("How far webhook-timestamp may be from now, either way, with --secret.", valueName: "duration"))
    var tolerance = "5m"

    @Option(help: ArgumentHelp("Seed for which requests --fail-rate fails, to repeat a run exactly.", valueName: "number"))
    var seed: String?

    @Flag(help: "Print one JSON object a line per request instead of the readable form (for scripts and tests).")
    var json = false

    func settings() throws(ListenOptionError) -> ListenSettings {
        try ListenSettings(ListenSettings.Text(
            host: host, port: port, secrets: secrets, failRate: failRate, status: status, delay: delay,
            retryAfter: retryAfter, tolerance: tolerance, seed: seed, json: json))
    }

    func validate() throws {
        _ = try settings()
    }

    func run() throws {
        // As in `serve`: block the stop signals before any thread starts, so only `sigwait`
        // below sees them and the listener stops cleanly whichever thread the kernel picks.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let settings = try settings()
        let colours = !settings.json && isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
        let responder = ListenResponder(settings: settings, output: ListenOutput(), style: ListenReport.Style(colours: colours))
        var configuration = HTTPServerConfiguration(address: settings.address)
        configuration.eventLoopCount = 1
        // Whatever the gateway can deliver: an event's journal record is at most 16 MiB.
        configuration.limits.maxBodyBytes = 16 * 1024 * 1024
        var logger = Logger(label: "gatewayd-listen") { StreamLogHandler.standardError(label: $0) }
        // Errors only: the server logs each 5xx as a warning, and this receiver's are on purpose.
        logger.logLevel = .error
        let server = HTTPServer(configuration: configuration, responder: responder, logger: logger)
        let bound: SocketAddress
        do {
            bound = try server.start()
        } catch {
            throw ListenOptionError("--port", "cannot listen on \(settings.address): \(error)")
        }
        let messages = ListenOutput(descriptor: STDERR_FILENO)
        messages.write(Self.banner(settings, bound: bound))

        var received: Int32 = 0
        sigwait(&signals, &received)
        server.shutdown(gracePeriod: .seconds(1))
        server.wait()
        messages.write("gatewayd listen: stopped after \(responder.count) request\(responder.count == 1 ? "" : "s")\n")
    }

    /// What the listener will do, said once at start (on standard error).
    static func banner(_ settings: ListenSettings, bound: SocketAddress) -> String {
        var lines = ["gatewayd listen: receiving webhooks on http://\(bound)/ (any path)"]
        if settings.secrets.isEmpty {
            lines.append("  signatures: not checked (start with --secret whsec_... to verify them)")
        } else {
            let count = settings.secrets.count == 1 ? "1 secret" : "\(settings.secrets.count) secrets"
            lines.append("  signatures: checked with \(count), timestamps within \(ListenFormat.seconds(settings.tolerance))")
        }
        let answers = settings.answers
        let failure = answers.failureStatus ?? ListenAnswerPolicy.defaultFailureStatus
        var answering: String
        switch (answers.failRate, answers.failureStatus) {
        case (let rate?, _): answering = "204, or \(failure) for a share of \(rate) (--fail-rate)"
        case (nil, _?): answering = "\(failure) to every request (--status)"
        case (nil, nil): answering = "204"
        }
        if let retryAfter = answers.retryAfterSeconds { answering += ", failures with Retry-After: \(retryAfter)" }
        if let delay = answers.delay { answering += ", each held \(ListenReport.delayText(delay))" }
        lines.append("  answering: " + answering)
        lines.append("  stop with Ctrl-C")
        return lines.joined(separator: "\n") + "\n\n"
    }
}
