import Foundation
import Synchronization
import TestSupport
import Testing

/// Runs README.md's walkthrough, block by block, against the real `gatewayd serve` and
/// `gatewayd listen` as child processes, and checks what each step should show — so the
/// README cannot silently rot. The blocks are taken from the README itself (between the
/// `walkthrough` markers, each after its `step` marker; the Tenants section continues the
/// walkthrough in a second pair of markers, in the same shell); only the ports are changed,
/// to free ones, and `PATH` points at this build's binary.
@Suite("README walkthrough", .serialized)
struct READMEWalkthroughTests {
    static let steps = [
        "path", "gateway", "listener", "subscribe", "publish", "failing-listener", "publish-failing",
        "dead-letter", "healthy-listener", "redeliver", "metrics",
        "tenant-create", "tenant-subscribe", "tenant-publish", "tenant-refusals", "tenant-quotas", "tenant-revoke",
        "tenant-delete",
    ]

    /// The walkthrough's blocks by step name, in README order, from every pair of markers.
    static func blocks() throws -> [(step: String, code: String)] {
        let root = OpenAPIContract.packageRoot
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        var blocks: [(String, String)] = []
        var rest = readme[...]
        while let begin = rest.range(of: "<!-- walkthrough:begin -->"),
              let end = rest.range(of: "<!-- walkthrough:end -->", range: begin.upperBound..<rest.endIndex) {
            for part in rest[begin.upperBound..<end.lowerBound].components(separatedBy: "<!-- step: ").dropFirst() {
                guard let close = part.range(of: " -->"),
                      let open = part.range(of: "```sh\n"),
                      let fence = part.range(of: "\n```", range: open.upperBound..<part.endIndex) else { continue }
                blocks.append((String(part[..<close.lowerBound]), String(part[open.upperBound..<fence.lowerBound])))
            }
            rest = rest[end.upperBound...]
        }
        return blocks
    }

    /// A port nobody listens on now.
    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length); return getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A long-running block (the gateway, a listener), its output collected as it comes.
    final class Background {
        /// Output gathered by the pipe's handler thread.
        final class Collected: Sendable {
            private let text = Mutex("")
            func append(_ more: String) { text.withLock { $0 += more } }
            var value: String { text.withLock { $0 } }
        }

        let process = Process()
        private let collected = Collected()

        init(_ code: String, directory: String, environment: [String: String]) throws {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            // `exec`, so stopping the process stops the program, as Ctrl-C would.
            process.arguments = ["-c", "exec " + code.trimmingCharacters(in: .whitespacesAndNewlines)]
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            output.fileHandleForReading.readabilityHandler = { [collected] handle in
                let data = handle.availableData
                // At end of file the handler would be called again and again with nothing,
                // spinning a core for the rest of the run: stop it.
                guard !data.isEmpty else {
                    handle.readabilityHandler = nil
                    return
                }
                collected.append(String(decoding: data, as: UTF8.self))
            }
            try process.run()
        }

        var output: String { collected.value }

        func waitFor(_ text: String, count: Int = 1, timeout: Double = 20) -> Bool {
            CrashTests.waitUntil(timeout: timeout) { output.components(separatedBy: text).count > count }
        }

        func stop() {
            ChildExit.stop(process, signal: SIGINT)
        }
    }

    /// One bash for the foreground blocks, so variables (`TOKEN`, `SUB`) carry over as they do
    /// in a terminal.
    final class Shell {
        let process = Process()
        private let input = Pipe()
        private let output = Pipe()

        init(directory: String, environment: [String: String]) throws {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.environment = environment
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            try process.run()
        }

        /// Runs `code`; its output and exit status.
        func run(_ code: String) throws -> (output: String, status: Int32) {
            let marker = "__step_done_\(UUID().uuidString)__"
            input.fileHandleForWriting.write(Data((code + "\necho; echo \(marker)$?\n").utf8))
            var text = ""
            while !text.contains(marker) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            guard let range = text.range(of: marker) else { return (text, -1) }
            let status = Int32(text[range.upperBound...].prefix { $0.isNumber }) ?? -1
            return (String(text[..<range.lowerBound]), status)
        }

        func stop() {
            try? input.fileHandleForWriting.close()
            ChildExit.wait(for: process)
        }
    }

    @Test(.enabled(if: CrashTests.gatewayd != nil, "no gatewayd binary in .build (run `swift build` first)"),
          .enabled(if: Capabilities.curl != nil, "no curl here (apt-get install curl)"),
          .timeLimit(.minutes(2)))
    func theWalkthroughWorksAsWritten() throws {
        let blocks = try Self.blocks()
        #expect(blocks.map(\.step) == Self.steps, "the README's walkthrough steps changed: update this test with it")
        let gatewayPort = try Self.freePort(), listenerPort = try Self.freePort()
        let directory = NSTemporaryDirectory() + "gatewayd-walkthrough-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GATEWAY_") }
        let binaries = URL(fileURLWithPath: CrashTests.gatewayd!).deletingLastPathComponent().path
        environment["PATH"] = binaries + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["GATEWAY_LISTEN"] = "127.0.0.1:\(gatewayPort)"
        func localized(_ code: String) -> String {
            code.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(gatewayPort)")
                .replacingOccurrences(of: "127.0.0.1:9000", with: "127.0.0.1:\(listenerPort)")
                .replacingOccurrences(of: "--port 9000", with: "--port \(listenerPort)")
        }

        let shell = try Shell(directory: directory, environment: environment)
        var gateway: Background?
        var listener: Background?
        defer {
            listener?.stop()
            gateway?.stop()
            shell.stop()
        }
        for (step, rawCode) in blocks {
            let code = localized(rawCode)
            switch step {
            case "path":
                continue  // PATH is set above, to this build's binary.
            case "gateway":
                gateway = try Background(code, directory: directory, environment: environment)
                #expect(gateway!.waitFor("listening on http://"), "\(gateway!.output)")
            case "listener", "failing-listener", "healthy-listener":
                listener?.stop()
                listener = try Background(code, directory: directory, environment: environment)
                #expect(listener!.waitFor("\(listenerPort)"), "\(listener!.output)")
            default:
                let (output, status) = try shell.run(code)
                #expect(status == 0, "step \(step) failed: \(output)")
                check(step, output: output, listener: listener)
            }
        }
    }

    /// What each shell step must show.
    private func check(_ step: String, output: String, listener: Background?) {
        switch step {
        case "subscribe":
            #expect(output.hasPrefix("sub_"), "\(output)")
        case "publish":
            #expect(output.contains(#""sequence":"#), "\(output)")
            #expect(listener?.waitFor("valid (v1, key 1)") == true, "\(listener?.output ?? "")")
            #expect(listener?.output.contains(#""order": "o-1""#) == true, "\(listener?.output ?? "")")
        case "publish-failing":
            #expect(output.contains(#""sequence":"#), "\(output)")
            #expect(listener?.waitFor("→ 500") == true, "\(listener?.output ?? "")")
        case "dead-letter":
            #expect(listener?.output.contains("(delivery 2 of this id") == true, "\(listener?.output ?? "")")
            #expect(listener?.output.components(separatedBy: "→ 500").count == 3, "\(listener?.output ?? "")")
            #expect(output.contains(#""deadLetters":[{"#) || output.contains("evt_"), "\(output)")
            #expect(output.contains(#""deadLettered":1"#), "stats: \(output)")
        case "redeliver":
            #expect(output.contains(#""redelivered":1"#), "\(output)")
            #expect(listener?.waitFor("valid (v1, key 1)") == true, "\(listener?.output ?? "")")
            #expect(listener?.output.contains(#""order": "o-2""#) == true, "\(listener?.output ?? "")")
        case "metrics":
            #expect(output.contains("gateway_events_ingested_total{"), "\(output)")
            #expect(output.contains(#"outcome="dead_lettered""#), "\(output)")
        case "tenant-create":
            #expect(output.contains(#""id":"acme""#) && output.contains(#""maxSubscriptions":5"#), "\(output)")
            #expect(output.contains("tnt_"), "the tenant's token: \(output)")
            #expect(output.contains(#""tenantVisible":true"#), "\(output)")
        case "tenant-subscribe":
            // Its own subscription, and not the admin's (`/hook`).
            #expect(output.contains(#""tenantId":"acme""#) && output.contains("/acme"), "\(output)")
            #expect(!output.contains("/hook"), "\(output)")
        case "tenant-publish":
            #expect(output.components(separatedBy: #""sequence":"#).count == 3, "\(output)")
            #expect(listener?.waitFor("POST /acme", count: 2) == true, "\(listener?.output ?? "")")
            #expect(listener?.output.contains(#""invoice": "in-1""#) == true, "\(listener?.output ?? "")")
            #expect(listener?.output.contains(#""invoice": "in-2""#) == true, "\(listener?.output ?? "")")
        case "tenant-refusals":
            for status in [404, 403, 422] {
                #expect(output.contains(#""status":\#(status)"#), "\(status): \(output)")
            }
        case "tenant-quotas":
            #expect(output.contains(#""quotasInEffect":{"maxSubscriptions":5,"deliveryRateLimit":20}"#), "\(output)")
            #expect(output.contains(#""subscriptionCount":1"#), "\(output)")
        case "tenant-revoke":
            #expect(output.contains(#""status":401"#) && output.contains("The token is not valid."), "\(output)")
        case "tenant-delete":
            #expect(output.contains("204\n"), "\(output)")
            #expect(output.contains(#""status":404"#), "\(output)")
        default:
            Issue.record("no check for step \(step)")
        }
    }
}
