import Logging
import Synchronization

/// Log records kept for a test to look at.
public final class LogRecords: Sendable {
    public struct Record: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: Logger.Metadata
    }

    private let records = Mutex<[Record]>([])

    public init() {}

    public var all: [Record] { records.withLock { $0 } }

    public func messages(at level: Logger.Level) -> [String] { all.filter { $0.level == level }.map(\.message) }

    func append(_ record: Record) { records.withLock { $0.append(record) } }

    /// A logger writing here, keeping records at `level` and above that `keep` accepts.
    public func logger(label: String = "test", level: Logger.Level = .debug,
                       keep: @escaping @Sendable (LogEvent) -> Bool = { _ in true }) -> Logger {
        var logger = Logger(label: label) { [self] _ in CollectingLogHandler(records: self, keep: keep) }
        logger.logLevel = level
        return logger
    }
}

/// A swift-log handler that appends to `LogRecords`.
public struct CollectingLogHandler: LogHandler {
    let records: LogRecords
    let keep: @Sendable (LogEvent) -> Bool
    public var logLevel: Logger.Level = .trace
    public var metadata: Logger.Metadata = [:]

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard keep(event) else { return }
        records.append(.init(level: event.level, message: "\(event.message)", metadata: event.metadata ?? [:]))
    }
}
