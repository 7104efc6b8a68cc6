import Foundation

/// Human-readable output: one table of runs, and the Moonwire-versus-Nchan comparison.
public enum ResultTable {
    public static func render(_ results: [BenchResult]) -> String {
        var rows: [[String]] = [[
            "scenario", "target", "transport", "conns", "payload", "mode", "delivered/s", "p50 ms", "p99 ms", "p99.9 ms",
            "hub CPU%", "hub RSS MB", "client CPU%", "published", "expected", "received", "dup", "missing", "errors",
        ]]
        for result in results {
            rows.append([
                result.variant.isEmpty ? result.scenario : "\(result.scenario) \(result.variant)",
                result.target.rawValue,
                result.transport?.rawValue ?? "-",
                String(result.connections),
                bytes(result.payloadBytes),
                mode(result),
                number(result.deliveredPerSecond),
                millis(result.latency.p50, result.latency.count),
                millis(result.latency.p99, result.latency.count),
                millis(result.latency.p999, result.latency.count),
                result.hub.map { String(format: "%.0f", $0.cpuPercent) } ?? "-",
                result.hub.map { String(format: "%.0f", Double($0.rssPeakBytes) / 1_048_576) } ?? "-",
                result.clientCPUPercent.map { String(format: "%.0f", $0) } ?? "-",
                String(result.published),
                String(result.expected),
                String(result.received),
                String(result.duplicates),
                String(result.missing),
                String(result.errors.total + result.publishErrors),
            ])
        }
        var text = format(rows, rightAligned: Set(3..<rows[0].count).subtracting([5]))
        var details: [String] = []
        for result in results {
            let name = result.variant.isEmpty ? result.scenario : "\(result.scenario) \(result.variant)"
            if !result.extra.isEmpty {
                let figures = result.extra.sorted { $0.key < $1.key }.map { "\($0.key)=\(number($0.value))" }.joined(separator: " ")
                details.append("\(name) [\(result.target.rawValue)]: \(figures)")
            }
            for note in result.notes { details.append("\(name) [\(result.target.rawValue)]: \(note)") }
            if !result.errors.samples.isEmpty {
                details.append("\(name) [\(result.target.rawValue)] errors: " + result.errors.counts.sorted { $0.key < $1.key }
                    .map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
                for sample in result.errors.samples.prefix(4) { details.append("    \(sample)") }
            }
        }
        if !details.isEmpty { text += "\n" + details.joined(separator: "\n") + "\n" }
        return text
    }

    /// One row per fan-out configuration: Moonwire and Nchan side by side, with ratios (Moonwire / Nchan).
    public static func comparison(_ results: [BenchResult]) -> String {
        var rows: [[String]] = [[
            "transport", "subs", "payload", "mode",
            "MW delivered/s", "NC delivered/s", "ratio",
            "MW p99 ms", "NC p99 ms", "ratio",
            "MW p50 ms", "NC p50 ms",
            "MW CPU%", "NC CPU%", "MW µs/dlv", "NC µs/dlv", "ratio", "MW µs/poll", "NC µs/poll", "ratio",
            "MW RSS MB", "NC RSS MB", "client CPU% MW/NC",
            "MW missing", "NC missing", "MW dup", "NC dup",
        ]]
        var seen: [String] = []
        var byKey: [String: [BenchTarget: BenchResult]] = [:]
        for result in results {
            let key = "\(result.transport?.rawValue ?? "-")|\(result.connections)|\(result.payloadBytes)|\(mode(result))"
            if byKey[key] == nil { seen.append(key) }
            byKey[key, default: [:]][result.target] = result
        }
        for key in seen {
            let pair = byKey[key]!
            let first = pair.values.first!
            let mw = pair[.moonwire]
            let nc = pair[.nchan]
            rows.append([
                first.transport?.rawValue ?? "-", String(first.connections), bytes(first.payloadBytes), mode(first),
                mw.map { number($0.deliveredPerSecond) } ?? "-",
                nc.map { number($0.deliveredPerSecond) } ?? "-",
                ratio(mw?.deliveredPerSecond, nc?.deliveredPerSecond),
                mw.map { millis($0.latency.p99, $0.latency.count) } ?? "-",
                nc.map { millis($0.latency.p99, $0.latency.count) } ?? "-",
                ratio(mw.map { Double($0.latency.p99) }, nc.map { Double($0.latency.p99) }),
                mw.map { millis($0.latency.p50, $0.latency.count) } ?? "-",
                nc.map { millis($0.latency.p50, $0.latency.count) } ?? "-",
                mw?.hub.map { String(format: "%.0f", $0.cpuPercent) } ?? "-",
                nc?.hub.map { String(format: "%.0f", $0.cpuPercent) } ?? "-",
                micros(mw?.extra["hub_cpu_us_per_delivery"]), micros(nc?.extra["hub_cpu_us_per_delivery"]),
                ratio(mw?.extra["hub_cpu_us_per_delivery"], nc?.extra["hub_cpu_us_per_delivery"]),
                micros(mw?.extra["hub_cpu_us_per_poll"]), micros(nc?.extra["hub_cpu_us_per_poll"]),
                ratio(mw?.extra["hub_cpu_us_per_poll"], nc?.extra["hub_cpu_us_per_poll"]),
                mw?.hub.map { String(format: "%.0f", Double($0.rssPeakBytes) / 1_048_576) } ?? "-",
                nc?.hub.map { String(format: "%.0f", Double($0.rssPeakBytes) / 1_048_576) } ?? "-",
                (mw?.clientCPUPercent.map { String(format: "%.0f", $0) } ?? "-") + "/" + (nc?.clientCPUPercent.map { String(format: "%.0f", $0) } ?? "-"),
                mw.map { String($0.missing) } ?? "-",
                nc.map { String($0.missing) } ?? "-",
                mw.map { String($0.duplicates) } ?? "-",
                nc.map { String($0.duplicates) } ?? "-",
            ])
        }
        return format(rows, rightAligned: Set(1..<rows[0].count).subtracting([3]))
            + "ratio: Moonwire / Nchan (delivered/s: above 1 is better for Moonwire; p99 and server CPU µs per delivery or per\n"
            + "long-poll answer: below 1 is better for Moonwire).\n"
    }

    static func mode(_ result: BenchResult) -> String {
        if result.mode == "rate", let rate = result.targetRate { return "rate \(number(rate))/s" }
        return result.mode
    }

    /// Microseconds, one decimal; "-" when not measured.
    static func micros(_ value: Double?) -> String {
        value.map { String(format: "%.1f", $0) } ?? "-"
    }

    static func ratio(_ a: Double?, _ b: Double?) -> String {
        guard let a, let b, b > 0 else { return "-" }
        return String(format: "%.2f", a / b)
    }

    static func bytes(_ count: Int) -> String {
        count >= 1024 && count % 1024 == 0 ? "\(count / 1024) KiB" : "\(count) B"
    }

    static func millis(_ micros: UInt64, _ count: UInt64) -> String {
        count == 0 ? "-" : String(format: micros < 10_000 ? "%.2f" : "%.1f", Double(micros) / 1000)
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        if abs(value) >= 100 { return String(format: "%.0f", value) }
        return String(format: "%.2f", value)
    }

    static func format(_ rows: [[String]], rightAligned: Set<Int>) -> String {
        var widths = [Int](repeating: 0, count: rows[0].count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        var lines: [String] = []
        for (number, row) in rows.enumerated() {
            let cells = row.enumerated().map { index, cell in
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                return rightAligned.contains(index) ? padding + cell : cell + padding
            }
            lines.append(cells.joined(separator: "  "))
            if number == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
