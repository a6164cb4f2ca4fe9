import TestSupport
import JSON
import Foundation
import JSONSchema
import Testing

/// Runs the official JSON-Schema-Test-Suite files (draft 2020-12, the keywords we support)
/// kept in `shared/testdata/json-schema-test-suite`, beside the package root.
@Suite("JSON Schema Test Suite (draft 2020-12)")
struct JSONSchemaConformanceTests {
    /// `$JSON_SCHEMA_TEST_SUITE` if set, else `<package root>/../shared/testdata/json-schema-test-suite`:
    /// CI runs a fresh clone with a copy of `shared/` beside it, exactly as in development.
    static var suiteDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["JSON_SCHEMA_TEST_SUITE"], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        // #filePath is <package root>/Tests/GatewayTests/JSONSchemaConformanceTests.swift.
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent()
        return packageRoot
            .appendingPathComponent("../shared/testdata/json-schema-test-suite", isDirectory: true)
            .standardizedFileURL
    }

    static var suiteIsPresent: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: suiteDirectory.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    @Test(.enabled(if: JSONSchemaConformanceTests.suiteIsPresent, "the JSON-Schema-Test-Suite is not in ../shared/testdata"))
    func everySupportedCasePasses() throws {
        let directory = Self.suiteDirectory
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }
            .sorted()
        #expect(!files.isEmpty, "no .json files in \(directory.path)")

        var passed = 0
        var outOfScopeCases = 0
        var outOfScopeGroups: [String] = []
        var failures: [String] = []
        for file in files {
            let document = try JSONValue(foundationJSON: Data(contentsOf: directory.appendingPathComponent(file)))
            guard case .array(let groups) = document else {
                failures.append("\(file): not an array of test groups")
                continue
            }
            for group in groups {
                let name = "\(file) / \(Self.string(group["description"]))"
                guard let schemaValue = group["schema"], case .array(let cases)? = group["tests"] else {
                    failures.append("\(name): malformed test group")
                    continue
                }
                let schema: JSONSchema
                do {
                    schema = try JSONSchema(schemaValue)
                } catch where error.isRemoteReference {
                    // Nothing is ever fetched: groups that need another document are out of scope.
                    outOfScopeCases += cases.count
                    outOfScopeGroups.append("\(name) (\(error))")
                    continue
                } catch {
                    failures.append("\(name): schema refused: \(error)")
                    continue
                }
                for testCase in cases {
                    guard let instance = testCase["data"], case .bool(let expected)? = testCase["valid"] else {
                        failures.append("\(name): malformed test case")
                        continue
                    }
                    let violations = schema.validate(instance)
                    let valid = schema.isValid(instance)
                    if valid == expected && violations.isEmpty == expected {
                        passed += 1
                    } else {
                        failures.append("\(name) / \(Self.string(testCase["description"])): expected valid=\(expected), "
                            + "isValid=\(valid), violations=\(violations)")
                    }
                }
            }
        }

        // Groups that need a remote document are out of scope (nothing is ever fetched):
        // listed so the report says what was not run.
        print("JSON Schema Test Suite: \(files.count) files, \(passed) cases passed, \(outOfScopeCases) out of scope, "
            + "\(failures.count) failed")
        for group in outOfScopeGroups {
            print("  out of scope (remote $ref): \(group)")
        }
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
        #expect(passed > 0)
    }

    private static func string(_ value: JSONValue?) -> String {
        if case .string(let text)? = value { return text }
        return "?"
    }
}
