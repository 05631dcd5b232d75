/// The output formats of `harness --format`.
public enum OutputFormat: String, CaseIterable, Sendable {
    /// One line per test plus its fault lines; coloured on a terminal.
    case human
    /// Test Anything Protocol, version 13.
    case tap
    /// KTAP version 1 (the kernel's TAP): one subtest block per test, its variants nested.
    case ktap
    /// JUnit XML (the dialect GitHub and GitLab render).
    case junit
    /// JSON Lines: one object per line (run header, one per test, summary).
    case json

    /// A formatter for this format. `color` only affects `human`.
    public func formatter(color: Bool = false) -> any ReportFormatter {
        switch self {
        case .human: HumanFormatter(color: color)
        case .tap: TAPFormatter()
        case .ktap: KTAPFormatter()
        case .junit: JUnitFormatter()
        case .json: JSONLinesFormatter()
        }
    }
}

/// Turns a run into text, piece by piece so streaming formats can be printed as tests finish.
/// `begin` is called once, `result` once per test in order (numbers from 1), `end` once.
/// Each returns the text to append (possibly empty); the concatenation is the complete output.
public protocol ReportFormatter {
    mutating func begin(_ run: RunInfo, planned: Int?) -> String
    mutating func result(_ result: TestResult, number: Int) -> String
    /// `summary` is `Summary(results)`. The summary line itself is not part of the machine
    /// formats (it would break their syntax); `Reporter` prints it next to them.
    mutating func end(_ run: RunInfo, results: [TestResult], summary: Summary) -> String
}

extension ReportFormatter {
    /// The whole output for a finished run in one string.
    public mutating func render(_ run: RunInfo, results: [TestResult], planned: Int? = nil) -> String {
        var out = begin(run, planned: planned ?? results.count)
        for (i, r) in results.enumerated() { out += result(r, number: i + 1) }
        out += end(run, results: results, summary: Summary(results))
        return out
    }
}

/// `--color auto|always|never`.
public enum ColorMode: String, CaseIterable, Sendable {
    case auto, always, never

    /// Whether to colour output. `auto` colours only a terminal (isatty), and not when
    /// `NO_COLOR` is set to a non-empty value (no-color.org) or `TERM=dumb`. An explicit
    /// `always`/`never` overrides the environment, as no-color.org asks of command-line flags.
    public func enabled(isTerminal: Bool, environment: [String: String]) -> Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .auto:
            if let v = environment["NO_COLOR"], !v.isEmpty { return false }
            if environment["TERM"] == "dumb" { return false }
            return isTerminal
        }
    }
}

public func formatSeconds(_ d: Double, decimals: Int = 3) -> String {
    // Fixed-point, locale-independent, never exponent notation; negative clamps to 0.
    let scale = pow10(decimals)
    let v = (d.isFinite && d > 0) ? d : 0
    let scaled = UInt64((v * Double(scale)).rounded())
    let whole = scaled / scale
    let frac = scaled % scale
    if decimals == 0 { return String(whole) }
    let f = String(frac)
    return "\(whole)." + String(repeating: "0", count: decimals - f.count) + f
}

private func pow10(_ n: Int) -> UInt64 { (0..<n).reduce(1) { acc, _ in acc * 10 } }
