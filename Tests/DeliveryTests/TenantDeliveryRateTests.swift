@testable import Delivery
@testable import Gateway
import Testing

/// Issue 11: a tenant's `deliveryRateLimit` is one token bucket shared by all its
/// subscriptions' lanes, on top of each subscription's own `rateLimit`; lanes take turns at
/// it. Driven through the storage seam with a clock the test moves, so every count is exact.
@Suite("Tenant delivery rate")
struct TenantDeliveryRateTests {
    typealias Rig = DispatcherSeamTests.Rig

    static func tenant(_ id: String, rate: Int?) -> Tenant {
        var tenant = Tenant(id: id, name: id)
        tenant.quotas.deliveryRateLimit = rate
        return tenant
    }

    static func subscription(_ id: String, tenant: String?, rateLimit: Int? = nil) -> Subscription {
        var subscription = Rig.subscription(id, maxInFlight: 1000)
        subscription.tenantID = tenant
        subscription.rateLimit = rateLimit
        return subscription
    }

    /// `count` events, each fanned out to every one of `subscriptions`.
    static func owe(_ rig: Rig, _ count: Int, to subscriptions: [String]) {
        for sequence in 1...UInt64(count) {
            rig.store.addEvent(sequence)
            rig.store.fanOut(sequence, to: subscriptions)
        }
    }

    /// Runs the dispatcher over `duration` of the test's clock, a turn every `tick`, every
    /// request answered 200 at once; how many requests each subscription was sent.
    static func run(_ rig: Rig, for duration: Duration, tick: Duration = .milliseconds(10)) -> [String: Int] {
        var sent: [String: Int] = [:]
        var elapsed: Duration = .zero
        while true {
            for request in rig.sent() {
                sent[String(request.url.split(separator: "/").last ?? ""), default: 0] += 1
                rig.transport.answer(request, status: 200)
            }
            if elapsed >= duration { break }
            rig.clock.advance(tick)
            elapsed += tick
        }
        return sent
    }

    @Test(arguments: [Duration.milliseconds(1), .milliseconds(10), .milliseconds(50), .milliseconds(100)])
    func aTenantsSubscriptionsShareItsRateAndEachGetsATurn(_ tick: Duration) throws {
        let rig = try Rig(subscriptions: [Self.subscription("sub_a", tenant: "t"), Self.subscription("sub_b", tenant: "t")]) {
            $0.put(Self.tenant("t", rate: 10))
        }
        Self.owe(rig, 100, to: ["sub_a", "sub_b"])
        let sent = Self.run(rig, for: .seconds(3), tick: tick)
        let total = sent.values.reduce(0, +)
        // A second's worth banked at first, then 10 a second: 10 + 30.
        #expect(total >= 39 && total <= 41, "\(sent)")
        // Neither lane starves the other.
        for id in ["sub_a", "sub_b"] {
            #expect(sent[id, default: 0] >= total / 4, "\(id) got \(sent[id, default: 0]) of \(total): \(sent)")
        }
    }

    @Test func aSubscriptionsOwnRateStillApplies() throws {
        let rig = try Rig(subscriptions: [Self.subscription("sub_a", tenant: "t", rateLimit: 2), Self.subscription("sub_b", tenant: "t")]) {
            $0.put(Self.tenant("t", rate: 10))
        }
        Self.owe(rig, 100, to: ["sub_a", "sub_b"])
        let sent = Self.run(rig, for: .seconds(3))
        #expect(sent["sub_a", default: 0] <= 2 + 3 * 2 + 1, "\(sent)")
        #expect(sent.values.reduce(0, +) <= 41, "\(sent)")
        // What sub_a cannot take, sub_b does.
        #expect(sent["sub_b", default: 0] >= 30, "\(sent)")
    }

    @Test func eachTenantHasItsOwnBucketAndTheAdminsSubscriptionsNone() throws {
        let rig = try Rig(subscriptions: [Self.subscription("sub_a", tenant: "t1"), Self.subscription("sub_b", tenant: "t2"),
                                          Self.subscription("sub_c", tenant: nil), Self.subscription("sub_d", tenant: "free")]) {
            $0.put(Self.tenant("t1", rate: 5))
            $0.put(Self.tenant("t2", rate: 7))
            $0.put(Self.tenant("free", rate: nil))
        }
        Self.owe(rig, 50, to: ["sub_a", "sub_b", "sub_c", "sub_d"])
        let first = Self.run(rig, for: .zero)
        #expect(first == ["sub_a": 5, "sub_b": 7, "sub_c": 50, "sub_d": 50])
        let later = Self.run(rig, for: .seconds(2))
        #expect(later["sub_a", default: 0] >= 9 && later["sub_a", default: 0] <= 11, "\(later)")
        #expect(later["sub_b", default: 0] >= 13 && later["sub_b", default: 0] <= 15, "\(later)")
    }

    @Test func theGatewaysDefaultAppliesWhenTheTenantSetsNoneAndChangesTakeEffect() throws {
        let rig = try Rig(subscriptions: [Self.subscription("sub_a", tenant: "t"), Self.subscription("sub_b", tenant: "own")],
                          tenantDeliveryRateLimit: 4) {
            $0.put(Self.tenant("t", rate: nil))
            $0.put(Self.tenant("own", rate: 6))
        }
        Self.owe(rig, 100, to: ["sub_a", "sub_b"])
        var total = Self.run(rig, for: .zero)
        #expect(total == ["sub_a": 4, "sub_b": 6])
        let second = Self.run(rig, for: .seconds(1))
        #expect((3...5).contains(second["sub_a", default: 0]) && (5...7).contains(second["sub_b", default: 0]), "\(second)")
        // The admin raises the quota: the next pass uses it (at most a second's worth banked).
        rig.store.put(Self.tenant("t", rate: 20))
        let raised = Self.run(rig, for: .seconds(1))
        #expect((19...21).contains(raised["sub_a", default: 0]), "\(raised)")
        total.merge(second, uniquingKeysWith: +)
        total.merge(raised, uniquingKeysWith: +)
        // A tenant gone has no bucket (its subscriptions go with it anyway): all at once.
        rig.store.remove(tenant: "own")
        #expect(Self.run(rig, for: .zero)["sub_b"] == 100 - total["sub_b", default: 0])
    }
}
