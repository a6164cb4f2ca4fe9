import Foundation

/// What this machine lets tests do, probed once, for `.enabled(if:)`: a test that cannot run
/// here is reported as skipped, never counted as passed.
public enum Capabilities {
    /// Whether a tmpfs can be mounted (root with CAP_SYS_ADMIN): the real full-disk tests.
    public static let canMountTmpfs: Bool = {
        let directory = NSTemporaryDirectory() + "tmpfs-probe-" + UUID().uuidString
        guard (try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)) != nil else { return false }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard run("/bin/mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", directory) else { return false }
        _ = run("/bin/umount", directory)
        return true
    }()

    /// util-linux's `prlimit`, if installed: it sets the limits of a running child process
    /// (a file-size limit on gatewayd), where `setrlimit` would limit the whole test process.
    public static let prlimit: String? = ["/usr/bin/prlimit", "/bin/prlimit"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// curl, which the README's walkthrough uses.
    public static let curl: String? = ["/usr/bin/curl", "/bin/curl", "/usr/local/bin/curl"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Runs a program to completion; true when it exits 0.
    @discardableResult
    public static func run(_ arguments: String...) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
