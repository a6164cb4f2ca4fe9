@testable import Gateway
import JSON
import PropertyBased
import TestSupport
import Testing

/// The fold as a value: random journals — events, subscription changes, attempts, dead-letter
/// changes, types, sources, in any order — fed straight in as records, with no journal,
/// socket or clock.
@Suite("Gateway fold")
struct GatewayFoldTests {
    static let window: Int64 = 3_600_000_000
    static let now: Int64 = 1_800_000_000_000_000

    /// Turns random numbers into a plausible journal: each number picks a record kind and its
    /// fields from small pools, so ids, types and sequences collide often.
    struct JournalScript {
        private(set) var records: [JournalRecord] = []
        private var eventSequences: [UInt64] = []
        private let subscriptionIDs = ["sub_1", "sub_2", "sub_3", "sub_4"]
        private let types = ["a.b", "a.c", "order.created", "order.line.added", "x"]
        private let patterns = ["*", "a.*", "a.b", "order.*", "order.*.added", "x", "order.created"]
        private let tenantIDs = ["t1", "t2", "t3"]

        init(_ seeds: [Int]) {
            for seed in seeds { add(seed) }
        }

        private mutating func add(_ seed: Int) {
            var random = SplitMix64(seed: UInt64(truncatingIfNeeded: seed))
            func pick<T>(_ pool: [T]) -> T { pool[Int(random.next() % UInt64(pool.count))] }
            func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }
            let sequence = UInt64(records.count + 1)
            let subscription = pick(subscriptionIDs)
            switch random.next() % 15 {
            case 0, 1, 2, 3:
                let key: String? = chance(40) ? "k\(random.next() % 6)" : nil
                let event = EventRecord(
                    id: key.map { "id-\($0)-\(sequence)" } ?? "evt_\(sequence)", type: pick(types), source: pick(["admin", "shop"]),
                    partitionKey: chance(30) ? "p\(random.next() % 3)" : nil, occurredAt: nil, idempotencyKey: key,
                    bodyDigest: key == nil ? [] : [UInt8(random.next() % 3)], data: Array("{\"n\":\(random.next() % 10)}".utf8),
                    targetSubscription: chance(10) ? subscription : nil, tenant: chance(25) ? pick(tenantIDs) : nil)
                eventSequences.append(sequence)
                append(.event, event.encode())
            case 4:
                var created = Subscription(id: subscription, url: "https://example.com/\(subscription)",
                                           eventTypes: [EventTypePattern(pick(patterns))!], secrets: [.init(value: "whsec_x", expiresAt: nil)])
                if chance(40) {
                    let filter: JSONValue = .object([("n", .object([("$gte", .number(Double(random.next() % 10)))]))])
                    created.filter = try? SubscriptionFilter(filter)
                    created.filterJSON = filter
                }
                created.ordered = chance(30)
                if chance(50) { created.tenantID = pick(tenantIDs) }
                append(.subscriptionUpserted, JSONParser.serialize(created.storedJSON()))
            case 5:
                var change = SubscriptionChange(subscriptionID: subscription)
                switch random.next() % 4 {
                case 0: change.fields = .object([("eventTypes", .array([.string(pick(patterns)), .string(pick(patterns))]))])
                case 1: change.paused = chance(50)
                case 2: change.enable = true
                default: change.rotation = .init(secret: "whsec_r\(sequence)", previousExpiresAt: Self.timestamp(sequence) + 10)
                }
                append(.subscriptionChanged, change.encode())
            case 6:
                if chance(20) {
                    append(.subscriptionDeleted, NameRecord(name: subscription).encode())
                } else {
                    append(.subscriptionDisabled, SubscriptionDisabledRecord(subscriptionID: subscription, reason: "HTTP 410").encode())
                }
            case 7, 8:
                guard !eventSequences.isEmpty else { return }
                let result = pick([DeliveryAttemptRecord.Result.retryScheduled, .delivered, .deadLettered])
                let attempt = DeliveryAttemptRecord(
                    subscriptionID: subscription, sequence: pick(eventSequences), attempt: UInt32(1 + random.next() % 3),
                    status: pick([200, 500, nil]), error: "", durationMicroseconds: Int64(random.next() % 1000), response: [],
                    result: result, nextAttemptAt: result == .retryScheduled ? Self.timestamp(sequence) + 5 : 0)
                append(.deliveryAttempted, attempt.encode())
            case 9:
                guard !eventSequences.isEmpty else { return }
                let change = DeadLettersChangedRecord(
                    subscriptionID: subscription, action: chance(50) ? .redeliver : .discard,
                    sequences: [pick(eventSequences), pick(eventSequences)])
                append(.deadLettersChanged, change.encode())
            case 10:
                let name = pick(["a.b", "order.created"])
                if chance(70) {
                    append(.eventTypeUpserted, EventTypeRecord(name: name, description: "d\(sequence)",
                                                               schema: chance(50) ? Array(#"{"type":"object"}"#.utf8) : [],
                                                               tenantVisible: chance(60)).encode())
                } else {
                    append(.eventTypeArchived, NameRecord(name: name).encode())
                }
            case 11:
                let name = pick(["shop", "crm"])
                if chance(70) {
                    append(.sourceCreated, SourceRecord(name: name, tokenDigest: [UInt8(random.next() % 4)]).encode())
                } else {
                    append(.sourceRevoked, NameRecord(name: name).encode())
                }
            case 12:
                // Tenants: created (again, for one that exists), changed, deleted.
                let tenant = pick(tenantIDs)
                var fields = TenantInput()
                switch random.next() % 4 {
                case 0, 1:
                    fields.name = "Tenant \(sequence)"
                    fields.metadata = chance(50) ? ["plan": "p\(sequence)"] : nil
                    fields.maxSubscriptions = chance(50) ? .some(Int(random.next() % 5)) : nil
                    append(.tenantChanged, TenantChangeRecord(tenantID: tenant, created: true, fields: fields).encode())
                case 2:
                    fields.description = "d\(sequence)"
                    fields.deliveryRateLimit = chance(50) ? .some(nil) : .some(Int(1 + random.next() % 9))
                    append(.tenantChanged, TenantChangeRecord(tenantID: tenant, created: false, fields: fields).encode())
                default:
                    append(.tenantDeleted, NameRecord(name: tenant).encode())
                }
            case 13:
                // Each token has its own digest, as SHA-256 digests of random tokens do.
                let token = TenantToken(id: "tok_\(random.next() % 4)", tenantID: pick(tenantIDs), digest: [UInt8(sequence % 256), UInt8(sequence / 256)],
                                        description: "t\(sequence)", expiresAt: chance(50) ? Self.timestamp(sequence) + 99 : nil,
                                        createdAt: Self.timestamp(sequence))
                append(.tenantTokenIssued, TenantTokenRecord(token: token).encode())
            default:
                append(.tenantTokenRevoked, TenantTokenRevokedRecord(tenantID: pick(tenantIDs), tokenID: "tok_\(random.next() % 4)").encode())
            }
        }

        static func timestamp(_ sequence: UInt64) -> Int64 { GatewayFoldTests.now - 1_000_000 + Int64(sequence) }

        private mutating func append(_ kind: RecordKind, _ payload: [UInt8]) {
            let sequence = UInt64(records.count + 1)
            records.append(JournalRecord(
                sequence: sequence, timestamp: Self.timestamp(sequence), kind: kind, payload: payload,
                location: RecordLocation(segment: 1, offset: sequence * 64, length: UInt32(payload.count + 25))))
        }
    }

    /// Decodes a record's payload into its typed value and encodes it again.
    static func reencoded(_ record: JournalRecord) throws -> JournalRecord {
        var copy = record
        switch record.kind {
        case .event: copy.payload = try EventRecord.decode(record.payload).encode()
        case .eventTypeUpserted: copy.payload = try EventTypeRecord.decode(record.payload).encode()
        case .eventTypeArchived, .sourceRevoked, .subscriptionDeleted: copy.payload = try NameRecord.decode(record.payload).encode()
        case .sourceCreated: copy.payload = try SourceRecord.decode(record.payload).encode()
        case .subscriptionUpserted:
            copy.payload = JSONParser.serialize(try Subscription.fromStored(try JSONParser.parse(record.payload)).storedJSON())
        case .subscriptionChanged: copy.payload = try SubscriptionChange.decode(record.payload).encode()
        case .subscriptionDisabled: copy.payload = try SubscriptionDisabledRecord.decode(record.payload).encode()
        case .deliveryAttempted: copy.payload = try DeliveryAttemptRecord.decode(record.payload).encode()
        case .deadLettersChanged: copy.payload = try DeadLettersChangedRecord.decode(record.payload).encode()
        case .tenantChanged: copy.payload = try TenantChangeRecord.decode(record.payload).encode()
        case .tenantDeleted: copy.payload = try NameRecord.decode(record.payload).encode()
        case .tenantTokenIssued: copy.payload = try TenantTokenRecord.decode(record.payload, at: record.timestamp).encode()
        case .tenantTokenRevoked: copy.payload = try TenantTokenRevokedRecord.decode(record.payload).encode()
        default: Issue.record("unexpected kind \(record.kind)")
        }
        return copy
    }

    static func fold(_ records: [JournalRecord], in chunks: [Int] = []) -> (GatewayFold, [FanOut]) {
        var fold = GatewayFold(idempotencyWindow: window)
        var fanOuts: [FanOut] = []
        var rest = records[...]
        for size in chunks where !rest.isEmpty {
            fanOuts += fold.apply(Array(rest.prefix(size)), now: now).fannedOut
            rest = rest.dropFirst(size)
        }
        fanOuts += fold.apply(Array(rest), now: now).fannedOut
        return (fold, fanOuts)
    }

    /// Fan-outs of one record may come in any order (subscriptions are matched through sets).
    static func normalized(_ fanOuts: [FanOut]) -> [FanOut] {
        fanOuts.sorted { ($0.cause, $0.subscriptionID, $0.sequence) < ($1.cause, $1.subscriptionID, $1.sequence) }
    }

    static let journals = Gen.int(in: 0...Int.max).array(of: 1...120)

    @Test func foldingAfterReencodingGivesTheSameState() async {
        await propertyCheck(count: 150, input: Self.journals) { seeds in
            let records = JournalScript(seeds).records
            let (original, originalFanOuts) = Self.fold(records)
            guard let reencoded = try? records.map(Self.reencoded) else {
                Issue.record("a generated record did not decode")
                return
            }
            let (again, againFanOuts) = Self.fold(reencoded)
            #expect(again == original)
            #expect(Self.normalized(againFanOuts) == Self.normalized(originalFanOuts))
            #expect(original.undecodable == 0)
        }
    }

    @Test func howRecordsAreBatchedDoesNotMatter() async {
        await propertyCheck(count: 150, input: Self.journals, Gen.int(in: 1...7).array(of: 0...40)) { seeds, chunks in
            let records = JournalScript(seeds).records
            let (whole, wholeFanOuts) = Self.fold(records)
            let (batched, batchedFanOuts) = Self.fold(records, in: chunks)
            #expect(batched == whole)
            #expect(Self.normalized(batchedFanOuts) == Self.normalized(wholeFanOuts))
        }
    }

    /// Issue 9: recovery loads a snapshot and folds only the records after it. For any journal
    /// and any point in it, the snapshot written there, read back, and folded forward equals
    /// the fold of the whole journal, and makes the same fan-outs after that point.
    @Test func snapshotPlusTailEqualsTheWholeFold() async {
        await propertyCheck(count: 150, input: Self.journals, Gen.int(in: 0...120)) { seeds, cut in
            var records = JournalScript(seeds).records
            records += Self.carriedAndOwed(after: records)
            let point = min(cut, records.count)
            let (whole, wholeFanOuts) = Self.fold(records)
            let (head, _) = Self.fold(Array(records.prefix(point)))
            guard var restored = try? FoldSnapshot.decode(FoldSnapshot.encode(head), idempotencyWindow: Self.window) else {
                Issue.record("a snapshot did not read back")
                return
            }
            #expect(restored == head)
            let tailFanOuts = restored.apply(Array(records.dropFirst(point)), now: Self.now).fannedOut
            #expect(restored == whole)
            #expect(Self.normalized(tailFanOuts) == Self.normalized(wholeFanOuts.filter { $0.cause > UInt64(point) }))
        }
    }

    /// Retention's and resend's records for a journal: every owed event carried (as
    /// retention would before deleting its segment), then one event owed again to each
    /// subscription.
    static func carriedAndOwed(after records: [JournalRecord]) -> [JournalRecord] {
        let (fold, _) = fold(records)
        var extra: [JournalRecord] = []
        func append(_ kind: RecordKind, _ payload: [UInt8]) {
            let sequence = UInt64(records.count + extra.count + 1)
            extra.append(JournalRecord(sequence: sequence, timestamp: JournalScript.timestamp(sequence), kind: kind, payload: payload,
                                       location: RecordLocation(segment: 2, offset: sequence * 64, length: UInt32(payload.count + 25))))
        }
        for (sequence, _) in fold.owedEvents(in: 1).sorted(by: { $0.key < $1.key }) {
            append(.eventCarried, CarriedEventRecord(records[Int(sequence) - 1]).encode())
        }
        if let event = records.first(where: { $0.kind == .event }) {
            for id in fold.subscriptions.keys.sorted() {
                append(.deliveriesOwed, DeliveriesOwedRecord(
                    subscriptionID: id, replayID: "", events: [EventReference(sequence: event.sequence, location: event.location)]).encode())
            }
        }
        return extra
    }

    @Test func carryingAnOwedEventMovesItWhereverItIsOwed() throws {
        let subscription = Subscription(id: "sub_1", url: "https://a.example/", eventTypes: [EventTypePattern("*")!],
                                        secrets: [.init(value: "whsec_one", expiresAt: nil)])
        let event = EventRecord(id: "evt_1", type: "a.b", source: "admin", partitionKey: nil, occurredAt: nil, idempotencyKey: nil,
                                bodyDigest: [], data: Array("{}".utf8), targetSubscription: nil)
        let records = [
            JournalRecord(sequence: 1, timestamp: 1, kind: .subscriptionUpserted, payload: JSONParser.serialize(subscription.storedJSON()),
                          location: RecordLocation(segment: 1, offset: 16, length: 100)),
            JournalRecord(sequence: 2, timestamp: 2, kind: .event, payload: event.encode(),
                          location: RecordLocation(segment: 1, offset: 116, length: 80)),
        ]
        var fold = GatewayFold(idempotencyWindow: Self.window)
        _ = fold.apply(records, now: Self.now)
        #expect(fold.owedEvents(in: 1) == [2: records[1].location])
        let carried = JournalRecord(sequence: 3, timestamp: 3, kind: .eventCarried, payload: CarriedEventRecord(records[1]).encode(),
                                    location: RecordLocation(segment: 3, offset: 16, length: 120))
        _ = fold.apply([carried], now: Self.now)
        #expect(fold.owedEvents(in: 1).isEmpty)
        #expect(fold.owedEvents(in: 3) == [2: carried.location])
        let unwrapped = try #require(carried.unwrappingCarried())
        #expect(unwrapped.sequence == 2 && unwrapped.timestamp == 2 && unwrapped.kind == .event && unwrapped.payload == records[1].payload)
    }

    @Test func fanOutMatchesEveryLiveSubscriptionWhosePatternsAndFilterMatch() async {
        await propertyCheck(count: 150, input: Self.journals) { seeds in
            let records = JournalScript(seeds).records
            // Replays the journal one record at a time and checks each event's fan-out against
            // a brute-force scan of the subscriptions as they stood just before it.
            var fold = GatewayFold(idempotencyWindow: Self.window)
            for record in records {
                let before = fold.subscriptions
                let types = fold.eventTypes
                let fanOuts = fold.apply([record], now: Self.now).fannedOut.filter { $0.cause == record.sequence }
                guard record.kind == .event, let event = try? EventRecord.decode(record.payload) else { continue }
                let data = try? JSONParser.parse(event.data)
                let expected = before.values.filter { subscription in
                    guard subscription.disabledReason == nil else { return false }
                    if let target = event.targetSubscription { return target == subscription.id }
                    guard subscription.eventTypes.contains(where: { $0.matches(event.type) }) else { return false }
                    let visible = types[event.type].map { $0.tenantVisible && !$0.archived } ?? false
                    guard TenantAddressing.reaches(subscription, eventTenant: event.tenant, typeVisible: visible) else { return false }
                    return subscription.filter.map { filter in data.map(filter.matches) ?? false } ?? true
                }.map(\.id).sorted()
                #expect(fanOuts.map(\.subscriptionID).sorted() == expected, "event \(event.type) at \(record.sequence)")
            }
        }
    }

    /// Issue 11: tenants, tokens, visible types and tenants' subscriptions read back from a
    /// snapshot equal to what was folded, and the restored fold routes as the original does.
    @Test func tenantsRoundTripThroughASnapshotAndRouteTheSame() throws {
        var script: [JournalRecord] = []
        func append(_ kind: RecordKind, _ payload: [UInt8]) {
            let sequence = UInt64(script.count + 1)
            script.append(JournalRecord(sequence: sequence, timestamp: Self.now + Int64(sequence), kind: kind, payload: payload,
                                        location: RecordLocation(segment: 1, offset: sequence * 64, length: 64)))
        }
        func subscription(_ id: String, _ pattern: String, tenant: String?) -> [UInt8] {
            var subscription = Subscription(id: id, url: "https://a.example/\(id)", eventTypes: [EventTypePattern(pattern)!],
                                            secrets: [.init(value: "whsec_x", expiresAt: nil)])
            subscription.tenantID = tenant
            return JSONParser.serialize(subscription.storedJSON())
        }
        func event(_ id: String, _ type: String, tenant: String?) -> [UInt8] {
            EventRecord(id: id, type: type, source: "admin", partitionKey: nil, occurredAt: nil, idempotencyKey: nil, bodyDigest: [],
                        data: Array("{}".utf8), tenant: tenant).encode()
        }
        var acme = TenantInput()
        acme.name = "Acme"
        acme.description = "first customer"
        acme.metadata = ["plan": "gold", "region": "eu"]
        acme.maxSubscriptions = .some(3)
        acme.deliveryRateLimit = .some(nil)
        var globex = TenantInput()
        globex.name = "Globex"
        var patch = TenantInput()
        patch.deliveryRateLimit = .some(25)
        append(.eventTypeUpserted, EventTypeRecord(name: "order.created", description: "", schema: [], tenantVisible: true).encode())
        append(.eventTypeUpserted, EventTypeRecord(name: "user.created", description: "", schema: []).encode())
        append(.tenantChanged, TenantChangeRecord(tenantID: "acme", created: true, fields: acme).encode())
        append(.tenantChanged, TenantChangeRecord(tenantID: "globex", created: true, fields: globex).encode())
        append(.tenantChanged, TenantChangeRecord(tenantID: "acme", created: false, fields: patch).encode())
        let token = TenantToken(id: "tok_1", tenantID: "acme", digest: Array(repeating: 7, count: 32), description: "CI",
                                expiresAt: Self.now + 1_000_000, createdAt: 0)
        append(.tenantTokenIssued, TenantTokenRecord(token: token).encode())
        append(.tenantTokenIssued, TenantTokenRecord(token: TenantToken(id: "tok_2", tenantID: "globex", digest: [9], description: "",
                                                                        expiresAt: nil, createdAt: 0)).encode())
        append(.tenantTokenRevoked, TenantTokenRevokedRecord(tenantID: "globex", tokenID: "tok_2").encode())
        append(.subscriptionUpserted, subscription("sub_acme", "*", tenant: "acme"))
        append(.subscriptionUpserted, subscription("sub_globex", "order.*", tenant: "globex"))
        append(.subscriptionUpserted, subscription("sub_admin", "*", tenant: nil))
        append(.event, event("evt_1", "order.created", tenant: "acme"))

        var fold = GatewayFold(idempotencyWindow: Self.window)
        _ = fold.apply(script, now: Self.now)
        #expect(fold.undecodable == 0)
        let tenant = try #require(fold.tenants["acme"])
        #expect(tenant.name == "Acme" && tenant.description == "first customer" && tenant.metadata == ["plan": "gold", "region": "eu"])
        #expect(tenant.quotas == Tenant.Quotas(maxSubscriptions: 3, deliveryRateLimit: 25))
        #expect(tenant.createdAt == Self.now + 3 && tenant.updatedAt == Self.now + 5)
        #expect(fold.tenantTokens.keys.sorted() == ["tok_1"])
        #expect(fold.tenantTokens["tok_1"]?.createdAt == Self.now + 6 && fold.tenantTokens["tok_1"]?.expiresAt == Self.now + 1_000_000)
        #expect(fold.ledgers["sub_acme"]?.location(of: 12) != nil && fold.ledgers["sub_admin"] == nil)

        let restored = try FoldSnapshot.decode(FoldSnapshot.encode(fold), idempotencyWindow: Self.window)
        #expect(restored == fold)
        #expect(restored.tenants == fold.tenants && restored.tenantTokens == fold.tenantTokens)
        #expect(restored.tenantTokensByDigest == [Array(repeating: 7, count: 32): "tok_1"])
        #expect(restored.eventTypes["order.created"]?.tenantVisible == true && restored.eventTypes["user.created"]?.tenantVisible == false)
        #expect(restored.subscriptions["sub_acme"]?.tenantID == "acme" && restored.subscriptions["sub_admin"]?.tenantID == nil)
        #expect(restored.tenantSubscriptions == ["acme": ["sub_acme"], "globex": ["sub_globex"]])

        // The same fan-outs after the snapshot as without it.
        let tail: [(String, String, String?)] = [("evt_2", "order.created", "globex"), ("evt_3", "order.created", nil),
                                                 ("evt_4", "user.created", nil), ("evt_5", "order.created", "acme")]
        let start = script.count
        for (id, type, tenant) in tail { append(.event, event(id, type, tenant: tenant)) }
        append(.tenantDeleted, NameRecord(name: "acme").encode())
        append(.event, event("evt_6", "order.created", tenant: nil))
        var original = fold, again = restored
        let originalFanOuts = original.apply(Array(script.dropFirst(start)), now: Self.now).fannedOut
        let againFanOuts = again.apply(Array(script.dropFirst(start)), now: Self.now).fannedOut
        #expect(Self.normalized(againFanOuts) == Self.normalized(originalFanOuts))
        #expect(again == original)
        let routed = Dictionary(grouping: originalFanOuts, by: \.sequence).mapValues { Set($0.map(\.subscriptionID)) }
        #expect(routed == [13: ["sub_globex"], 14: ["sub_acme", "sub_globex", "sub_admin"], 15: ["sub_admin"], 16: ["sub_acme"],
                           18: ["sub_globex", "sub_admin"]])
        // The deleted tenant took its subscription, what it was owed, and its token.
        #expect(original.subscriptions["sub_acme"] == nil && original.ledgers["sub_acme"] == nil)
        #expect(original.tenantTokens.isEmpty && original.tenantTokensByDigest.isEmpty)
    }

    @Test func aChangeAppliesOnlyItsFieldsToTheSubscriptionAsItStands() throws {
        var subscription = Subscription(id: "sub_1", url: "https://a.example/", eventTypes: [EventTypePattern("*")!],
                                        secrets: [.init(value: "whsec_one", expiresAt: nil)])
        subscription.description = "first"
        var script: [JournalRecord] = []
        func append(_ kind: RecordKind, _ payload: [UInt8]) {
            let sequence = UInt64(script.count + 1)
            script.append(JournalRecord(sequence: sequence, timestamp: Self.now + Int64(sequence), kind: kind, payload: payload,
                                        location: RecordLocation(segment: 1, offset: sequence, length: 1)))
        }
        append(.subscriptionUpserted, JSONParser.serialize(subscription.storedJSON()))
        // Two changes made from the same earlier read, of different fields: both stick.
        append(.subscriptionChanged, SubscriptionChange(subscriptionID: "sub_1", fields: .object([("description", .string("second"))])).encode())
        append(.subscriptionChanged, SubscriptionChange(subscriptionID: "sub_1", fields: .object([("maxInFlight", .number(3))])).encode())
        append(.subscriptionChanged, SubscriptionChange(subscriptionID: "sub_1", paused: true).encode())
        append(.subscriptionChanged, SubscriptionChange(
            subscriptionID: "sub_1", rotation: .init(secret: "whsec_two", previousExpiresAt: Self.now + 100)).encode())
        var fold = GatewayFold(idempotencyWindow: Self.window)
        _ = fold.apply(script, now: Self.now)
        let result = try #require(fold.subscriptions["sub_1"])
        #expect(result.description == "second")
        #expect(result.maxInFlight == 3)
        #expect(result.paused)
        #expect(result.url == "https://a.example/")
        #expect(result.secrets == [.init(value: "whsec_two", expiresAt: nil), .init(value: "whsec_one", expiresAt: Self.now + 100)])
        // A change to a subscription deleted since changes nothing, and brings nothing back.
        append(.subscriptionDeleted, NameRecord(name: "sub_1").encode())
        append(.subscriptionChanged, SubscriptionChange(subscriptionID: "sub_1", paused: false).encode())
        _ = fold.apply(Array(script.suffix(2)), now: Self.now)
        #expect(fold.subscriptions["sub_1"] == nil)
        #expect(fold.undecodable == 0)
    }
}
