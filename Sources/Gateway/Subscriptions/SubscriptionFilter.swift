import JSON
/// A condition on an event's `data`, evaluated when the event fans out. Written as JSON:
///
///     {"customer.tier": "gold"}                          equality on a field path
///     {"amount": {"$gte": 100, "$lt": 1000}}             comparisons (numbers or strings)
///     {"country": {"$in": ["DE", "FR"]}}                 membership
///     {"coupon": {"$exists": false}}                     presence
///     {"$or": [{...}, {...}]}, {"$and": [...]}, {"$not": {...}}
///
/// Several members in one object must all hold. Paths are dot-separated object keys; a
/// numeric segment also indexes an array (`lines.0.sku`). A filter that cannot be compiled
/// is refused when the subscription is created, with the location of the mistake.
public indirect enum SubscriptionFilter: Sendable, Equatable {
    case all([SubscriptionFilter])
    case any([SubscriptionFilter])
    case not(SubscriptionFilter)
    case field(path: [String], FieldTest)

    public enum FieldTest: Sendable, Equatable {
        case equals(JSONValue)
        case notEquals(JSONValue)
        case isIn([JSONValue])
        case compare(Comparison, JSONValue)
        case exists(Bool)
    }

    public enum Comparison: String, Sendable {
        case greaterThan = "$gt", greaterOrEqual = "$gte", lessThan = "$lt", lessOrEqual = "$lte"
    }

    public struct CompileError: Error, Sendable, Equatable, CustomStringConvertible {
        public let location: String
        public let reason: String
        public var description: String { location.isEmpty ? reason : "\(reason) (at \(location))" }
    }

    /// Compiles the JSON form above.
    public init(_ value: JSONValue) throws(CompileError) {
        self = try Self.compile(value, at: "")
    }

    private static func compile(_ value: JSONValue, at location: String) throws(CompileError) -> SubscriptionFilter {
        guard case .object(let members) = value else {
            throw CompileError(location: location, reason: "a filter must be an object")
        }
        guard !members.isEmpty else {
            throw CompileError(location: location, reason: "a filter needs at least one condition")
        }
        var parts: [SubscriptionFilter] = []
        for (key, operand) in members {
            let here = location + "/" + key
            switch key {
            case "$and", "$or":
                guard case .array(let items) = operand, !items.isEmpty else {
                    throw CompileError(location: here, reason: "\(key) takes a non-empty array of filters")
                }
                var compiled: [SubscriptionFilter] = []
                for (index, item) in items.enumerated() { compiled.append(try compile(item, at: here + "/\(index)")) }
                parts.append(key == "$and" ? .all(compiled) : .any(compiled))
            case "$not":
                parts.append(.not(try compile(operand, at: here)))
            default:
                if key.hasPrefix("$") { throw CompileError(location: here, reason: "unknown operator \(key)") }
                let path = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                guard !path.contains(where: \.isEmpty) else {
                    throw CompileError(location: here, reason: "'\(key)' is not a valid field path")
                }
                parts.append(contentsOf: try fieldTests(path: path, operand, at: here))
            }
        }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    /// `{"$gt": 1, "$lt": 5}` is two tests; any other value is an equality test.
    private static func fieldTests(path: [String], _ operand: JSONValue, at location: String) throws(CompileError) -> [SubscriptionFilter] {
        // An object whose keys are operators is a set of tests; mixing operators with plain
        // keys is ambiguous (a test, or equality with an object?), so it is refused.
        guard case .object(let members) = operand, members.contains(where: { $0.key.hasPrefix("$") }) else {
            return [.field(path: path, .equals(operand))]
        }
        if let plain = members.first(where: { !$0.key.hasPrefix("$") }) {
            throw CompileError(location: location, reason: "'\(plain.key)' is mixed with operators; use only operators ($eq, $gt, ...) here")
        }
        var tests: [SubscriptionFilter] = []
        for (op, argument) in members {
            let here = location + "/" + op
            switch op {
            case "$eq": tests.append(.field(path: path, .equals(argument)))
            case "$ne": tests.append(.field(path: path, .notEquals(argument)))
            case "$in":
                guard case .array(let options) = argument else { throw CompileError(location: here, reason: "$in takes an array") }
                tests.append(.field(path: path, .isIn(options)))
            case "$exists":
                guard case .bool(let flag) = argument else { throw CompileError(location: here, reason: "$exists takes true or false") }
                tests.append(.field(path: path, .exists(flag)))
            case "$gt", "$gte", "$lt", "$lte":
                switch argument {
                case .number, .string: break
                default: throw CompileError(location: here, reason: "\(op) takes a number or a string")
                }
                tests.append(.field(path: path, .compare(Comparison(rawValue: op)!, argument)))
            default:
                throw CompileError(location: here, reason: "unknown operator \(op)")
            }
        }
        return tests
    }

    /// Whether `data` satisfies the filter.
    public func matches(_ data: JSONValue) -> Bool {
        switch self {
        case .all(let parts): return parts.allSatisfy { $0.matches(data) }
        case .any(let parts): return parts.contains { $0.matches(data) }
        case .not(let inner): return !inner.matches(data)
        case .field(let path, let test):
            let value = Self.lookup(path, in: data)
            switch test {
            case .exists(let expected): return (value != nil) == expected
            case .equals(let expected): return value == expected
            case .notEquals(let expected): return value != expected
            case .isIn(let options): return value.map { options.contains($0) } ?? false
            case .compare(let comparison, let bound):
                guard let value else { return false }
                switch (value, bound) {
                case let (.number(a), .number(b)): return Self.holds(comparison, a, b)
                case let (.string(a), .string(b)):
                    // Strings compare by UTF-8 bytes: stable, and ISO 8601 timestamps sort right.
                    let order = a.utf8.elementsEqual(b.utf8) ? 0 : (a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1)
                    return Self.holds(comparison, order, 0)
                default: return false
                }
            }
        }
    }

    private static func holds<T: Comparable>(_ comparison: Comparison, _ a: T, _ b: T) -> Bool {
        switch comparison {
        case .greaterThan: a > b
        case .greaterOrEqual: a >= b
        case .lessThan: a < b
        case .lessOrEqual: a <= b
        }
    }

    private static func lookup(_ path: [String], in data: JSONValue) -> JSONValue? {
        var current = data
        for segment in path {
            switch current {
            case .object:
                guard let next = current[segment] else { return nil }
                current = next
            case .array(let items):
                guard let index = Int(segment), index >= 0, index < items.count else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }
}
