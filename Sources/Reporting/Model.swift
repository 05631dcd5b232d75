import enum Machine.HostProbe

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

/// The ways a test can end. A timeout is a failure with a more specific cause: it counts as
/// failed in the summary line and selects exit status 124 (see `ExitPolicy`). `xfail` is a
/// known failure: the test failed exactly as a known-failure record of its variant says (the
/// record's signature matched). `xpass` is a test with such a record that passed: it counts
/// as passed, is announced on a line of its own, and is a failure under `--strict`.
public enum TestStatus: String, Sendable, Codable, CaseIterable {
    case pass, fail, skip, timeout, xfail, xpass
}

/// How a test ended, with the text each ending requires: a failure or timeout always says
/// what went wrong, a skip always says why. Texts may come from the guest (untrusted): every
/// formatter escapes them for its own syntax.
public enum TestOutcome: Sendable, Equatable {
    case passed
    case failed(String)
    case skipped(reason: String)
    /// `message` should say what was stopped and after how long (e.g. "watchdog: no exit for 10 s").
    case timedOut(String)
    /// Failed exactly as a known-failure record says. `message` is the failure as observed,
    /// `known` the record's one-line reason and reference (shown as the TODO / skip reason).
    case knownFailure(String, known: String)
    /// Passed although a known-failure record says it fails here (`known`: that record).
    case unexpectedPass(known: String)

    public var status: TestStatus {
        switch self {
        case .passed: .pass
        case .failed: .fail
        case .skipped: .skip
        case .timedOut: .timeout
        case .knownFailure: .xfail
        case .unexpectedPass: .xpass
        }
    }

    /// The failure or timeout message (nil for pass, skip, xfail and xpass).
    public var failureMessage: String? {
        switch self {
        case .failed(let m), .timedOut(let m): m
        default: nil
        }
    }

    /// For xfail and xpass: the known-failure record's reason and reference.
    public var knownFailure: String? {
        switch self {
        case .knownFailure(_, let k), .unexpectedPass(let k): k
        default: nil
        }
    }

    /// For xfail: the failure as observed (it matched the record's signature).
    public var observedFailure: String? {
        if case .knownFailure(let m, _) = self { return m }
        return nil
    }

    public var skipReason: String? {
        if case .skipped(let r) = self { return r }
        return nil
    }
}

/// One executed (or skipped) test.
public struct TestResult: Sendable, Equatable {
    /// Catalog name including the variant, e.g. `demand-paging/4k`.
    public var name: String
    /// Variant parameters (e.g. granule=4K, ipaBits=40); printed sorted by key.
    public var parameters: [String: String]
    public var outcome: TestOutcome
    public var duration: Duration
    /// One line per fault, raw and decoded (AArch64 `FaultReport.oneLine`), in the order seen.
    public var faults: [String]
    /// Every exit, decoded (only filled with `--verbose`, or the last exits kept on a timeout).
    public var log: [String]
    /// 1-based repetition number under `--repeat N` (nil when the test runs once).
    public var repetition: Int?

    public init(
        name: String, parameters: [String: String] = [:], outcome: TestOutcome,
        duration: Duration = .zero, faults: [String] = [], log: [String] = [], repetition: Int? = nil
    ) {
        self.name = name
        self.parameters = parameters
        self.outcome = outcome
        self.duration = duration
        self.faults = faults
        self.log = log
        self.repetition = repetition
    }

    public var status: TestStatus { outcome.status }

    /// The name shown in reports: unique per repetition (`demand-paging/4k [2]`).
    public var displayName: String {
        if let repetition { return "\(name) [\(repetition)]" }
        return name
    }

    /// The name in machine formats: only `[A-Za-z0-9_-]` (`demand-paging_4k`, `-rep2` for a
    /// repetition); see `StableID`.
    public var id: String { StableID.make(name, repetition: repetition) }

    /// The test this variant belongs to: the name up to the first `/` (`demand-paging`).
    public var group: String { Self.group(of: name) }

    /// The test part of a `test/variant` name.
    public static func group(of name: String) -> String {
        name.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? name
    }

    /// Duration in seconds (for the formats that print seconds).
    public var seconds: Double { duration.seconds }

    /// `granule=4K ipaBits=40`, sorted by key; empty when there are no parameters.
    public var parameterText: String {
        parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

/// Facts about one run of the harness, printed in every format.
public struct RunInfo: Sendable, Equatable {
    public var startTime: Date
    /// Network name of the machine (JUnit `hostname`).
    public var hostname: String
    /// What the host is, e.g. "Linux 6.16.0 aarch64, KVM_CAP_ARM_EL2=1, IPA 48 bits".
    public var hostDescription: String
    /// The seed for randomized tests; printed so a run can be repeated with `--seed`.
    public var seed: UInt64
    /// Suite name used in JUnit and TAP (default "nvharness").
    public var suiteName: String
    /// Things about the whole run every format states once: tests the selection left out and
    /// why, a host check that could not be done here.
    public var notes: [String] = []
    /// The names of the results that will be recorded, in order (repetitions repeated), when
    /// known before the run: lets KTAP print each test's plan before its first variant.
    public var plannedNames: [String]?

    public init(
        startTime: Date = Date(), hostname: String = HostInfo.hostname(),
        hostDescription: String = HostInfo.describe(), seed: UInt64,
        suiteName: String = "nvharness", notes: [String] = [], plannedNames: [String]? = nil
    ) {
        self.startTime = startTime
        self.hostname = hostname
        self.hostDescription = hostDescription
        self.seed = seed
        self.suiteName = suiteName
        self.notes = notes
        self.plannedNames = plannedNames
    }
}

/// Counts over a run. `failed` includes timeouts; `timedOut` says how many of them there were.
/// `passed` includes XPASSes (the test did pass); `xpassed` says how many of them there were
/// and `xpassNames` which.
public struct Summary: Sendable, Equatable {
    public var passed = 0, failed = 0, skipped = 0, timedOut = 0, xfailed = 0, xpassed = 0
    public var xpassNames: [String] = []
    public var total: Int { passed + failed + skipped + xfailed }
    public var duration: Duration = .zero

    public init(
        passed: Int = 0, failed: Int = 0, skipped: Int = 0, timedOut: Int = 0, xfailed: Int = 0,
        xpassed: Int = 0, duration: Duration = .zero
    ) {
        self.passed = passed
        self.failed = failed
        self.skipped = skipped
        self.timedOut = timedOut
        self.xfailed = xfailed
        self.xpassed = xpassed
        self.duration = duration
    }

    public init(_ results: some Sequence<TestResult>) {
        for r in results {
            switch r.status {
            case .pass: passed += 1
            case .fail: failed += 1
            case .skip: skipped += 1
            case .timeout:
                failed += 1
                timedOut += 1
            case .xfail: xfailed += 1
            case .xpass:
                passed += 1
                xpassed += 1
                xpassNames.append(r.displayName)
            }
            duration += r.duration
        }
    }

    /// The closing line of every run, alone on its line:
    /// `N passed, N failed, N skipped, N xfail`. Timeouts are counted in `failed` and XPASSes
    /// in `passed`; each kind is said on a line of its own before this one.
    public var line: String { "\(passed) passed, \(failed) failed, \(skipped) skipped, \(xfailed) xfail" }

    /// The line printed before `line` when something timed out (nil otherwise).
    public var timeoutLine: String? {
        timedOut == 0 ? nil : "\(timedOut) timed out (counted as failed)"
    }

    /// The loud line printed before `line` when a known failure passed (nil otherwise).
    public var xpassLine: String? {
        xpassed == 0
            ? nil
            : "XPASS: \(xpassed) known failure(s) passed (counted as passed; a failure with --strict); check and retire their records: "
                + xpassNames.joined(separator: ", ")
    }

    /// The lines printed before the summary line, in order (timeouts, then XPASS).
    public var noticeLines: [String] { [timeoutLine, xpassLine].compactMap { $0 } }

    public var exitStatus: Int32 { ExitPolicy.status(self) }
}

extension Duration {
    /// This duration as seconds in a Double.
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

/// Host facts for `RunInfo` defaults.
public enum HostInfo {
    public static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "unknown" }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "unknown" : name
    }

    /// `uname` facts: "Linux 6.1.0-28-amd64 x86_64".
    public static func describe() -> String {
        HostProbe.unameDescription() ?? "unknown host"
    }
}
