import Runtime
import Testing

/// Durations and sizes as flags take them (`--retention 7d`, `--retention-bytes 10GiB`).
@Suite("Human units")
struct HumanUnitsTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("90s", .seconds(90)), ("10m", .seconds(600)), ("36h", .seconds(36 * 3600)),
        ("7d", .seconds(7 * 86400)), ("2w", .seconds(14 * 86400)), ("1.5h", .seconds(5400)),
    ])
    func durations(_ text: String, _ expected: Duration) {
        #expect(HumanUnits.duration(text) == expected)
    }

    @Test(arguments: ["", "7", "d", "-1d", "0s", "7days", "1e400s", "7 d", "nans"])
    func notDurations(_ text: String) {
        #expect(HumanUnits.duration(text) == nil)
    }

    @Test(arguments: [("4096", 4096), ("64MiB", 64 << 20), ("1GiB", 1 << 30), ("500MB", 500_000_000), ("2KiB", 2048), ("10B", 10)])
    func sizes(_ text: String, _ expected: Int) {
        #expect(HumanUnits.size(text) == expected)
    }

    @Test(arguments: ["", "MiB", "-1MiB", "0", "12XB", "1 GiB", "1e30TB"])
    func notSizes(_ text: String) {
        #expect(HumanUnits.size(text) == nil)
    }

    @Test func formatReadsBack() {
        for duration in [Duration.seconds(90), .seconds(7 * 86400), .milliseconds(1500), .seconds(3600)] {
            #expect(HumanUnits.duration(HumanUnits.format(duration)) == duration)
        }
    }
}
