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

/// Streams a run's results in the chosen format and ends it with the summary line and the
/// exit status. Where text goes:
///
/// | `--format` | `--output FILE` | stdout | stderr | FILE |
/// |---|---|---|---|---|
/// | human | – | human lines + summary (colour: `ColorMode`) | – | – |
/// | tap/json/junit | – | that format, nothing else | timeout line + summary line | – |
/// | any | FILE | human lines + summary | – | that format (no colour), written atomically at `finish` |
///
/// So stdout in a machine format stays parseable, and every run still ends with
/// `N passed, N failed, N skipped, N xfail` alone on a line somewhere a person or CI log sees it.
public final class Reporter {
    public let run: RunInfo
    public let format: OutputFormat
    public let outputPath: String?
    public private(set) var results: [TestResult] = []

    private var primary: any ReportFormatter
    private var console: HumanFormatter?
    private let planned: Int?
    private let stdout: any TextSink
    private let stderr: any TextSink
    private var fileText = ""
    private var began = false
    private var finished = false

    /// - Parameters:
    ///   - planned: the number of results that will be recorded, when known (TAP prints the
    ///     plan first then; otherwise last).
    ///   - outputPath: `--output FILE`; checked here (directory exists, not a directory) so a
    ///     bad path fails before any test runs.
    public init(
        format: OutputFormat, outputPath: String? = nil, run: RunInfo, planned: Int? = nil,
        color: ColorMode = .auto,
        stdout: any TextSink = FileDescriptorSink.standardOutput(),
        stderr: any TextSink = FileDescriptorSink.standardError(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ReportingError) {
        if let outputPath { try AtomicFile.validate(path: outputPath) }
        self.run = run
        self.format = format
        self.outputPath = outputPath
        self.planned = planned
        self.stdout = stdout
        self.stderr = stderr
        let colorOn = color.enabled(isTerminal: stdout.isTerminal, environment: environment)
        if outputPath != nil {
            primary = format.formatter(color: false)
            console = HumanFormatter(color: colorOn)
        } else {
            primary = format.formatter(color: colorOn)
            console = nil
        }
    }

    private func emitPrimary(_ text: String) {
        guard !text.isEmpty else { return }
        if outputPath != nil { fileText += text } else { stdout.write(text) }
    }

    /// Prints the header (called by `record` if not called before).
    public func begin() {
        guard !began else { return }
        began = true
        emitPrimary(primary.begin(run, planned: planned))
        if var c = console {
            stdout.write(c.begin(run, planned: planned))
            console = c
        }
    }

    /// Records one finished test and prints it at once in streaming formats.
    public func record(_ result: TestResult) {
        precondition(!finished, "Reporter.record after finish")
        begin()
        results.append(result)
        let n = results.count
        emitPrimary(primary.result(result, number: n))
        if var c = console {
            stdout.write(c.result(result, number: n))
            console = c
        }
    }

    /// Prints the end of the report and the summary line, writes `--output` atomically, and
    /// returns the exit status (`ExitPolicy`). If the file cannot be written the error names
    /// the path and the failing step, no partial file is left, and nothing was renamed. If a
    /// write to stdout failed, the error names stdout and the errno.
    @discardableResult
    public func finish() throws(ReportingError) -> Int32 {
        precondition(!finished, "Reporter.finish called twice")
        begin()
        finished = true
        let summary = Summary(results)
        emitPrimary(primary.end(run, results: results, summary: summary))
        if var c = console {
            stdout.write(c.end(run, results: results, summary: summary))
            console = c
        } else if format != .human {
            var tail = ""
            for n in summary.noticeLines { tail += Escape.terminal(n) + "\n" }
            tail += summary.line + "\n"
            stderr.write(tail)
        }
        if let outputPath {
            try AtomicFile.write(fileText, to: outputPath)
        }
        // The report (or, with --output, its human lines) went to stdout: a failed write there
        // is an error. stderr carries only the summary line beside a machine format; its
        // failure does not lose the report.
        if let e = stdout.writeError { throw .cannotWriteStream(name: "stdout", errno: e) }
        return summary.exitStatus
    }
}
