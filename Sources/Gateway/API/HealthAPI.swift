import HTTPServer
import JSON

/// `GET /healthz`: the process is up and its event loops answer. `GET /readyz`: it can also
/// do its work — every `Readiness` check passes (the journal recovered and writable, the
/// delivery engine running) — and the JSON body names each check and why one fails. Both
/// answer on the loop itself, so a slow handler elsewhere cannot make a live server look dead.
public enum HealthAPI {
    public static func register(on router: inout Router, readiness: Readiness? = nil) {
        router.get("/healthz") { _, _ in
            .response(.json(200, #"{"status":"ok"}"#))
        }
        router.get("/readyz") { _, _ in
            let results = readiness?.evaluate() ?? []
            let failures = results.compactMap { result in result.failure.map { "\(result.name): \($0)" } }
            var checks = JSONObjectWriter()
            for (name, failure) in results { checks.add(name, string: failure ?? "ok") }
            var body = JSONObjectWriter()
            body.add("status", string: failures.isEmpty ? "ready" : "not ready")
            if !failures.isEmpty { body.add("reason", string: failures.joined(separator: "; ")) }
            body.add("checks", raw: checks.finish())
            let text = String(decoding: body.finish(), as: UTF8.self)
            guard failures.isEmpty else {
                return .response(.json(503, text, headers: ["Retry-After": "30"]))
            }
            return .response(.json(200, text))
        }
    }
}
