/// Durations and sizes as people write them in flags and files: `90s`, `10m`, `36h`, `7d`,
/// `250ms`; `64MiB`, `1GiB`, `500MB`, `4096` (bytes). One parser, so every setting reads the
/// same forms.
public enum HumanUnits {
    private static let durationUnits: [(suffix: String, microseconds: Double)] = [
        ("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000), ("d", 86_400_000_000), ("w", 604_800_000_000),
    ]
    private static let sizeUnits: [(suffix: String, bytes: Double)] = [
        ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
        ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
    ]

    /// A positive duration with a unit (`90s`, `1.5h`); nil for anything else.
    public static func duration(_ text: String) -> Duration? {
        // Longest suffix first, so `ms` is not read as `s` after an `m`.
        for unit in durationUnits.sorted(by: { $0.suffix.count > $1.suffix.count }) where text.hasSuffix(unit.suffix) {
            guard let number = Double(text.dropLast(unit.suffix.count)), number > 0, number.isFinite else { return nil }
            return .microseconds(Int64(number * unit.microseconds))
        }
        return nil
    }

    /// A positive size in bytes, with an optional unit (`64MiB`, `500MB`, `4096`); nil for
    /// anything else.
    public static func size(_ text: String) -> Int? {
        if let bytes = Int(text), bytes > 0 { return bytes }
        for unit in sizeUnits where text.hasSuffix(unit.suffix) {
            guard let number = Double(text.dropLast(unit.suffix.count)), number > 0, number * unit.bytes < 9.2e18 else { return nil }
            return Int(number * unit.bytes)
        }
        return nil
    }

    /// A duration the way `duration` reads it back, in its largest whole unit.
    public static func format(_ duration: Duration) -> String {
        let microseconds = Double(duration.microseconds)
        for unit in durationUnits.reversed() where microseconds >= unit.microseconds
            && (microseconds / unit.microseconds).rounded() == microseconds / unit.microseconds {
            return "\(Int64(microseconds / unit.microseconds))\(unit.suffix)"
        }
        return "\(Int64(microseconds / 1000))ms"
    }
}
