extension RecordKind {
    /// One attempt to deliver an event to a subscription, and what it led to.
    static let deliveryAttempted = RecordKind(rawValue: 8)
    /// An operator put dead letters back in line, or dropped them.
    static let deadLettersChanged = RecordKind(rawValue: 9)
    /// The delivery side disabled a subscription (its endpoint answered 410 Gone).
    static let subscriptionDisabled = RecordKind(rawValue: 10)
}

/// The outcome of one delivery attempt. Written by the delivery side without waiting for its
/// sync (DESIGN.md invariant 3): losing one only means that attempt is made again.
public struct DeliveryAttemptRecord: Sendable, Equatable {
    public enum Result: UInt8, Sendable {
        /// Failed; the next attempt is due at `nextAttemptAt`.
        case retryScheduled = 0
        case delivered = 1
        /// Out of attempts or time: parked in the subscription's dead letters.
        case deadLettered = 2
    }

    public var subscriptionID: String
    public var sequence: UInt64
    /// 1 for the first attempt.
    public var attempt: UInt32
    /// The HTTP status, or nil when no response came (timeout, refused connection).
    public var status: Int?
    public var error: String
    public var durationMicroseconds: Int64
    /// The first KiB of the response body.
    public var response: [UInt8]
    public var result: Result
    public var nextAttemptAt: Int64

    public init(
        subscriptionID: String, sequence: UInt64, attempt: UInt32, status: Int?, error: String,
        durationMicroseconds: Int64, response: [UInt8], result: Result, nextAttemptAt: Int64 = 0
    ) {
        self.subscriptionID = subscriptionID
        self.sequence = sequence
        self.attempt = attempt
        self.status = status
        self.error = error
        self.durationMicroseconds = durationMicroseconds
        self.response = Array(response.prefix(1024))
        self.result = result
        self.nextAttemptAt = nextAttemptAt
    }

    /// "HTTP 500" or the transport error, for listings.
    var summary: String {
        if let status { return error.isEmpty ? "HTTP \(status)" : "HTTP \(status): \(error)" }
        return error
    }

    func encode() -> [UInt8] {
        var writer = BinaryWriter(capacity: 64 + response.count)
        writer.byte(1)
        writer.string(subscriptionID)
        writer.integer(sequence)
        writer.integer(attempt)
        // Clamped: a status outside 0...65535 must not trap the dispatcher (0 reads back as none).
        writer.integer(UInt16(clamping: status ?? 0))
        writer.string(error)
        writer.integer(durationMicroseconds)
        writer.blob(response)
        writer.byte(result.rawValue)
        writer.integer(nextAttemptAt)
        return writer.bytes
    }

    static func decode(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> DeliveryAttemptRecord {
        var reader = BinaryReader(payload)
        guard try reader.byte() == 1 else { throw BinaryReader.Malformed() }
        let subscription = try reader.string()
        let sequence: UInt64 = try reader.integer()
        let attempt: UInt32 = try reader.integer()
        let status: UInt16 = try reader.integer()
        let error = try reader.string()
        let duration: Int64 = try reader.integer()
        let response = try reader.blob()
        guard let result = Result(rawValue: try reader.byte()) else { throw BinaryReader.Malformed() }
        let next: Int64 = try reader.integer()
        return DeliveryAttemptRecord(
            subscriptionID: subscription, sequence: sequence, attempt: attempt, status: status == 0 ? nil : Int(status),
            error: error, durationMicroseconds: duration, response: response, result: result, nextAttemptAt: next)
    }
}

/// Dead letters put back in line (`redeliver`) or dropped (`discard`).
struct DeadLettersChangedRecord: Equatable {
    enum Action: UInt8 {
        case redeliver = 0
        case discard = 1
    }

    var subscriptionID: String
    var action: Action
    var sequences: [UInt64]

    func encode() -> [UInt8] {
        var writer = BinaryWriter(capacity: 32 + sequences.count * 8)
        writer.byte(1)
        writer.string(subscriptionID)
        writer.byte(action.rawValue)
        writer.integer(UInt32(sequences.count))
        for sequence in sequences { writer.integer(sequence) }
        return writer.bytes
    }

    static func decode(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> DeadLettersChangedRecord {
        var reader = BinaryReader(payload)
        guard try reader.byte() == 1 else { throw BinaryReader.Malformed() }
        let subscription = try reader.string()
        guard let action = Action(rawValue: try reader.byte()) else { throw BinaryReader.Malformed() }
        let count: UInt32 = try reader.integer()
        var sequences: [UInt64] = []
        for _ in 0..<count { sequences.append(try reader.integer()) }
        return DeadLettersChangedRecord(subscriptionID: subscription, action: action, sequences: sequences)
    }
}

/// A subscription disabled by the delivery side, with why. Only the reason, not a copy of
/// the subscription, so a change an operator makes meanwhile is never undone by it.
struct SubscriptionDisabledRecord: Equatable {
    var subscriptionID: String
    var reason: String

    func encode() -> [UInt8] {
        var writer = BinaryWriter()
        writer.byte(1)
        writer.string(subscriptionID)
        writer.string(reason)
        return writer.bytes
    }

    static func decode(_ payload: [UInt8]) throws(BinaryReader.Malformed) -> SubscriptionDisabledRecord {
        var reader = BinaryReader(payload)
        guard try reader.byte() == 1 else { throw BinaryReader.Malformed() }
        return SubscriptionDisabledRecord(subscriptionID: try reader.string(), reason: try reader.string())
    }
}
