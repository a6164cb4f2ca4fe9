import HTTPServer

/// `GET /healthz`: the process is up and its event loops answer. `GET /readyz`: it can also
/// accept events — the store is writable. Both answer on the loop itself, so a slow handler
/// elsewhere cannot make a live server look dead.
public enum HealthAPI {
    public static func register(on router: inout Router, store: (any GatewayStore)? = nil) {
        router.get("/healthz") { _, _ in
            .response(.json(200, #"{"status":"ok"}"#))
        }
        router.get("/readyz") { _, _ in
            if let failure = store?.unavailableReason {
                return .response(.problem(status: 503, detail: "Not ready: \(failure).", headers: ["Retry-After": "30"]))
            }
            return .response(.json(200, #"{"status":"ready"}"#))
        }
    }
}
