import Foundation
import JSON
import Testing

// Differential test: thousands of seeded random documents and mutants of them, each judged by
// our parser (all four entry points) and by Python's json module narrowed to the same strict
// meaning (see PythonJSONOracle). Any disagreement on accept/reject, or on the value of an
// accepted document down to the bits of every number, is a bug on one side.

@Suite struct JSONParserDifferentialTests {
    static let seed: UInt64 = 0x4A53_4F4E_2024
    static let baseDocuments = 5_000
    static let mutantsPerDocument = 3

    @Test(.enabled(if: PythonJSONOracle.isAvailable, "python3 with its json module is not on PATH: differential test skipped"))
    func agreesWithPythonsJSONModule() throws {
        var fuzzer = JSONDocumentFuzzer(seed: Self.seed)
        var documents: [[UInt8]] = []
        for _ in 0..<Self.baseDocuments {
            let document = fuzzer.document()
            documents.append(document)
            for _ in 0..<Self.mutantsPerDocument { documents.append(fuzzer.mutate(document)) }
        }
        let verdicts = try PythonJSONOracle.verdicts(for: documents)

        var accepted = 0
        var mismatches: [String] = []
        for (document, verdict) in zip(documents, verdicts) {
            let problems = Self.disagreements(document, verdict)
            if verdict.canonical != nil && verdict.maxDepth <= 64 { accepted += 1 }
            if !problems.isEmpty {
                let shown = String(decoding: document, as: UTF8.self).debugDescription
                mismatches.append("\(shown) [python: \(verdict.canonical == nil ? "reject, \(verdict.reason)" : "accept")]: \(problems.joined(separator: "; "))")
            }
        }
        for mismatch in mismatches.prefix(20) { Issue.record(Comment(rawValue: mismatch)) }
        #expect(mismatches.count == 0, "\(mismatches.count) of \(documents.count) documents disagree")
        // Both outcomes must be well represented, or the test proves little.
        #expect(accepted > documents.count / 4)
        #expect(documents.count - accepted > documents.count / 4)
        print("JSON differential (seed \(Self.seed)): \(documents.count) documents compared with Python json, \(accepted) accepted, \(documents.count - accepted) rejected, \(mismatches.count) disagreements")
    }

    /// Everything our entry points say about `document` that contradicts `verdict`.
    static func disagreements(_ document: [UInt8], _ verdict: PythonJSONOracle.Verdict) -> [String] {
        let lenient = Result { () throws(JSONError) in try JSONParser.parse(document) }
        let strict = Result { () throws(JSONError) in try JSONParser.parse(document, rejectDuplicateKeys: true) }
        let validated = Result { () throws(JSONError) in try JSONParser.validate(document) }
        let scanned = Result { () throws(JSONError) in try JSONParser.scanObject(document) }
        var problems: [String] = []

        guard let expected = verdict.canonical, verdict.maxDepth <= 64 else {
            // Rejected: every entry point refuses. `validate` and `parse` share the scanner, so
            // they agree on where and why; with duplicates rejected, `parse` may stop earlier,
            // at a duplicate key.
            if case .success = lenient { problems.append("parse accepted") }
            if case .success = strict { problems.append("parse(rejectDuplicateKeys:) accepted") }
            if case .success = validated { problems.append("validate accepted") }
            if case .success = scanned { problems.append("scanObject accepted") }
            if case .failure(let error) = lenient {
                if case .failure(let other) = validated, other != error { problems.append("validate said \(other), parse \(error)") }
                if case .failure(let other) = strict, other != error,
                   !(other.message.hasPrefix("duplicate key") && other.offset < error.offset) {
                    problems.append("strict parse said \(other), parse \(error)")
                }
            }
            return problems
        }

        switch lenient {
        case .failure(let error): problems.append("parse rejected: \(error)")
        case .success(let value):
            let ours = PythonJSONOracle.canonical(value)
            if ours != expected { problems.append("values differ: ours \(ours), python \(expected)") }
        }
        if case .failure(let error) = validated { problems.append("validate rejected: \(error)") }
        switch strict {
        case .success where verdict.hasDuplicateKeys: problems.append("parse(rejectDuplicateKeys:) accepted duplicate keys")
        case .failure(let error) where !verdict.hasDuplicateKeys: problems.append("parse(rejectDuplicateKeys:) rejected: \(error)")
        case .failure(let error) where !error.message.hasPrefix("duplicate key"): problems.append("parse(rejectDuplicateKeys:) rejected: \(error)")
        default: break
        }

        let shouldScan = verdict.rootIsObject && !verdict.hasTopLevelDuplicateKeys
        switch scanned {
        case .success where !shouldScan: problems.append("scanObject accepted")
        case .failure(let error) where shouldScan: problems.append("scanObject rejected: \(error)")
        case .success(let members):
            // Each member's bytes alone parse to the member's value in the tree.
            guard case .success(.object(let tree)) = lenient else { break }
            if members.map(\.key) != tree.map(\.key) { problems.append("scanObject keys \(members.map(\.key)), tree \(tree.map(\.key))") }
            for (member, node) in zip(members, tree) {
                guard let alone = try? JSONParser.parse(Array(document[member.valueRange])) else {
                    problems.append("member \(member.key) range \(member.valueRange) does not parse alone")
                    continue
                }
                if PythonJSONOracle.canonical(alone) != PythonJSONOracle.canonical(node.value) {
                    problems.append("member \(member.key) range \(member.valueRange) holds another value")
                }
                if member.kind != kind(of: node.value) { problems.append("member \(member.key) kind \(member.kind)") }
            }
        default: break
        }
        return problems
    }

    static func kind(of value: JSONValue) -> JSONKind {
        switch value {
        case .null: .null
        case .bool: .bool
        case .number: .number
        case .string: .string
        case .array: .array
        case .object: .object
        }
    }
}
