/// Which event types a subscription wants, matched segment by segment on the dots:
/// `order.created` matches exactly that type; `*` in a middle segment matches exactly one
/// segment (`order.*.shipped`); `*` as the last segment matches one or more remaining
/// segments (`order.*` matches `order.created` and `order.line.added`, not `order`); a lone
/// `*` matches every type.
public struct EventTypePattern: Sendable, Equatable, CustomStringConvertible {
    enum Segment: Equatable {
        case literal(Substring)
        case wildcard
    }

    public let text: String
    let segments: [Segment]

    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= EventTypeName.maxLength else { return nil }
        var segments: [Segment] = []
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            if part == "*" {
                segments.append(.wildcard)
            } else if EventTypeName.isValid(String(part)) {
                segments.append(.literal(part))
            } else {
                return nil
            }
        }
        self.text = text
        self.segments = segments
    }

    public var description: String { text }

    public func matches(_ type: String) -> Bool {
        var index = 0
        var parts = type.split(separator: ".", omittingEmptySubsequences: false)[...]
        while let part = parts.first {
            guard index < segments.count else { return false }
            switch segments[index] {
            case .literal(let literal):
                guard literal == part else { return false }
            case .wildcard:
                // A trailing wildcard takes everything that is left.
                if index == segments.count - 1 { return true }
            }
            parts = parts.dropFirst()
            index += 1
        }
        return index == segments.count
    }
}
