@testable import Gateway
import JSON
import TestSupport
import Testing

/// Issue 11: fan-out with thousands of tenants. An addressed event is routed through its
/// tenant's own index, so what it costs does not depend on how many tenants there are; an
/// event of a type hidden from tenants never looks at tenants' subscriptions at all.
@Suite("Tenant fan-out at scale")
struct TenantFanOutScaleTests {
    static let now: Int64 = 1_800_000_000_000_000

    /// A fold of `tenants` tenants with two subscriptions each (one by wildcard, one exact),
    /// and the admin's own subscription to everything.
    static func fold(tenants: Int) -> GatewayFold {
        var records: [JournalRecord] = []
        func append(_ kind: RecordKind, _ payload: [UInt8]) {
            let sequence = UInt64(records.count + 1)
            records.append(JournalRecord(sequence: sequence, timestamp: now, kind: kind, payload: payload,
                                         location: RecordLocation(segment: 1, offset: sequence * 64, length: 64)))
        }
        append(.eventTypeUpserted, EventTypeRecord(name: "order.created", description: "", schema: [], tenantVisible: true).encode())
        append(.eventTypeUpserted, EventTypeRecord(name: "audit.logged", description: "", schema: []).encode())
        func subscription(_ id: String, _ pattern: String, tenant: String?) -> [UInt8] {
            var subscription = Subscription(id: id, url: "https://a.example/", eventTypes: [EventTypePattern(pattern)!],
                                            secrets: [.init(value: "whsec_x", expiresAt: nil)])
            subscription.tenantID = tenant
            return JSONParser.serialize(subscription.storedJSON())
        }
        for index in 0..<tenants {
            var fields = TenantInput()
            fields.name = "Tenant \(index)"
            append(.tenantChanged, TenantChangeRecord(tenantID: "t\(index)", created: true, fields: fields).encode())
            append(.subscriptionUpserted, subscription("sub_\(index)_all", "*", tenant: "t\(index)"))
            append(.subscriptionUpserted, subscription("sub_\(index)_orders", "order.created", tenant: "t\(index)"))
        }
        append(.subscriptionUpserted, subscription("sub_admin", "*", tenant: nil))
        var fold = GatewayFold(idempotencyWindow: 3_600_000_000)
        _ = fold.apply(records, now: now)
        return fold
    }

    /// `count` events as journal records after `fold`'s: addressed to tenants picked with a
    /// seeded generator, or not addressed, of `type`.
    static func events(after fold: GatewayFold, count: Int, tenants: Int, type: String, addressed: Bool) -> [(JournalRecord, String?)] {
        var random = SplitMix64(seed: 11)
        return (0..<count).map { index in
            let sequence = fold.appliedThrough + 1 + UInt64(index)
            let tenant = addressed ? "t\(random.next() % UInt64(tenants))" : nil
            let payload = EventRecord(id: "evt_\(sequence)", type: type, source: "admin", partitionKey: nil, occurredAt: nil,
                                      idempotencyKey: nil, bodyDigest: [], data: Array("{}".utf8), tenant: tenant).encode()
            return (JournalRecord(sequence: sequence, timestamp: now, kind: .event, payload: payload,
                                  location: RecordLocation(segment: 2, offset: sequence * 64, length: 64)), tenant)
        }
    }

    /// Applies `count` addressed events, in three rounds; checks each went to exactly its
    /// tenant's two subscriptions; returns the fan-outs made and the quickest round's time
    /// (the least disturbed by whatever else the machine is doing).
    static func addressedRun(tenants: Int, count: Int) -> (fanOuts: Int, quickestRound: Duration) {
        var fold = fold(tenants: tenants)
        let events = events(after: fold, count: count, tenants: tenants, type: "order.created", addressed: true)
        var fanOuts: [FanOut] = []
        var quickest = Duration.seconds(3600)
        let round = (count + 2) / 3
        for start in stride(from: 0, to: count, by: round) {
            let records = events[start..<min(start + round, count)].map(\.0)
            let took = ContinuousClock().measure {
                fanOuts += fold.apply(records, now: now).fannedOut
            }
            quickest = min(quickest, took)
        }
        let bySequence = Dictionary(grouping: fanOuts, by: \.sequence)
        for (record, tenant) in events {
            let reached = Set(bySequence[record.sequence, default: []].map(\.subscriptionID))
            let expected: Set<String> = tenant.map { ["sub_\($0.dropFirst())_all", "sub_\($0.dropFirst())_orders"] } ?? []
            if reached != expected {
                Issue.record("event \(record.sequence) to \(tenant ?? "nobody") reached \(reached.sorted())")
                break
            }
        }
        return (fanOuts.count, quickest)
    }

    @Test func anAddressedEventReachesItsTenantsTwoSubscriptionsWhateverTheNumberOfTenants() {
        let few = Self.addressedRun(tenants: 50, count: 10_000)
        let many = Self.addressedRun(tenants: 5_000, count: 10_000)
        // The work, counted: two deliveries an event, with 50 tenants or with 5,000.
        #expect(few.fanOuts == 20_000)
        #expect(many.fanOuts == 20_000)
        // The fold keeps no count of the subscriptions it looks at, so these are time guards,
        // generous for a loaded debug build: a scan of every tenant's subscriptions would
        // make a round with 5,000 tenants about a hundred times one with 50.
        #expect(many.quickestRound < .seconds(5), "a round of addressed events among 5,000 tenants took \(many.quickestRound)")
        #expect(many.quickestRound < few.quickestRound * 10 + .milliseconds(100),
                "5,000 tenants: \(many.quickestRound) a round; 50 tenants: \(few.quickestRound)")
    }

    @Test func aTypeHiddenFromTenantsGoesOnlyToTheAdminWhateverTheNumberOfTenants() {
        var fold = Self.fold(tenants: 5_000)
        let hidden = Self.events(after: fold, count: 10_000, tenants: 5_000, type: "audit.logged", addressed: false)
        var fanOuts: [FanOut] = []
        let took = ContinuousClock().measure {
            fanOuts = fold.apply(hidden.map(\.0), now: Self.now).fannedOut
        }
        #expect(fanOuts.count == 10_000 && fanOuts.allSatisfy { $0.subscriptionID == "sub_admin" })
        #expect(took < .seconds(10), "took \(took)")
        // A visible broadcast does reach every tenant: 2 each, and the admin.
        let broadcast = Self.events(after: fold, count: 1, tenants: 5_000, type: "order.created", addressed: false)
        #expect(fold.apply(broadcast.map(\.0), now: Self.now).fannedOut.count == 10_001)
    }
}
