import ArgumentParser
import Foundation
import Gateway
import Runtime

/// `gatewayd journal verify|stats|dump`: operator tools on a data directory — a running
/// gateway's (they only read) or a stopped one's.
struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Inspect a data directory's journal without changing it (safe on a running gateway's).",
        subcommands: [Verify.self, Stats.self, Dump.self]
    )

    struct Location: ParsableArguments {
        @Option(help: "The gateway's data directory (the journal is DATA_DIR/journal).")
        var dataDir = "./data"

        var journal: String { dataDir + "/journal" }

        func validate() throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: journal, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--data-dir: \(journal) is not a journal directory")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every record's checksum and sequence, every index file and every snapshot; exit 1 on damage, naming file and offset.")

        @OptionGroup var location: Location

        func run() throws {
            let report = try JournalInspector.verify(directory: location.journal)
            print("segments: \(report.segments), records: \(report.records), index files: \(report.indexFiles), snapshots: \(report.snapshots)")
            if let torn = report.tornTail {
                print("note: the active segment ends in an incomplete record (cut at the next start; never acknowledged): \(torn)")
            }
            for finding in report.damage { print("DAMAGE: \(finding)") }
            if !report.damage.isEmpty { throw ExitCode(1) }
            print("ok")
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Segments (sizes, sequences, time span), snapshot age, and what each subscription is owed.")

        @OptionGroup var location: Location

        func run() throws {
            let stats = try JournalInspector.stats(directory: location.journal)
            let now = wallClockMicroseconds()
            func time(_ microseconds: Int64?) -> String { microseconds.map { Timestamp.format(microseconds: $0) } ?? "-" }
            print("segments: \(stats.segments.count), \(stats.totalBytes) bytes, events ever stored: \(stats.eventsEver)")
            if let oldest = stats.segments.compactMap(\.oldest).min(), let newest = stats.segments.compactMap(\.newest).max() {
                print("retained events span \(time(oldest)) .. \(time(newest))")
            }
            for segment in stats.segments {
                print("  \(segment.name)  \(segment.bytes) bytes  sequences \(segment.firstSequence)-\(segment.lastSequence)  \(segment.events) events  \(time(segment.oldest)) .. \(time(segment.newest))")
            }
            if let covers = stats.snapshotCovers, let written = stats.snapshotWrittenAt {
                print("newest snapshot: covers sequence \(covers), written \(HumanUnits.format(.microseconds(max(1000, now - written)))) ago")
            } else {
                print("newest snapshot: none")
            }
            print("subscriptions: \(stats.pending.count)")
            for owed in stats.pending {
                print("  \(owed.subscription)  pending \(owed.pending)  dead letters \(owed.deadLetters)")
            }
        }
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print records as JSON lines (secrets and token digests left out).")

        @OptionGroup var location: Location

        @Option(help: "The first sequence to print.")
        var from: UInt64 = 1

        @Option(help: "Most records to print.")
        var limit = 100

        func run() throws {
            try JournalInspector.dump(directory: location.journal, from: from, limit: limit) { print($0) }
        }
    }
}
