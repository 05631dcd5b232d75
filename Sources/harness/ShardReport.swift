import Reporting
import Stage2Spec

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One shard's JSON Lines report (`--format json`, see `JSONLinesFormatter`) read back: the run
/// record and the test records, grouped by variant (a variant's repetitions stay together).
struct ShardReport {
    struct Failure: Error { var message: String }

    let file: String
    var seed: UInt64 = 0
    var host = "", hostname = ""
    var startTime = Date(timeIntervalSince1970: 0)
    var notes: [String] = []
    /// The results, one group per variant, in the shard's order.
    var groups: [[TestResult]] = []

    init(text: String, file: String) throws {
        self.file = file
        var sawRun = false
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let where_ = "\(file) line \(n + 1)"
            let value: JSONValue
            do { value = try JSONParser.parse(Array(line.utf8)) } catch { throw Failure(message: "\(where_): \(error)") }
            guard case .object(let fields) = value else { throw Failure(message: "\(where_): not a JSON object") }
            let o = Dictionary(fields, uniquingKeysWith: { a, _ in a })
            func string(_ k: String) -> String? { if case .string(let s)? = o[k] { s } else { nil } }
            switch string("type") {
            case "run":
                sawRun = true
                guard let s = string("seed"), let seed = UInt64(s) else { throw Failure(message: "\(where_): no seed") }
                self.seed = seed
                host = string("host") ?? ""
                hostname = string("hostname") ?? ""
                startTime = string("startTime").flatMap(Self.date) ?? startTime
                if case .array(let a)? = o["notes"] { notes = a.compactMap { if case .string(let s) = $0 { s } else { nil } } }
            case "test":
                let r = try Self.result(o, where_)
                if let last = groups.last?.last, last.name == r.name, r.repetition != nil {
                    groups[groups.count - 1].append(r)
                } else {
                    groups.append([r])
                }
            case "summary": break
            default: throw Failure(message: "\(where_): unknown record type")
            }
        }
        guard sawRun else { throw Failure(message: "\(file) has no run record: not a harness --format json report") }
    }

    static func result(_ o: [String: JSONValue], _ where_: String) throws -> TestResult {
        func string(_ k: String) -> String? { if case .string(let s)? = o[k] { s } else { nil } }
        func strings(_ k: String) -> [String] {
            if case .array(let a)? = o[k] { a.compactMap { if case .string(let s) = $0 { s } else { nil } } } else { [] }
        }
        guard let name = string("name"), let statusText = string("status"), let status = TestStatus(rawValue: statusText) else {
            throw Failure(message: "\(where_): a test record without name or status")
        }
        let message = string("message") ?? ""
        let known = string("knownFailure") ?? ""
        let outcome: TestOutcome =
            switch status {
            case .pass: .passed
            case .fail: .failed(message)
            case .skip: .skipped(reason: message)
            case .timeout: .timedOut(message)
            case .xfail: .knownFailure(message, known: known)
            case .xpass: .unexpectedPass(known: known)
            }
        var parameters: [String: String] = [:]
        if case .object(let p)? = o["parameters"] { for (k, v) in p { if case .string(let s) = v { parameters[k] = s } } }
        var duration = Duration.zero
        if case .number(let d)? = o["duration"], let seconds = Double(d) { duration = .nanoseconds(Int64(seconds * 1e9)) }
        var repetition: Int? = nil
        if case .number(let r)? = o["repetition"] { repetition = Int(r) }
        return TestResult(
            name: name, parameters: parameters, outcome: outcome, duration: duration, faults: strings("faults"),
            log: strings("log"), repetition: repetition)
    }

    /// Catalog order again: shard K ran variants K-1, K-1+N, …, so take one group from each
    /// shard in turn (a shard that stopped early just runs out).
    static func interleave(_ shards: [[[TestResult]]]) -> [TestResult] {
        var out: [TestResult] = []
        let longest = shards.map(\.count).max() ?? 0
        for i in 0..<longest { for s in shards where i < s.count { out += s[i] } }
        return out
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (the run record's startTime) as a Date.
    static func date(_ s: String) -> Date? {
        let d = s.split(whereSeparator: { "-T:Z".contains($0) }).compactMap { Int($0) }
        guard d.count == 6 else { return nil }
        // Days from 1970-01-01 in the proleptic Gregorian calendar (civil-from-days inverted).
        let y = d[1] <= 2 ? d[0] - 1 : d[0]
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (d[1] + (d[1] > 2 ? -3 : 9)) + 2) / 5 + d[2] - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Date(timeIntervalSince1970: Double(days * 86_400 + d[3] * 3600 + d[4] * 60 + d[5]))
    }
}
