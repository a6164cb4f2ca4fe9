import Foundation
import JSON

/// Test-only bridge from Foundation's JSONSerialization to `JSONValue`, so the schema tests
/// do not depend on the gateway's own JSON parser (written and tested separately).
extension JSONValue {
    public struct FoundationConversionError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses JSON text with JSONSerialization. Object member order is not preserved.
    public init(foundationJSON data: Data) throws {
        try self.init(foundation: JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
    }

    public init(foundationJSON text: String) throws {
        try self.init(foundationJSON: Data(text.utf8))
    }

    public init(foundation value: Any) throws {
        switch value {
        case is NSNull:
            self = .null
        case let number as NSNumber:
            // JSONSerialization returns true/false as NSNumber too, and `as? Bool` also
            // matches 0 and 1; only the boolean singletons have the `char` encoding "c"
            // (integers come back as "i"/"q", fractions as "d") on Linux and Darwin alike.
            if String(cString: number.objCType) == "c" {
                self = .bool(number.boolValue)
            } else {
                self = .number(number.doubleValue)
            }
        case let string as String:
            self = .string(string)
        case let array as [Any]:
            self = .array(try array.map { try JSONValue(foundation: $0) })
        case let object as [String: Any]:
            // Sorted so that failures print the same way on every run.
            self = .object(try object.sorted { $0.key < $1.key }.map { (key: $0.key, value: try JSONValue(foundation: $0.value)) })
        default:
            throw FoundationConversionError(description: "unexpected \(type(of: value)) from JSONSerialization")
        }
    }
}
