/// KTAP version 1, the kernel's test result format (Documentation/dev-tools/ktap.rst): one
/// subtest block per catalog test with its variants nested inside, two spaces per level.
///
///     KTAP version 1
///     1..2
///     # nvharness seed 42 on Linux 6.16.0 aarch64 (host)
///       KTAP version 1
///       # Subtest: demand-paging
///       1..2
///       # parameters: granule=4K
///       # fault: stage-2 fault: translation L3, ...
///       ok 1 demand-paging_4k
///       ok 2 demand-paging_16k # SKIP granule 16K not supported at stage 2
///     ok 1 demand-paging
///       KTAP version 1
///       # Subtest: bbm
///       1..2
///       # failed: expected WnR=1
///       not ok 1 bbm_remap
///       # log: KVM_EXIT_INTR
///       not ok 2 bbm_live # TIMEOUT watchdog: no exit for 10 s
///     not ok 2 bbm
///     # Totals: pass:1 fail:2 xfail:0 xpass:0 skip:1 error:0
///
/// Names are stable ids (`StableID`: `[A-Za-z0-9_-]` only). A variant's diagnostics (its
/// parameters, the failure message, each decoded fault, the exit log) are `#` lines directly
/// before its result line, as ktap.rst recommends; a multi-line text gets one `#` line per
/// line, each with its control characters made visible, so nothing from the guest can forge a
/// result line. A test is
/// `not ok` when any variant failed or timed out, `ok # SKIP` when every variant was skipped.
/// A timeout is `not ok ... # TIMEOUT message` and counts as `fail` in the totals, as the
/// summary line counts it. A known failure (its record's signature matched) is
/// `ok ... # XFAIL <record>` (as kselftest prints XFAIL), with the observed failure as
/// `# failed:` lines; it does not fail its test. An XPASS (a test with such a record passed)
/// is `ok` with a `# XPASS:` diagnostic naming the record (ktap.rst has no XPASS directive).
/// `error` is always 0 (the harness has no separate error state).
///
/// When `RunInfo.plannedNames` is known (a `harness` run) the output streams: each test's
/// block opens with its plan at its first variant and closes after its last. Otherwise the
/// whole report is written at `end`, where the plans are known.
public struct KTAPFormatter: ReportFormatter {
    /// One run of consecutive results of the same test: a subtest block.
    struct Block: Equatable {
        var group: String
        var planned: Int
    }

    private var blocks: [Block]?
    private var nextBlock = 0
    private var open: (group: String, planned: Int?, statuses: [TestStatus], skipReasons: [String])?
    private var topNumber = 0
    private var buffered: [TestResult] = []

    public init() {}

    /// Consecutive names of the same test form one block, in order.
    static func blocks(_ names: [String]) -> [Block] {
        var out: [Block] = []
        for n in names {
            let g = TestResult.group(of: n)
            if let last = out.last, last.group == g { out[out.count - 1].planned += 1 } else { out.append(Block(group: g, planned: 1)) }
        }
        return out
    }

    public mutating func begin(_ run: RunInfo, planned: Int?) -> String {
        guard let names = run.plannedNames else { return "" }
        let b = Self.blocks(names)
        blocks = b
        return Self.header(run, blocks: b.count)
    }

    static func header(_ run: RunInfo, blocks: Int) -> String {
        "KTAP version 1\n1..\(blocks)\n"
            + "# \(Escape.terminal(run.suiteName)) seed \(run.seed) on \(Escape.terminal(run.hostDescription)) (\(Escape.terminal(run.hostname)))\n"
            + run.notes.map { "# note: " + Escape.terminal($0) + "\n" }.joined()
    }

    public mutating func result(_ r: TestResult, number: Int) -> String {
        guard blocks != nil else {
            buffered.append(r)
            return ""
        }
        var out = ""
        if let o = open, o.group != r.group || o.statuses.count == o.planned {
            out += closeBlock()
        }
        if open == nil {
            var planned: Int? = nil
            if let b = blocks, nextBlock < b.count, b[nextBlock].group == r.group {
                planned = b[nextBlock].planned
                nextBlock += 1
            }
            open = (r.group, planned, [], [])
            out += "  KTAP version 1\n  # Subtest: \(StableID.make(r.group))\n"
            if let planned { out += "  1..\(planned)\n" }
        }
        open!.statuses.append(r.status)
        if let reason = r.outcome.skipReason { open!.skipReasons.append(reason) }
        out += Self.leaf(r, number: open!.statuses.count).map { "  " + $0 + "\n" }.joined()
        if let o = open, let planned = o.planned, o.statuses.count == planned {
            out += closeBlock()
        }
        return out
    }

    /// The diagnostic lines and the result line of one variant (without indentation).
    static func leaf(_ r: TestResult, number: Int) -> [String] {
        var lines: [String] = []
        // One `#` line per line of text, control characters made visible.
        func diag(_ label: String, _ text: String) {
            for l in text.split(separator: "\n", omittingEmptySubsequences: false) {
                lines.append("# \(label): " + Escape.terminal(String(l)))
            }
        }
        if !r.parameters.isEmpty { diag("parameters", r.parameterText) }
        if case .failed(let m) = r.outcome { diag("failed", m) }
        if case .knownFailure(let m, _) = r.outcome { diag("failed", m) }
        if case .unexpectedPass(let known) = r.outcome {
            diag("XPASS", "passed although a known-failure record says it fails here: " + known)
        }
        for f in r.faults { diag("fault", f) }
        for l in r.log { diag("log", l) }
        let id = r.id
        switch r.outcome {
        case .passed, .unexpectedPass: lines.append("ok \(number) \(id)")
        case .failed: lines.append("not ok \(number) \(id)")
        case .skipped(let reason): lines.append("ok \(number) \(id) # SKIP " + Escape.terminal(reason))
        case .timedOut(let m): lines.append("not ok \(number) \(id) # TIMEOUT " + Escape.terminal(m))
        case .knownFailure(_, let known): lines.append("ok \(number) \(id) # XFAIL " + Escape.terminal(known))
        }
        return lines
    }

    /// The parent's result line: `not ok` if a variant failed, `# SKIP` if all were skipped.
    private mutating func closeBlock() -> String {
        guard let o = open else { return "" }
        open = nil
        topNumber += 1
        let id = StableID.make(o.group)
        if o.statuses.contains(where: Self.isFailure) { return "not ok \(topNumber) \(id)\n" }
        if !o.statuses.isEmpty, o.statuses.allSatisfy({ $0 == .skip }) {
            let reasons = Set(o.skipReasons)
            let why = reasons.count == 1 ? reasons.first! : "every variant skipped"
            return "ok \(topNumber) \(id) # SKIP " + Escape.terminal(why) + "\n"
        }
        return "ok \(topNumber) \(id)\n"
    }

    static func isFailure(_ s: TestStatus) -> Bool {
        switch s {
        case .fail, .timeout: true
        case .pass, .skip, .xfail, .xpass: false
        }
    }

    public mutating func end(_ run: RunInfo, results: [TestResult], summary: Summary) -> String {
        if blocks == nil {
            // Not streamed: the whole report now that the plans are known.
            var known = run
            known.plannedNames = buffered.map(\.name)
            var f = KTAPFormatter()
            var out = f.begin(known, planned: buffered.count)
            for (i, r) in buffered.enumerated() { out += f.result(r, number: i + 1) }
            return out + f.end(known, results: results, summary: summary)
        }
        return closeBlock() + Self.totals(results) + "\n"
    }

    /// `# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N` over the variants (the form
    /// kselftest prints). Timeouts count as `fail`; `pass` does not include the XPASSes.
    static func totals(_ results: [TestResult]) -> String {
        var pass = 0
        var fail = 0
        var skip = 0
        var xfail = 0
        var xpass = 0
        for r in results {
            switch r.status {
            case .pass: pass += 1
            case .fail, .timeout: fail += 1
            case .skip: skip += 1
            case .xfail: xfail += 1
            case .xpass: xpass += 1
            }
        }
        return "# Totals: pass:\(pass) fail:\(fail) xfail:\(xfail) xpass:\(xpass) skip:\(skip) error:0"
    }
}
