/// The results of a run of spec files, as text for people and JUnit XML for CI systems.
public struct PluginSpecReport: Sendable {
    public var results: [PluginSpecResult]

    public init(results: [PluginSpecResult]) {
        self.results = results
    }

    public var failed: Int { results.filter { !$0.passed }.count }

    /// JUnit XML: a `testsuite` per spec file, a `testcase` per test.
    public var junit: String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"moonwire plugins test\" tests=\"\(results.count)\" failures=\"\(failed)\">\n"
        var order: [String] = []
        var bySpec: [String: [PluginSpecResult]] = [:]
        for result in results {
            if bySpec[result.spec] == nil { order.append(result.spec) }
            bySpec[result.spec, default: []].append(result)
        }
        for spec in order {
            let cases = bySpec[spec] ?? []
            let time = cases.reduce(0) { $0 + $1.seconds }
            xml += "  <testsuite name=\"\(Self.escape(spec))\" tests=\"\(cases.count)\" failures=\"\(cases.filter { !$0.passed }.count)\" time=\"\(Self.seconds(time))\">\n"
            for result in cases {
                xml += "    <testcase classname=\"\(Self.escape(spec))\" name=\"\(Self.escape(result.name))\" time=\"\(Self.seconds(result.seconds))\""
                if let failure = result.failure {
                    let firstLine = failure.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? failure
                    xml += ">\n      <failure message=\"\(Self.escape(firstLine))\">\(Self.escape(failure))</failure>\n    </testcase>\n"
                } else {
                    xml += "/>\n"
                }
            }
            xml += "  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    private static func seconds(_ value: Double) -> String {
        String(format: "%.3f", value)
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20: out += "\u{FFFD}"  // not allowed in XML 1.0
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
