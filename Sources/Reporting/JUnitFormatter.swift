#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// JUnit XML in the widely rendered "Ant" dialect (GitHub test-report actions, GitLab
/// `artifacts:reports:junit`, Jenkins):
///
///     <testsuites name tests failures errors skipped time timestamp>
///       <testsuite name tests failures errors skipped time timestamp hostname>
///         <properties><property name value/>…</properties>
///         <testcase classname name time>
///           <failure message type>message + fault log</failure>   (fail: type="failure",
///                                                                   timeout: type="timeout")
///           <skipped message/>
///           <skipped type="xfail" message="known failure: reason">failure as observed</skipped>
///           <system-out>parameters, fault log, exit log</system-out>
///         </testcase>
///
/// A known failure (xfail) is a `skipped` element of type "xfail" whose message starts
/// "known failure: " (what pytest writes for its xfail, and what GitHub/GitLab/Jenkins show as a
/// skip with its reason); `skipped` counts them. An XPASS is a passing testcase whose
/// `<system-out>` starts with "XPASS:" and a testcase property `xpass` (not a failure unless
/// `--strict`, which reports it as a failure before it gets here).
/// Timeouts are failures (`failures` counts them), matching the summary line; `errors` is
/// always 0 (the harness has no separate error state). `timestamp` is the run's start in UTC
/// without a zone suffix (the Ant schema's ISO 8601 form). `name` is the stable id
/// (`StableID`: `demand-paging_4k`), `classname` is `<suite>.<group id>` (`nvharness.demand-paging`).
/// All text is escaped with `Escape.xmlText`/`xmlAttribute` (forbidden XML 1.0 characters made visible).
public struct JUnitFormatter: ReportFormatter {
    public init() {}

    public mutating func begin(_ run: RunInfo, planned: Int?) -> String { "" }
    public mutating func result(_ result: TestResult, number: Int) -> String { "" }

    public mutating func end(_ run: RunInfo, results: [TestResult], summary: Summary) -> String {
        func a(_ s: String) -> String { Escape.xmlAttribute(s) }
        let time = formatSeconds(summary.duration.seconds)
        let stamp = Self.timestamp(run.startTime)
        let counts =
            "tests=\"\(summary.total)\" failures=\"\(summary.failed)\" errors=\"0\" skipped=\"\(summary.skipped + summary.xfailed)\" time=\"\(time)\""
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<testsuites name=\"\(a(run.suiteName))\" \(counts) timestamp=\"\(stamp)\">\n"
        x += "  <testsuite name=\"\(a(run.suiteName))\" \(counts) timestamp=\"\(stamp)\" hostname=\"\(a(run.hostname))\">\n"
        x += "    <properties>\n"
        x += "      <property name=\"seed\" value=\"\(run.seed)\"/>\n"
        x += "      <property name=\"host\" value=\"\(a(run.hostDescription))\"/>\n"
        for n in run.notes { x += "      <property name=\"note\" value=\"\(a(n))\"/>\n" }
        x += "    </properties>\n"
        for r in results {
            let attrs =
                "classname=\"\(a(run.suiteName + "." + StableID.make(r.group)))\" name=\"\(r.id)\" time=\"\(formatSeconds(r.seconds))\""
            let out = systemOut(r)
            if r.status == .pass && out.isEmpty {
                x += "    <testcase \(attrs)/>\n"
                continue
            }
            x += "    <testcase \(attrs)>\n"
            switch r.outcome {
            case .passed:
                break
            case .failed(let m), .timedOut(let m):
                let type = r.status == .timeout ? "timeout" : "failure"
                let message = r.status == .timeout ? "timed out: " + m : m
                var body = message
                if !r.faults.isEmpty { body += "\n\nfaults:\n" + r.faults.joined(separator: "\n") }
                if r.status == .timeout && !r.log.isEmpty { body += "\n\nlast exits:\n" + r.log.joined(separator: "\n") }
                x += "      <failure message=\"\(a(message))\" type=\"\(type)\">\(Escape.xmlText(body))</failure>\n"
            case .skipped(let reason):
                x += "      <skipped message=\"\(a(reason))\"/>\n"
            case .knownFailure(let observed, let known):
                x += "      <skipped type=\"xfail\" message=\"\(a("known failure: " + known))\">\(Escape.xmlText(observed))</skipped>\n"
            case .unexpectedPass(let known):
                x += "      <properties><property name=\"xpass\" value=\"\(a(known))\"/></properties>\n"
            }
            if !out.isEmpty {
                x += "      <system-out>\(Escape.xmlText(out))</system-out>\n"
            }
            x += "    </testcase>\n"
        }
        x += "  </testsuite>\n"
        x += "</testsuites>\n"
        return x
    }

    private func systemOut(_ r: TestResult) -> String {
        var lines: [String] = []
        if case .unexpectedPass(let known) = r.outcome {
            lines.append("XPASS: passed although a known-failure record says it fails here: " + known)
        }
        if !r.parameters.isEmpty { lines.append("parameters: " + r.parameterText) }
        if !r.faults.isEmpty {
            lines.append("faults:")
            lines += r.faults
        }
        if !r.log.isEmpty {
            lines.append("exits:")
            lines += r.log
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    /// `2026-11-26T02:21:54` (UTC, no zone suffix, as the Ant JUnit schema expects).
    static func timestamp(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        gmtime_r(&t, &tm)
        func p(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return
            "\(p(tm.tm_year + 1900, 4))-\(p(tm.tm_mon + 1, 2))-\(p(tm.tm_mday, 2))T\(p(tm.tm_hour, 2)):\(p(tm.tm_min, 2)):\(p(tm.tm_sec, 2))"
    }
}
