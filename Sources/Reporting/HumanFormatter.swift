/// Human-readable output: a header, one line per test (status, name, parameters, time,
/// message), each fault on its own indented line, then the timeout count (if any), and the
/// summary line last. Untrusted text is shown with control characters made visible so a
/// guest cannot drive the terminal. ANSI colours only when `color` is true.
public struct HumanFormatter: ReportFormatter {
    public var color: Bool

    public init(color: Bool) { self.color = color }

    private func paint(_ text: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func label(_ s: TestStatus) -> String {
        switch s {
        case .pass: paint("PASS   ", "32")
        case .fail: paint("FAIL   ", "1;31")
        case .skip: paint("SKIP   ", "33")
        case .timeout: paint("TIMEOUT", "1;35")
        case .xfail: paint("XFAIL  ", "36")
        case .xpass: paint("XPASS  ", "1;33")
        }
    }

    public mutating func begin(_ run: RunInfo, planned: Int?) -> String {
        var line = "nvharness: "
        if let planned { line += "\(planned) \(planned == 1 ? "test" : "tests") on " }
        line += Escape.terminal(run.hostDescription)
        line += " (\(Escape.terminal(run.hostname))), seed \(run.seed)\n"
        for n in run.notes { line += "note: " + Escape.terminal(n) + "\n" }
        return line
    }

    public mutating func result(_ r: TestResult, number: Int) -> String {
        var line = label(r.status) + " " + Escape.terminal(r.displayName)
        if !r.parameters.isEmpty { line += " (" + Escape.terminal(r.parameterText) + ")" }
        if r.status != .skip { line += " " + paint(formatSeconds(r.seconds, decimals: 2) + " s", "2") }
        var extra: [String] = []
        var text = r.outcome.failureMessage ?? r.outcome.skipReason
        if let known = r.outcome.knownFailure {
            text =
                r.status == .xpass
                ? "passed although a known-failure record says it fails here: " + known
                : (r.outcome.observedFailure ?? "") + "\nknown failure: " + known
        }
        if let text {
            let lines = Escape.terminal(text, singleLine: false).split(separator: "\n", omittingEmptySubsequences: false)
            line += ": " + (lines.first.map(String.init) ?? "")
            extra = lines.dropFirst().map { "        " + $0 }
        }
        var out = line + "\n"
        for e in extra { out += e + "\n" }
        for f in r.faults { out += "    " + Escape.terminal(f) + "\n" }
        for l in r.log { out += "    | " + Escape.terminal(l) + "\n" }
        return out
    }

    public mutating func end(_ run: RunInfo, results: [TestResult], summary: Summary) -> String {
        var out = ""
        let notPassed = results.filter { $0.status == .fail || $0.status == .timeout }
        if !notPassed.isEmpty {
            out += "failed: " + notPassed.map { Escape.terminal($0.displayName) }.joined(separator: ", ") + "\n"
            out += "reproduce with --seed \(run.seed)\n"
        }
        for n in summary.noticeLines { out += Escape.terminal(n) + "\n" }
        out += summary.line + "\n"
        return out
    }
}
