/// The samples of a Prometheus text exposition, read just well enough to check values in
/// tests: `name{label="value",...} number` lines (label values without escapes), `# TYPE`
/// and `# HELP` lines noted by family. The live test checks the text with a real parser.
struct Exposition {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    private(set) var samples: [Sample] = []
    private(set) var types: [String: String] = [:]
    private(set) var helps: [String: String] = [:]

    init(_ bytes: [UInt8]) {
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                types[String(parts[0])] = String(parts[1])
            } else if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                let name = rest.prefix { $0 != " " }
                helps[String(name)] = String(rest.dropFirst(name.count + 1))
            } else if let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) {
                let series = line[..<space]
                let name = series.prefix { $0 != "{" && $0 != " " }
                var labels: [String: String] = [:]
                if let open = series.firstIndex(of: "{"), let close = series.lastIndex(of: "}") {
                    for pair in series[series.index(after: open)..<close].split(separator: ",") {
                        let parts = pair.split(separator: "=", maxSplits: 1)
                        labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                    }
                }
                samples.append(Sample(name: String(name), labels: labels, value: value))
            }
        }
    }

    /// The value of the one sample named `name` with exactly these labels.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every sample named `name`.
    func all(_ name: String) -> [Sample] {
        samples.filter { $0.name == name }
    }
}
