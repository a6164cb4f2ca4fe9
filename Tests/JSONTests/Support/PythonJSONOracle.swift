import Foundation
import JSON
import TestSupport

/// Python's `json` module as a reference parser, run once as a child process over a batch of
/// documents. Python is lenient where we are strict, so the script narrows it to mean what
/// our parser means:
/// - input is decoded as strict UTF-8 first (`json.loads` on bytes would also guess UTF-16/32);
/// - `parse_constant` refuses NaN, Infinity and -Infinity;
/// - integers go through `float` like everything else, and a value that became ±infinity
///   (`1e400`) is a rejection, as in our range policy;
/// - a string or key holding a lone surrogate (Python keeps an unpaired `\uD800`) is a
///   rejection;
/// - duplicate keys are reported rather than silently merged, and the value is given with
///   the last duplicate winning at the first one's position, as `JSONParser.parse` does.
/// Every value is checked, including ones a later duplicate key overwrote, since our scanner
/// validates every byte.
enum PythonJSONOracle {
    struct Verdict: Sendable {
        /// Nil when Python (so narrowed) rejects the document.
        var canonical: String?
        var reason = ""
        var maxDepth = 0
        var rootIsObject = false
        var hasDuplicateKeys = false
        var hasTopLevelDuplicateKeys = false
    }

    /// True when `python3` is on PATH and can import `json`.
    static let isAvailable = Python.canImport("json, base64, struct")

    enum OracleError: Error, CustomStringConvertible {
        case wrongLineCount(expected: Int, got: Int)
        case malformed(String)

        var description: String {
            switch self {
            case let .wrongLineCount(expected, got): "python3 answered \(got) lines for \(expected) documents"
            case let .malformed(line): "unreadable verdict: \(line)"
            }
        }
    }

    /// One verdict per document, in order. Input and output go through temporary files, so
    /// neither side can block on a full pipe.
    static func verdicts(for documents: [[UInt8]]) throws -> [Verdict] {
        let lines = documents.map { Data($0).base64EncodedString() }.joined(separator: "\n") + "\n"
        let printed = try Python.run(script, input: Array(lines.utf8))
        let answer = printed.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard answer.count == documents.count else { throw OracleError.wrongLineCount(expected: documents.count, got: answer.count) }
        return try answer.map { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false)
            if fields.first == "ERR" { return Verdict(canonical: nil, reason: String(line.dropFirst(4))) }
            guard fields.count == 6, fields[0] == "OK", let depth = Int(fields[1]) else { throw OracleError.malformed(String(line)) }
            return Verdict(
                canonical: String(fields[5]), maxDepth: depth, rootIsObject: fields[2] == "1",
                hasDuplicateKeys: fields[3] == "1", hasTopLevelDuplicateKeys: fields[4] == "1"
            )
        }
    }

    /// The form both sides print a value in: exact bits for numbers, UTF-8 hex for strings.
    static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .null: return "n"
        case .bool(let flag): return flag ? "t" : "f"
        case .number(let number):
            let hex = String(number.bitPattern, radix: 16)
            return "d" + String(repeating: "0", count: 16 - hex.count) + hex
        case .string(let string): return canonical(string)
        case .array(let elements): return "[" + elements.map(canonical).joined(separator: ",") + "]"
        case .object(let members):
            return "{" + members.map { canonical($0.key) + ":" + canonical($0.value) }.joined(separator: ",") + "}"
        }
    }

    private static func canonical(_ string: String) -> String {
        "s" + string.utf8.map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16) }.joined() + "."
    }

    private static let script = #"""
import base64, json, math, struct, sys

class Obj:
    __slots__ = ("pairs",)
    def __init__(self, pairs):
        self.pairs = pairs

class Reject(Exception):
    pass

def reject_constant(name):
    raise Reject("constant " + name)

def canon_str(s):
    for ch in s:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise Reject("lone surrogate")
    return "s" + s.encode("utf-8").hex() + "."

def canon(v, depth, flags, top):
    if v is None:
        return "n"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, float):
        if math.isinf(v) or math.isnan(v):
            raise Reject("out of range")
        return "d" + struct.pack(">d", v).hex()
    if isinstance(v, str):
        return canon_str(v)
    flags["depth"] = max(flags["depth"], depth + 1)
    if isinstance(v, list):
        return "[" + ",".join(canon(x, depth + 1, flags, False) for x in v) + "]"
    order, values = [], {}
    for k, x in v.pairs:
        ck = canon_str(k)
        cx = canon(x, depth + 1, flags, False)
        if k in values:
            flags["dup"] = 1
            if top:
                flags["topdup"] = 1
        else:
            order.append(k)
        values[k] = (ck, cx)
    return "{" + ",".join(values[k][0] + ":" + values[k][1] for k in order) + "}"

out = []
for line in sys.stdin:
    try:
        text = base64.b64decode(line.strip()).decode("utf-8")
        v = json.loads(text, parse_constant=reject_constant, parse_int=float, object_pairs_hook=Obj)
        flags = {"depth": 0, "dup": 0, "topdup": 0}
        c = canon(v, 0, flags, True)
        out.append("OK %d %d %d %d %s" % (flags["depth"], 1 if isinstance(v, Obj) else 0, flags["dup"], flags["topdup"], c))
    except Exception as e:
        message = str(e).encode("ascii", "backslashreplace").decode("ascii")
        out.append("ERR " + type(e).__name__ + ": " + message.replace("\n", " ").replace("\r", " "))
sys.stdout.write("\n".join(out) + ("\n" if out else ""))
"""#
}
