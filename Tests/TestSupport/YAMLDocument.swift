import JSON
import Yams

/// YAML (the JSON-compatible part openapi.yaml uses) read into the project's JSON tree, so
/// the spec can be walked and its schemas compiled by our own JSON Schema validator.
///
/// Scalars resolve by the YAML 1.2 core schema, not YAML 1.1's: `yes`, `no`, `on` and `off`
/// stay strings and only `true`/`false` are booleans, which is what the JSON the spec
/// describes means. Quoted scalars are always strings. A key repeated in one mapping is an
/// error (YAML forbids it; PyYAML, which openapi-spec-validator reads with, keeps the last
/// one silently).
public enum YAMLDocument {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func parse(_ text: String) throws -> JSONValue {
        guard let root = try Yams.compose(yaml: text, coreSchema) else {
            throw Failure(description: "the YAML document is empty")
        }
        return try json(root, at: "")
    }

    /// YAML 1.2's core schema (yaml.org/spec/1.2.2, 10.3.2) for the tags JSON has.
    private static let coreSchema: Resolver = {
        do {
            return try Resolver.basic
                .appending(.null, "^(?:~|null|Null|NULL|)$")
                .appending(.bool, "^(?:true|True|TRUE|false|False|FALSE)$")
                .appending(.int, "^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
                .appending(.float, #"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"#)
        } catch {
            fatalError("the YAML core schema's patterns do not compile: \(error)")
        }
    }()

    private static func json(_ node: Node, at path: String) throws -> JSONValue {
        switch node {
        case .scalar(let scalar):
            // `Node.tag` resolves the tag by the resolver (`Scalar.tag` is the unresolved one).
            return try json(scalar.string, tag: node.tag, at: path)
        case .sequence(let sequence):
            return .array(try sequence.enumerated().map { try json($0.element, at: "\(path)/\($0.offset)") })
        case .mapping(let mapping):
            var members: [(key: String, value: JSONValue)] = []
            var seen = Set<String>()
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let key) = keyNode else {
                    throw Failure(description: "a key at \(path.isEmpty ? "the root" : path) is not a scalar")
                }
                guard seen.insert(key.string).inserted else {
                    throw Failure(description: "the key '\(key.string)' appears twice at \(path.isEmpty ? "the root" : path)")
                }
                members.append((key.string, try json(valueNode, at: "\(path)/\(key.string)")))
            }
            return .object(members)
        case .alias:
            throw Failure(description: "an alias at \(path): the spec must read the same as JSON, without anchors")
        }
    }

    private static func json(_ text: String, tag: Tag, at path: String) throws -> JSONValue {
        switch Tag.Name(rawValue: tag.rawValue) {
        case .null:
            return .null
        case .bool:
            return .bool(text.lowercased() == "true")
        case .int:
            let value: Int?
            if text.hasPrefix("0x") {
                value = Int(text.dropFirst(2), radix: 16)
            } else if text.hasPrefix("0o") {
                value = Int(text.dropFirst(2), radix: 8)
            } else {
                value = Int(text)
            }
            guard let value else { throw Failure(description: "'\(text)' at \(path) is not an integer JSON can hold") }
            return .number(Double(value))
        case .float:
            guard let value = Double(text), value.isFinite else {
                throw Failure(description: "'\(text)' at \(path) is not a finite number, which JSON cannot hold")
            }
            return .number(value)
        default:
            return .string(text)
        }
    }
}
