import HTTPServer

/// `GET /healthz`: the process is up and its event loops answer. Answered on the loop
/// itself, so a slow handler elsewhere cannot make a live server look dead.
public enum HealthAPI {
    public static func register(on router: inout Router) {
        router.get("/healthz") { _, _ in
            .response(.json(200, #"{"status":"ok"}"#))
        }
    }
}
