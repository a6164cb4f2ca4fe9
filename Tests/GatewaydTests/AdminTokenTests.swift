import Foundation
@testable import gatewayd
import Testing

/// The daemon's own logic: where the admin token comes from, and the data directory check.
@Suite("gatewayd admin token and data directory")
struct AdminTokenTests {
    final class Scratch {
        let path = NSTemporaryDirectory() + "gatewayd-test-" + UUID().uuidString
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func aTokenIsGeneratedOnceStoredPrivatelyAndReused() throws {
        let scratch = Scratch()
        try DataDirectory.prepare(scratch.path + "/nested/data")
        let directory = scratch.path + "/nested/data"
        let first = try AdminToken.resolve(flag: nil, dataDirectory: directory)
        #expect(first.generated)
        #expect(first.value.hasPrefix("adm_") && first.value.count == 68)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/admin-token")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let again = try AdminToken.resolve(flag: nil, dataDirectory: directory)
        #expect(!again.generated)
        #expect(again.value == first.value)
        // The flag wins over the stored file.
        #expect(try AdminToken.resolve(flag: "adm_from_flag", dataDirectory: directory).value == "adm_from_flag")
    }

    @Test func aDataDirectoryThatCannotBeCreatedIsRefusedAtStart() {
        #expect(throws: (any Error).self) { try DataDirectory.prepare("/proc/gatewayd-cannot-be-here") }
    }

    @Test(.enabled(if: getuid() != 0, "root may write to any directory"))
    func anUnwritableDataDirectoryIsRefusedAtStart() throws {
        let scratch = Scratch()
        let locked = scratch.path + "/locked"
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
        chmod(locked, 0o500)
        defer { chmod(locked, 0o700) }
        #expect(throws: (any Error).self) { try DataDirectory.prepare(locked) }
    }
}

/// `--retention`, `--retention-bytes`, `--dead-letter-retention`: read, or refused with the
/// flag's name.
@Suite("gatewayd retention flags")
struct RetentionFlagTests {
    @Test func defaultsAndHumanForms() throws {
        let defaults = try Serve.parse([]).retentionPolicy()
        #expect(defaults.retention == .seconds(7 * 86400) && defaults.deadLetterRetention == .seconds(14 * 86400))
        #expect(defaults.retentionBytes == nil)
        let set = try Serve.parse(["--retention", "36h", "--retention-bytes", "10GiB", "--dead-letter-retention", "90s"]).retentionPolicy()
        #expect(set.retention == .seconds(36 * 3600) && set.retentionBytes == 10 << 30 && set.deadLetterRetention == .seconds(90))
    }

    @Test(arguments: [["--retention", "7"], ["--retention-bytes", "lots"], ["--dead-letter-retention", "-1d"]])
    func malformedValuesNameTheirFlag(_ arguments: [String]) {
        #expect {
            _ = try Serve.parse(arguments)
        } throws: { error in
            Serve.message(for: error).contains(arguments[0])
        }
    }
}
