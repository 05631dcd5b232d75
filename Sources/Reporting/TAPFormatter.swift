/// TAP version 13 (testanything.org/tap-version-13-specification.html).
///
///     TAP version 13
///     1..3
///     # nvharness seed 42 on Linux 6.16.0 aarch64 (host)
///     ok 1 - demand-paging_4k
///       ---
///       duration: 0.850
///       faults:
///         - "stage-2 fault: translation L3, ..."
///       ...
///     not ok 2 - permission_write-ro
///       ---
///       message: "expected WnR=1"
///       severity: fail
///       ...
///     ok 3 - demand-paging_16k # SKIP granule 16K not supported at stage 2
///     not ok 4 - illegal-vtcr_sl0-reserved # TODO known failure: KVM_RUN fails with EFAULT (…)
///       ---
///       message: "KVM_RUN: Bad address"
///       severity: xfail
///       ...
///     ok 5 - address-size_ipa-above-t0sz # TODO known failure: no level-0 fault (…)
///       ---
///       message: "XPASS: passed although a known-failure record says it fails here"
///       severity: xpass
///       ...
///
/// A known failure is a TODO test (TAP's own expected failure: consumers do not count it as
/// failed); an XPASS is `ok` with the same TODO directive, which TAP consumers report as an
/// unexpectedly passing TODO test (TAP::Parser's `todo_passed`).
///
/// Test descriptions are stable ids (`StableID`: `demand-paging_4k`, `-rep2` for a repetition).
/// The plan comes first when the number of tests is known in advance, otherwise last. A
/// timeout is `not ok` with `severity: timeout` and a message starting "timed out". YAML
/// blocks are indented two spaces; every string in them is a double-quoted YAML scalar.
public struct TAPFormatter: ReportFormatter {
    private var planEmitted = false

    public init() {}

    public mutating func begin(_ run: RunInfo, planned: Int?) -> String {
        var out = "TAP version 13\n"
        if let planned {
            out += "1..\(planned)\n"
            planEmitted = true
        }
        out +=
            "# \(Escape.terminal(run.suiteName)) seed \(run.seed) on \(Escape.terminal(run.hostDescription)) (\(Escape.terminal(run.hostname)))\n"
        for n in run.notes { out += "# note: " + Escape.terminal(n) + "\n" }
        return out
    }

    public mutating func result(_ r: TestResult, number: Int) -> String {
        let ok = r.status == .pass || r.status == .skip || r.status == .xpass
        var out = (ok ? "ok" : "not ok") + " \(number) - " + r.id
        if case .skipped(let reason) = r.outcome {
            out += " # SKIP " + Escape.tapText(reason)
        }
        if let known = r.outcome.knownFailure {
            out += " # TODO known failure: " + Escape.tapText(known)
        }
        out += "\n"

        var yaml: [String] = []
        switch r.outcome {
        case .failed(let m):
            yaml += ["message: " + Escape.yamlQuoted(m), "severity: fail"]
        case .timedOut(let m):
            yaml += ["message: " + Escape.yamlQuoted("timed out: " + m), "severity: timeout"]
        case .knownFailure(let m, _):
            yaml += ["message: " + Escape.yamlQuoted(m), "severity: xfail"]
        case .unexpectedPass:
            yaml += [
                "message: " + Escape.yamlQuoted("XPASS: passed although a known-failure record says it fails here"), "severity: xpass",
            ]
        case .passed, .skipped:
            break
        }
        if r.status != .skip || !r.faults.isEmpty || !r.log.isEmpty || !yaml.isEmpty {
            yaml.append("duration: " + formatSeconds(r.seconds))
        }
        if !r.parameters.isEmpty {
            yaml.append("parameters:")
            for (k, v) in r.parameters.sorted(by: { $0.key < $1.key }) {
                yaml.append("  " + Escape.yamlQuoted(k) + ": " + Escape.yamlQuoted(v))
            }
        }
        if !r.faults.isEmpty {
            yaml.append("faults:")
            yaml += r.faults.map { "  - " + Escape.yamlQuoted($0) }
        }
        if !r.log.isEmpty {
            yaml.append("log:")
            yaml += r.log.map { "  - " + Escape.yamlQuoted($0) }
        }
        // A passing test with nothing to add gets only its duration; keep the stream terse
        // and emit no block at all when the block would hold nothing but that.
        if ok && r.status != .xpass && r.faults.isEmpty && r.log.isEmpty && r.parameters.isEmpty { return out }
        out += "  ---\n"
        for y in yaml { out += "  " + y + "\n" }
        out += "  ...\n"
        return out
    }

    public mutating func end(_ run: RunInfo, results: [TestResult], summary: Summary) -> String {
        var out = ""
        if !planEmitted {
            // "1..0" is the TAP way to say no tests ran.
            out += "1..\(results.count)\n"
            planEmitted = true
        }
        for n in summary.noticeLines { out += "# " + Escape.tapText(n) + "\n" }
        out += "# " + summary.line + "\n"
        return out
    }
}
