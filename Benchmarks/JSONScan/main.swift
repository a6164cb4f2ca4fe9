// The JSON ingest micro-benchmark that Benchmarks/json_scan.sh builds (release, whole-module,
// with the JSON target's sources compiled in, as a release build compiles them) and runs. Times
// JSONParser.scanObject, validate and parse on the ~300-byte event of BENCHMARKS.md, with
// Foundation's JSONSerialization in the same run for scale.
import Foundation

let body = Array(
    #"{"type":"order.created","source":"bench","ts":"2024-01-01T00:00:00Z","data":{"order_id":"ord_0123456789","amount":1234,"note":""#.utf8
) + Array(repeating: UInt8(ascii: "a"), count: 180) + Array(#""}}"#.utf8)

let rounds = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 7
/// Optional second argument: run only the measurements whose name contains it (for perf).
let only = CommandLine.arguments.dropFirst(2).first
let iterations = 200_000
var sink = 0

/// Median over `rounds` runs of `iterations` calls, in nanoseconds per call.
func measure(_ name: String, iterations: Int = iterations, _ body: () -> Int) {
    if let only, !name.contains(only) { return }
    var samples: [Double] = []
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        for _ in 0..<iterations { sink &+= body() }
        let elapsed = ContinuousClock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        samples.append(nanoseconds / Double(iterations))
    }
    samples.sort()
    let median = samples[samples.count / 2]
    print("\(name): median \(String(format: "%.0f", median)) ns/doc (min \(String(format: "%.0f", samples[0])), max \(String(format: "%.0f", samples[samples.count - 1])))")
}

print("document: \(body.count) bytes, \(rounds) rounds × \(iterations) iterations")
body.withUnsafeBufferPointer { buffer in
    measure("JSONParser.scanObject") {
        guard let members = try? JSONParser.scanObject(buffer) else { return -1 }
        return members.count &+ members[members.count - 1].valueRange.upperBound
    }
    measure("JSONParser.validate  ") {
        (try? JSONParser.validate(buffer)) == nil ? -1 : 1
    }
    measure("JSONParser.parse     ") {
        guard case .object(let members)? = try? JSONParser.parse(buffer) else { return -1 }
        return members.count
    }
}
let data = Data(body)
measure("JSONSerialization    ", iterations: iterations / 10) {
    (try? JSONSerialization.jsonObject(with: data)) == nil ? -1 : 1
}
print("(checksum \(sink))")
