import Foundation
import TestSupport
import Testing

/// The throwaway PostgreSQL the cluster tests stand on (scripts/pg-throwaway.sh through
/// TestSupport's TestPostgres): it starts, answers, survives an immediate restart with what
/// was committed, and is gone once stopped.
@Suite("TestPostgres")
struct TestPostgresTests {
    @Test(.enabled(if: TestPostgres.isAvailable, "PostgreSQL's server (initdb, pg_ctl) is not installed, or cannot run here"),
          .enabled(if: TestPostgres.isClusterPhase, "runs in make test's PostgreSQL phase (GATEWAY_TEST_BACKEND=postgres)"))
    func startsAnswersSurvivesAnImmediateRestartAndStops() async throws {
        let postgres = try await offThePool { try TestPostgres.start() }
        #expect(postgres.url == "postgresql://gateway@127.0.0.1:\(postgres.port)/gateway")
        let identity = try await offThePool { try postgres.psql("select current_user, current_database()") }
        #expect(identity == "gateway|gateway")

        #expect(try await offThePool { try postgres.psql("select 1") } == "1")
        _ = try await offThePool {
            try postgres.psql("create table committed (n int); insert into committed values (1), (2), (3)")
        }

        try await offThePool { try postgres.restartImmediately() }
        #expect(try await offThePool { try postgres.psql("select 2") } == "2")
        // fsync is off in a test's PostgreSQL: what was committed must still survive a
        // PostgreSQL crash (only a power loss may take it), or restart tests would lie.
        #expect(try await offThePool { try postgres.psql("select sum(n) from committed") } == "6")

        let port = try #require(UInt16(exactly: postgres.port))
        _ = try RawClient(port: port)
        try await offThePool { try postgres.stop() }
        // Nothing listens on its port any more, and its folder is gone.
        #expect(throws: RawClient.Failure.self) { try RawClient(port: port) }
        #expect(!FileManager.default.fileExists(atPath: postgres.directory))
    }
}
