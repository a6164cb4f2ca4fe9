import JSON
/// One way an instance fails its schema. `JSONSchema.validate` returns all of them, so a
/// producer can fix a rejected event in one round trip (the 422 lists every violation).
public struct SchemaViolation: Sendable, Equatable, CustomStringConvertible {
    /// JSON Pointer (RFC 6901) to the offending value in the instance; "" is the instance
    /// itself. For a missing required property it is the object that lacks it.
    public let instancePath: String
    /// The schema keyword that failed, e.g. `minimum`, `required`, `additionalProperties`.
    public let keyword: String
    /// A sentence for humans, e.g. `must be >= 0, got -5`.
    public let message: String

    public init(instancePath: String, keyword: String, message: String) {
        self.instancePath = instancePath
        self.keyword = keyword
        self.message = message
    }

    public var description: String {
        "\(instancePath.isEmpty ? "(root)" : instancePath): \(message) [\(keyword)]"
    }
}
