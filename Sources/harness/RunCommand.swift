import ArgumentParser
import KVM
import Reporting
import Runtime
import TestCatalog

#if canImport(Glibc)
import Glibc
#endif

extension OutputFormat: ExpressibleByArgument {}
extension ColorMode: ExpressibleByArgument {}

/// Options of the root command: run catalog tests.
struct RunOptions: ParsableArguments {
    @Flag(name: .long, help: "List the tests, one line per variant with its requirements (honours --test/--filter).")
    var list = false
    @Option(name: .long, help: ArgumentHelp("Run a test: NAME (all its variants) or NAME/VARIANT. Repeatable.", valueName: "name"))
    var test: [String] = []
    @Option(name: .long, help: ArgumentHelp("Run every variant whose full name (test/variant) matches the shell pattern (* ? [a-z] \\). Repeatable.", valueName: "glob"))
    var filter: [String] = []
    @Flag(name: .long, help: "Run every test in the catalog.")
    var all = false
    @Option(name: .long, help: ArgumentHelp("Leave out every selected variant whose full name matches the shell pattern (applied after --test/--filter/--all). Repeatable.", valueName: "glob"))
    var exclude: [String] = []
    @Option(name: .long, help: ArgumentHelp("Run each selected variant N times in a row.", valueName: "n"))
    var `repeat`: Int = 1
    @Option(name: .long, help: ArgumentHelp("Seed for randomized tests (printed by every run; default: a fresh one).", valueName: "n"))
    var seed: UInt64?
    @Option(name: .long, help: ArgumentHelp("Per-test timeout in seconds: the watchdog stops a stuck guest, the test ends TIMEOUT and the run goes on (exit 124).", valueName: "seconds"))
    var timeout: Double = 120
    @Flag(name: .long, help: "Record every mailbox exit, decoded, in each test's log.")
    var verbose = false
    @Option(name: .long, help: ArgumentHelp("Report format: human, tap, junit or json.", valueName: "format"))
    var format: OutputFormat = .human
    @Option(name: .long, help: ArgumentHelp("Write the report (in --format) to FILE, atomically at the end; stdout then gets the human lines.", valueName: "file"))
    var output: String?
    @Option(name: .long, help: ArgumentHelp("Also write a JUnit XML report to FILE (atomically, at the end), whatever --format is.", valueName: "file"))
    var junit: String?
    @Option(name: .long, help: ArgumentHelp("Colour the human lines: auto (a terminal, unless NO_COLOR or TERM=dumb), always or never.", valueName: "when"))
    var color: ColorMode = .auto
    @Flag(name: .long, help: "Create the vCPU with HAS_EL2_E2H0 (non-VHE guest hypervisor).")
    var e2h0 = false
    @Flag(name: .long, help: "With --list: print the catalog as a Markdown table (docs/catalog.md is generated this way).")
    var markdown = false

    func validate() throws {
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be in (0, 86400] seconds, got \(timeout)") }
        guard (1...100_000).contains(`repeat`) else { throw ValidationError("--repeat must be between 1 and 100000, got \(`repeat`)") }
        // The selection and --output are checked in `runCatalog`, not here: ArgumentParser
        // also validates these root options when a subcommand (stage2, doctor, …) runs.
    }

    /// The checks that need the catalog or the file system; usage errors (exit 64) before
    /// anything runs or any file is written.
    func checkRun(from tests: [CatalogTest] = Catalog.tests, everythingByDefault: Bool = false) throws -> [Catalog.Selected] {
        if list && all && !(test.isEmpty && filter.isEmpty) { throw ValidationError(Catalog.SelectionError.allWithOthers.description) }
        if list && output != nil { throw ValidationError("--list prints to stdout; --output only applies to a run") }
        if list && junit != nil { throw ValidationError("--list prints to stdout; --junit only applies to a run") }
        if markdown && !list { throw ValidationError("--markdown only applies to --list") }
        let selected = try selection(forList: list || everythingByDefault, from: tests)
        for path in [output, junit].compactMap({ $0 }) {
            do { try AtomicFile.validate(path: path) } catch { throw ValidationError(String(describing: error)) }
        }
        if let output, let junit, output == junit { throw ValidationError("--output and --junit name the same file '\(junit)'") }
        return selected
    }

    /// The selected variants in run order (for `--list` without a selection: all of them).
    func selection(forList: Bool = false, from tests: [CatalogTest] = Catalog.tests) throws -> [Catalog.Selected] {
        var globs: [(pattern: String, matches: (String) -> Bool)] = []
        for f in filter {
            do {
                let g = try GlobPattern(f)
                globs.append((f, g.matches))
            } catch { throw ValidationError(String(describing: error)) }
        }
        var excludes: [(pattern: String, glob: GlobPattern)] = []
        for e in exclude {
            do { excludes.append((e, try GlobPattern(e))) } catch { throw ValidationError(String(describing: error)) }
        }
        let everything = forList && test.isEmpty && filter.isEmpty
        let chosen: [Catalog.Selected]
        do { chosen = try Catalog.selection(names: test, filters: globs, all: all || everything, from: tests) }
        catch { throw ValidationError(String(describing: error)) }
        for e in excludes where !chosen.contains(where: { e.glob.matches($0.name) }) {
            throw ValidationError("--exclude '\(e.pattern)' matches no selected test (see --list)")
        }
        let kept = chosen.filter { s in !excludes.contains { $0.glob.matches(s.name) } }
        if kept.isEmpty { throw ValidationError("--exclude left nothing to run") }
        return kept
    }
}

/// Runs the selected tests and reports them (`Sources/Reporting`). Exit status: 0 all passed
/// (skips allowed), 1 any failure, 77 everything skipped (the reason in the report), 124 a
/// timeout; 128+n when SIGINT/SIGTERM stopped the run (the report covers what ran, the VM of
/// the interrupted test was torn down).
func runCatalog(_ options: RunOptions, tests: [CatalogTest] = Catalog.tests, everythingByDefault: Bool = false) async throws {
    let selected = try options.checkRun(from: tests, everythingByDefault: everythingByDefault)
    if options.list {
        if options.markdown { say(CatalogTable.markdown(selected), terminator: "") } else { listTests(selected) }
        return
    }

    let seed = options.seed ?? Seeds.fresh()
    let repeats = options.repeat
    let planned = selected.count * repeats
    let hostReason = HostCheck.nestedVirtualizationUnavailable()
    let reporter: Reporter
    do {
        reporter = try Reporter(format: options.format, outputPath: options.output,
                                run: RunInfo(hostDescription: hostDescription(nestedUnavailable: hostReason), seed: seed),
                                planned: planned, color: options.color)
    } catch {
        throw ValidationError(String(describing: error))
    }
    // --junit: a second, silent reporter that only writes the JUnit file.
    let junitReporter: Reporter?
    do {
        junitReporter = try options.junit.map {
            try Reporter(format: .junit, outputPath: $0,
                         run: RunInfo(hostDescription: hostDescription(nestedUnavailable: hostReason), seed: seed),
                         planned: planned, color: .never, stdout: DiscardSink(), stderr: DiscardSink())
        }
    } catch {
        throw ValidationError(String(describing: error))
    }
    let reporters = [reporter] + (junitReporter.map { [$0] } ?? [])
    reporter.begin()

    if let reason = hostReason {
        // Every selected test is reported as skipped with the reason, so TAP/JUnit/JSON
        // consumers see each one; the exit status is 77.
        for s in selected {
            for r in 1...repeats {
                let result = TestResult(name: s.name, outcome: .skipped(reason: reason),
                                        repetition: repeats > 1 ? r : nil)
                for rep in reporters { rep.record(result) }
            }
        }
        throw ExitCode(try finish(reporters))
    }

    // From here a SIGINT/SIGTERM interrupts KVM_RUN (the test ends, its VM is torn down)
    // instead of killing the process, so the run can end with the report of what ran.
    do { try VCPU.installSignalHandlers() } catch {
        throw ValidationError("cannot install the SIGINT/SIGTERM handlers: \(error)")
    }
    var stoppedBy: Int32? = nil
    run: for s in selected {
        for r in 1...repeats {
            if let signal = VCPU.pendingStopSignal { stoppedBy = signal; break run }
            var testRandom = Seeds.generator(runSeed: seed, test: s.name, repetition: repeats > 1 ? r : 0)
            let settings = RunSettings(verbose: options.verbose, timeout: .milliseconds(Int64(options.timeout * 1000)),
                                       e2h0: options.e2h0, seed: testRandom.next())
            let run = s.test.run(s.variant, settings: settings) { _ in }
            let result = TestResult(name: s.name, parameters: parameters(s), outcome: testOutcome(run.outcome),
                                    duration: .nanoseconds(Int64(run.seconds * 1e9)), faults: run.faultLines,
                                    log: run.notes.map { "note: " + $0 } + run.log,
                                    repetition: repeats > 1 ? r : nil)
            for rep in reporters { rep.record(result) }
            if let signal = VCPU.pendingStopSignal { stoppedBy = signal; break run }
        }
    }
    let status = try finish(reporters)
    if let signal = stoppedBy {
        FileDescriptorSink.standardError().write("harness: stopped by \(signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)") after \(reporter.results.count) of \(planned) tests; the report above covers those\n")
        throw ExitCode(128 + signal)
    }
    throw ExitCode(status)
}

/// `Reporter.finish`, with a write error of `--output` as a plain error (exit 1 is wrong there:
/// nothing failed; a usage-style 64 would hide that tests ran, so it is 74, EX_IOERR).
private func finish(_ reporter: Reporter) throws -> Int32 {
    do { return try reporter.finish() } catch {
        FileDescriptorSink.standardError().write("harness: \(error)\n")
        throw ExitCode(74)
    }
}

/// Finishes the extra (`--junit`) reporters first, then the main one, whose status is the run's.
private func finish(_ reporters: [Reporter]) throws -> Int32 {
    for extra in reporters.dropFirst() { _ = try finish(extra) }
    return try finish(reporters[0])
}

/// Output of the silent `--junit` reporter: it only writes its file.
private final class DiscardSink: TextSink {
    func write(_ text: String) {}
    var isTerminal: Bool { false }
}

/// One line per variant: name, one-line description, requirements.
private func listTests(_ selected: [Catalog.Selected]) {
    var lastTest: String? = nil
    for s in selected {
        if s.test.name != lastTest {
            say("\(s.test.name)  \(s.test.summary)")
            lastTest = s.test.name
        }
        let req = s.variant.requirements.isEmpty ? "needs: nothing beyond nested virtualization"
            : "needs: " + s.variant.requirements.map(\.description).joined(separator: ", ")
        say("  \(s.name)  \(s.variant.summary)  [\(req)]")
    }
}

private func parameters(_ s: Catalog.Selected) -> [String: String] {
    s.variant.requirements.isEmpty ? [:] : ["requires": s.variant.requirements.map(\.description).joined(separator: ", ")]
}

private func testOutcome(_ o: Outcome) -> TestOutcome {
    switch o {
    case .pass: .passed
    case .fail(let m): .failed(m)
    case .skip(let r): .skipped(reason: r)
    case .timeout(let m):
        // The formats say "timed out" themselves; the Machine's message starts with it too.
        .timedOut(m.hasPrefix("timed out: ") ? String(m.dropFirst("timed out: ".count)) : m)
    }
}

private func hostDescription(nestedUnavailable reason: String?) -> String {
    HostInfo.describe() + (reason == nil ? ", nested virtualization available" : ", nested tests cannot run here")
}

/// Prints one line and flushes it now (stdout is fully buffered into a pipe or the emulated
/// host's console; a line must not wait for the next one, or for a crash, to appear).
func say(_ line: String, terminator: String = "\n") {
    print(line, terminator: terminator)
    fflush(nil)
}
