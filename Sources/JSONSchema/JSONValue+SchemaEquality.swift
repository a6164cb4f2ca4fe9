import JSON
import Foundation

/// Equality as JSON Schema defines it for `enum`, `const` and `uniqueItems` (2020-12 core
/// §4.2.2): objects equal in any member order, `1` equal to `1.0`, and strings equal only when
/// their code points are. Swift's `String ==` uses canonical equivalence, under which "é"
/// and "e\u{301}" are equal, so strings are compared by their UTF-8 here instead.
extension JSONValue {
    func isSchemaEqual(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a.isCodePointEqual(to: b)
        case let (.array(a), .array(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isSchemaEqual(to: $1) }
        case let (.object(a), .object(b)):
            guard a.count == b.count else { return false }
            return a.allSatisfy { member in
                b.contains { $0.key.isCodePointEqual(to: member.key) && $0.value.isSchemaEqual(to: member.value) }
            }
        default: return false
        }
    }

    /// A hash consistent with `isSchemaEqual`, so `uniqueItems` can bucket items in one pass
    /// instead of comparing every pair: a payload with a 100 000-item array must not cost
    /// 5·10⁹ comparisons.
    var schemaEqualityHash: Int {
        var hasher = Hasher()
        combineSchemaEquality(into: &hasher)
        return hasher.finalize()
    }

    private func combineSchemaEquality(into hasher: inout Hasher) {
        switch self {
        case .null:
            hasher.combine(0 as UInt8)
        case .bool(let flag):
            hasher.combine(1 as UInt8)
            hasher.combine(flag)
        case .number(let number):
            hasher.combine(2 as UInt8)
            // Double's hash already treats 0.0 and -0.0 alike, as == does.
            hasher.combine(number)
        case .string(let string):
            hasher.combine(3 as UInt8)
            string.combineUTF8(into: &hasher)
        case .array(let elements):
            hasher.combine(4 as UInt8)
            hasher.combine(elements.count)
            for element in elements {
                element.combineSchemaEquality(into: &hasher)
            }
        case .object(let members):
            hasher.combine(5 as UInt8)
            hasher.combine(members.count)
            // Order-independent: the sum of the members' own hashes.
            var sum = 0
            for member in members {
                var memberHasher = Hasher()
                member.key.combineUTF8(into: &memberHasher)
                member.value.combineSchemaEquality(into: &memberHasher)
                sum &+= memberHasher.finalize()
            }
            hasher.combine(sum)
        }
    }
}

extension String {
    /// Same code points, which for JSON strings and keys is the equality that matters.
    func isCodePointEqual(to other: String) -> Bool {
        // Most mismatches differ in length, which native strings know without a scan.
        guard utf8.count == other.utf8.count else { return false }
        var left = self
        var right = other
        return left.withUTF8 { leftBytes in
            right.withUTF8 { rightBytes in
                guard let leftBase = leftBytes.baseAddress, let rightBase = rightBytes.baseAddress else { return true }
                return memcmp(leftBase, rightBase, leftBytes.count) == 0
            }
        }
    }

    fileprivate func combineUTF8(into hasher: inout Hasher) {
        hasher.combine(utf8.count)
        for byte in utf8 {
            hasher.combine(byte)
        }
    }
}
