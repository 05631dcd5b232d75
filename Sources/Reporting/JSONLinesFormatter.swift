/// JSON Lines (one JSON object per line, RFC 8259 text), for scripts:
///
///     {"host":"Linux 6.16.0 aarch64","hostname":"ci","notes":[],"seed":"42","startTime":"2026-11-26T02:21:54Z","suite":"nvharness","type":"run"}
///     {"duration":0.85,"faults":["stage-2 fault: …"],"id":"demand-paging_4k","log":[],"message":null,"name":"demand-paging/4k","number":1,"parameters":{"granule":"4K"},"repetition":null,"status":"pass","type":"test"}
///     {"exitStatus":0,"failed":0,"passed":1,"skipped":0,"timedOut":0,"total":1,"type":"summary"}
///
/// Select test records with `type == "test"`; `id` is the stable id (`StableID`), `name` the
/// catalog name. `status` is pass/fail/skip/timeout/xfail/xpass; `message` is the
/// failure/timeout message, the skip reason, or (xfail) the failure as observed; `knownFailure`
/// is the matching known-failure record's reason (xfail, xpass) or null. `seed` is a decimal string (a 64-bit
/// value does not survive a double-precision JSON reader). Keys are sorted.
public struct JSONLinesFormatter: ReportFormatter {
    public init() {}

    public mutating func begin(_ run: RunInfo, planned: Int?) -> String {
        var o: [(String, JSON)] = [
            ("type", .string("run")),
            ("suite", .string(run.suiteName)),
            ("startTime", .string(JUnitFormatter.timestamp(run.startTime) + "Z")),
            ("hostname", .string(run.hostname)),
            ("host", .string(run.hostDescription)),
            ("seed", .string(String(run.seed))),
        ]
        if let planned { o.append(("planned", .int(planned))) }
        o.append(("notes", .array(run.notes.map { .string($0) })))
        return JSON.object(o).encoded + "\n"
    }

    public mutating func result(_ r: TestResult, number: Int) -> String {
        let message = r.outcome.failureMessage ?? r.outcome.skipReason ?? r.outcome.observedFailure
        let o: [(String, JSON)] = [
            ("type", .string("test")),
            ("number", .int(number)),
            ("name", .string(r.name)),
            ("id", .string(r.id)),
            ("repetition", r.repetition.map { .int($0) } ?? .null),
            ("parameters", .object(r.parameters.map { ($0.key, .string($0.value)) })),
            ("status", .string(r.status.rawValue)),
            ("duration", .number(formatSeconds(r.seconds, decimals: 6))),
            ("message", message.map { .string($0) } ?? .null),
            ("knownFailure", r.outcome.knownFailure.map { .string($0) } ?? .null),
            ("faults", .array(r.faults.map { .string($0) })),
            ("log", .array(r.log.map { .string($0) })),
        ]
        return JSON.object(o).encoded + "\n"
    }

    public mutating func end(_ run: RunInfo, results: [TestResult], summary: Summary) -> String {
        let o: [(String, JSON)] = [
            ("type", .string("summary")),
            ("passed", .int(summary.passed)),
            ("failed", .int(summary.failed)),
            ("skipped", .int(summary.skipped)),
            ("timedOut", .int(summary.timedOut)),
            ("xfail", .int(summary.xfailed)),
            ("xpass", .int(summary.xpassed)),
            ("total", .int(summary.total)),
            ("exitStatus", .int(Int(summary.exitStatus))),
        ]
        return JSON.object(o).encoded + "\n"
    }
}

/// A minimal JSON value with a deterministic encoding (sorted keys, no insignificant
/// whitespace, numbers as given). Strings escape `"`, `\`, all C0 controls, DEL, and
/// U+2028/U+2029 (so a line never splits in any reader).
enum JSON {
    case null
    case bool(Bool)
    case int(Int)
    case number(String)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    var encoded: String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let n): out += n
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, (k, v)) in o.sorted(by: { $0.0 < $1.0 }).enumerated() {
                if i > 0 { out += "," }
                JSON.quote(k, into: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                switch u.value {
                case 0..<0x20, 0x7F, 0x2028, 0x2029: out += "\\u" + Escape.hex(u.value, 4).lowercased()
                default: out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
