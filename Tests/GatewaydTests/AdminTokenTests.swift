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
        let first = try AdminToken.resolve(configured: nil, dataDirectory: directory)
        #expect(first.generated)
        #expect(first.value.hasPrefix("adm_") && first.value.count == 68)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/admin-token")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let again = try AdminToken.resolve(configured: nil, dataDirectory: directory)
        #expect(!again.generated)
        #expect(again.value == first.value)
        // The setting (flag, variable or file) wins over the stored file.
        #expect(try AdminToken.resolve(configured: "adm_from_flag", dataDirectory: directory).value == "adm_from_flag")
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
