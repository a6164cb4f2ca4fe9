import HTTPServer

/// Every route of the gateway's HTTP API (openapi.yaml is its contract).
public enum GatewayAPI {
    public static func register(on router: inout Router, core: GatewayCore, adminToken: String) {
        let auth = Authenticator(adminToken: adminToken, store: core.store)
        HealthAPI.register(on: &router, readiness: core.readiness)
        EventsAPI(core: core, auth: auth).register(on: &router)
        EventTypesAPI(core: core, auth: auth).register(on: &router)
        SourcesAPI(core: core, auth: auth).register(on: &router)
        SubscriptionsAPI(core: core, auth: auth).register(on: &router)
        ReplaysAPI(core: core, auth: auth).register(on: &router)
        TenantsAPI(core: core, auth: auth).register(on: &router)
        InboundAPI(core: core).register(on: &router)
    }
}
