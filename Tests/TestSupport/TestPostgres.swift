import Foundation
import Synchronization

/// A throwaway PostgreSQL of a test's own: `scripts/pg-throwaway.sh` started in a fresh
/// temporary folder, on a free loopback port, with a database `gateway` the superuser
/// `gateway` may use without a password. Stopped and removed by `stop()` or, failing that,
/// when the last reference goes.
///
/// Every method blocks while a child process runs (starting takes about a second): from an
/// async test, call them through `offThePool`.
public final class TestPostgres: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Whether a throwaway PostgreSQL can start here (initdb and pg_ctl installed; not root,
    /// or root with a `postgres` user to run them as), for `.enabled(if:)`: where it cannot,
    /// the tests that need one show as skipped. The script decides, so both agree.
    public static let isAvailable: Bool = {
        (try? runScript(["available"])) != nil
    }()

    /// Whether this is `make test`'s PostgreSQL phase (`GATEWAY_TEST_BACKEND=postgres`), where
    /// the cluster's own suites run: started servers, nodes and gatewayd processes in the main
    /// run's parallel crowd starved timing-sensitive tests on 2 cores.
    public static let isClusterPhase: Bool = ProcessInfo.processInfo.environment["GATEWAY_TEST_BACKEND"] == "postgres"

    /// For `.enabled(if:)` of a cluster suite: PostgreSQL here, and the PostgreSQL phase.
    public static let runsClusterSuites = isAvailable && isClusterPhase

    /// `postgresql://gateway@127.0.0.1:PORT/gateway`
    public let url: String
    public let port: Int
    /// The folder holding the cluster (DIR/data), its unix socket and its log (DIR/log).
    public let directory: String
    private let stopped = Mutex(false)

    private init(url: String, directory: String) throws {
        guard let components = URLComponents(string: url), let port = components.port else {
            throw Failure(description: "pg-throwaway.sh printed no URL with a port: \(url)")
        }
        self.url = url
        self.port = port
        self.directory = directory
    }

    /// Starts one with fsync off (a test needs no protection from power loss; a PostgreSQL
    /// crash still loses nothing committed).
    public static func start() throws -> TestPostgres {
        // Short: the unix socket's path inside it must fit in 108 bytes.
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pg-" + UUID().uuidString.prefix(8).lowercased()).path
        do {
            let url = try runScript(["start", directory]).trimmingCharacters(in: .whitespacesAndNewlines)
            return try TestPostgres(url: url, directory: directory)
        } catch {
            // A half-started server would outlive the test: stop it before giving up.
            _ = try? runScript(["stop", directory])
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Stops the server but keeps its data (`resume` starts it again on the same port): the
    /// database gone away.
    public func pause() throws {
        try Self.runScript(["stop", directory])
    }

    public func resume() throws {
        _ = try Self.runScript(["start", directory, String(port)])
    }

    /// `pg_ctl restart -m immediate`: PostgreSQL dies without a checkpoint and recovers from
    /// its WAL, as after a crash; returns once it accepts connections again.
    public func restartImmediately() throws {
        try Self.runScript(["restart-immediate", directory])
    }

    /// Stops the server (fast: open connections are cut) and removes its folder. Later calls
    /// do nothing.
    public func stop() throws {
        let wasStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !wasStopped else { return }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.runScript(["stop", directory])
    }

    deinit {
        try? stop()
    }

    /// Runs `sql` with `psql -At` (unaligned, tuples only: one row a line, columns joined by
    /// `|`) and returns what it printed, without the last newline. An SQL error throws.
    @discardableResult
    public func psql(_ sql: String) throws -> String {
        var output = try Self.runScript(["psql", directory, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        if output.hasSuffix("\n") { output.removeLast() }
        return output
    }

    /// <package root>/scripts/pg-throwaway.sh, from this file's place in the package
    /// (Tests/TestSupport/TestPostgres.swift).
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/pg-throwaway.sh").path

    /// Runs the script with `arguments`; returns its standard output. A non-zero exit (or no
    /// exit within two minutes) throws, with what it wrote to standard error.
    ///
    /// Output goes through files, not pipes: `start` leaves the postmaster running, and a
    /// child that inherited a pipe's write end would keep a reader waiting for EOF forever.
    @discardableResult
    static func runScript(_ arguments: [String]) throws -> String {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pg-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputFile = scratch.appendingPathComponent("out")
        let errorFile = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let status = ChildExit.wait(for: process, timeout: 120)
        let output = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        guard status == 0 else {
            if status == nil { kill(process.processIdentifier, SIGKILL) }
            let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
            let outcome = status.map { "exited with \($0)" } ?? "did not finish within 120 s"
            throw Failure(description: "pg-throwaway.sh \(arguments.joined(separator: " ")) \(outcome): \(errors)")
        }
        return output
    }
}

extension TestPostgres {
    /// One server for the whole test process, started on first use and stopped when the
    /// process exits; tests that share it each take a database of their own.
    public static func shared() throws -> TestPostgres {
        try sharedServer.withLock { server in
            if let server { return server }
            let started = try TestPostgres.start()
            server = started
            atexit { TestPostgres.stopShared() }
            return started
        }
    }

    private static let sharedServer = Mutex<TestPostgres?>(nil)

    private static func stopShared() {
        let server = sharedServer.withLock { server -> TestPostgres? in
            defer { server = nil }
            return server
        }
        try? server?.stop()
    }

    /// A new empty database on this server; its URL.
    public func freshDatabase() throws -> String {
        let name = "test_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        _ = try psql("CREATE DATABASE \(name)")
        // postgresql://gateway@127.0.0.1:PORT/gateway: the last path component is the database.
        return String(url[..<url.lastIndex(of: "/")!]) + "/" + name
    }
}
