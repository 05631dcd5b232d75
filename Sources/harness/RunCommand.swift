import ArgumentParser
import HostHealth
import KVM
import Reporting
import Runtime
import TestCatalog

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

extension OutputFormat: ExpressibleByArgument {}
extension ColorMode: ExpressibleByArgument {}

/// Options of the root command: run catalog tests.
struct RunOptions: ParsableArguments {
    @Flag(
        name: .long,
        help:
            "List the tests, one line per variant with its tags, budget and requirements (honours --test/--filter/--group; --format json for one JSON array)."
    )
    var list = false
    @Flag(name: .long, help: "With --list: print only the full names (test/variant), one per line.")
    var names = false
    @Option(name: .long, help: ArgumentHelp("Run a test: NAME (all its variants) or NAME/VARIANT. Repeatable.", valueName: "name"))
    var test: [String] = []
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Run every variant whose full name (test/variant) matches the shell pattern (* ? [a-z] \\). Repeatable.", valueName: "glob"))
    var filter: [String] = []
    @Flag(name: .long, help: "Run every test in the catalog (except those tagged unsafe: see --unsafe).")
    var all = false
    @Option(
        name: .long,
        help: ArgumentHelp("Run every variant tagged TAG (smoke, stage2-faults, tlbi, ...: see --list). Repeatable.", valueName: "tag"))
    var group: [String] = []
    @Flag(
        name: .long,
        help:
            "Also run the variants tagged unsafe (known to WARN, crash or wedge some hosts) that --all/--group/--filter reach; --test NAME runs them anyway."
    )
    var unsafe = false
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Leave out every selected variant whose full name matches the shell pattern (applied after --test/--filter/--all). Repeatable.",
            valueName: "glob"))
    var exclude: [String] = []
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Run each selected variant N times in a row.", valueName: "n"))
    var `repeat`: Int = 1
    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp("Seed for randomized tests (printed by every run; default: a fresh one).", valueName: "n"))
    var seed: UInt64?
    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Timeout in seconds for every test, replacing each variant's own budget (see --list): the watchdog stops a stuck guest, the test ends TIMEOUT and the run goes on (exit 124).",
            valueName: "seconds"))
    var timeout: Double?
    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Scale every variant's budget by F (default: $NVH_TIMEOUT_MULTIPLIER, which the emulated host sets, else 1).", valueName: "f"))
    var timeoutMultiplier: Double?
    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp("Run N variants at once, each in its own VM (results still reported in catalog order).", valueName: "n"))
    var jobs: Int = 1
    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Run only shard K of N of the selection: every Nth variant from the Kth, in catalog order (each host of a sharded run takes one; `harness merge` recombines their JSON reports).",
            valueName: "k/n"))
    var shard: String?
    @Flag(
        name: .long,
        help: "Exit as `git bisect run` expects: 0 all selected passed, 1 a failure (a host splat included), 125 could not test.")
    var bisect = false
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write one log per variant (every exit decoded, the kernel-log lines of that test) and a SUMMARY file into DIR.",
            valueName: "dir"))
    var logDir: String?
    @Flag(name: .long, help: "Record every mailbox exit, decoded, in each test's log.")
    var verbose = false
    @Option(name: .long, help: ArgumentHelp("Report format: human, tap, ktap, junit or json.", valueName: "format"))
    var format: OutputFormat = .human
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write the report (in --format) to FILE, atomically at the end; stdout then gets the human lines.", valueName: "file"))
    var output: String?
    @Option(
        name: .long,
        help: ArgumentHelp("Also write a JUnit XML report to FILE (atomically, at the end), whatever --format is.", valueName: "file"))
    var junit: String?
    @Option(
        name: .long,
        help: ArgumentHelp("Colour the human lines: auto (a terminal, unless NO_COLOR or TERM=dumb), always or never.", valueName: "when"))
    var color: ColorMode = .auto
    @Flag(name: .long, help: "Create the vCPU with HAS_EL2_E2H0 (non-VHE guest hypervisor).")
    var e2h0 = false
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Self-test of the host side: the payload writes pseudo-random words (xorshift32 from SEED) over its message page instead of HELLO and halts; every scenario test must FAIL naming the bad field and tear its VM down (exit 1).",
            valueName: "seed"))
    var garbageMailbox: UInt32?
    @Flag(name: .long, help: "Ignore the known-failure records: every test must pass (a known failure is a FAIL, an XPASS too).")
    var strict = false
    @Flag(name: .long, help: "With --list: print the catalog as a Markdown table (docs/catalog.md is generated this way).")
    var markdown = false

    func validate() throws {
        if let timeout, !(timeout >= 0.001 && timeout <= 86_400) {
            throw ValidationError("--timeout must be between 0.001 (1 ms) and 86400 seconds, got \(timeout)")
        }
        if let f = timeoutMultiplier, !(f > 0 && f <= 1000) { throw ValidationError("--timeout-multiplier must be in (0, 1000], got \(f)") }
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be between 1 and 64, got \(jobs)") }
        guard (1...100_000).contains(`repeat`) else { throw ValidationError("--repeat must be between 1 and 100000, got \(`repeat`)") }
        _ = try shardNumbers()
        // The selection and --output are checked in `runCatalog`, not here: ArgumentParser
        // also validates these root options when a subcommand (stage2, doctor, …) runs.
    }

    /// The checks that need the catalog or the file system; usage errors (exit 64) before
    /// anything runs or any file is written.
    func checkRun(from tests: [CatalogTest] = Catalog.tests, everythingByDefault: Bool = false) throws -> CatalogSelection {
        if list && all && !(test.isEmpty && filter.isEmpty && group.isEmpty) {
            throw ValidationError(Catalog.SelectionError.allWithOthers.description)
        }
        if list && output != nil { throw ValidationError("--list prints to stdout; --output only applies to a run") }
        if list && junit != nil { throw ValidationError("--list prints to stdout; --junit only applies to a run") }
        if list && logDir != nil { throw ValidationError("--list prints to stdout; --log-dir only applies to a run") }
        if names && !list { throw ValidationError("--names only applies to --list") }
        if list && names && format != .human { throw ValidationError("--list: give --names or --format json, not both") }
        if list && format != .human && format != .json {
            throw ValidationError("--list prints text, names (--names) or JSON (--format json)")
        }
        if markdown && (!list || names || format != .human) {
            throw ValidationError("--markdown only applies to --list (instead of --names or --format)")
        }
        let selected = try catalogSelection(forList: list || everythingByDefault, from: tests)
        for (option, path) in [("--output", output), ("--junit", junit)] {
            guard let path else { continue }
            do { try AtomicFile.validate(path: path) } catch { throw ValidationError("\(option): \(error)") }
        }
        if let output, let junit, output == junit { throw ValidationError("--output and --junit name the same file '\(junit)'") }
        return selected
    }
}

/// Runs the selected tests and reports them (`Sources/Reporting`). Exit status: 0 all passed
/// (skips allowed), 1 any failure, 77 everything skipped (the reason in the report), 124 a
/// timeout; 128+n when SIGINT/SIGTERM stopped the run (the report covers what ran, the VM of
/// the interrupted test was torn down).
func runCatalogTests(_ options: RunOptions, tests: [CatalogTest] = Catalog.tests, everythingByDefault: Bool = false) async throws {
    if !options.list { try RunSignals.install() }
    let selection = try options.checkRun(from: tests, everythingByDefault: everythingByDefault)
    let selected = try options.shardOf(selection.selected)
    if options.list {
        if options.markdown {
            print(CatalogTable.markdown(selected), terminator: "")
            fflush(nil)
        } else {
            try listTests(selected, options)
        }
        return
    }
    let policy: TimeoutPolicy
    do {
        policy = TimeoutPolicy(
            override: options.timeout,
            multiplier: try TimeoutPolicy.multiplier(
                option: options.timeoutMultiplier, environment: ProcessInfo.processInfo.environment))
    } catch { throw ValidationError(error.description) }

    let wallStart = ContinuousClock.now
    let seed = options.seed ?? Seeds.fresh()
    let repeats = options.repeat
    let planned = selected.count * repeats
    let hostReason = HostCheck.nestedVirtualizationUnavailable()
    // The host's health around each test (only where tests run); not possible here → said once.
    let health = hostReason == nil ? HostHealthMonitor() : nil
    var notes = selection.leftOutLine.map { [$0] } ?? []
    if let reason = health?.unavailableReason {
        notes.append("host health check not done: \(reason)")
    } else if let problem = health?.markerProblem {
        notes.append("kernel-log marker lines not written: \(problem)")
    }
    let reporter: Reporter
    do {
        reporter = try Reporter(
            format: options.format, outputPath: options.output,
            run: RunInfo(
                hostDescription: hostDescription(nestedUnavailable: hostReason), seed: seed, notes: notes,
                plannedNames: selected.flatMap { Array(repeating: $0.name, count: repeats) }),
            planned: planned, color: options.color)
    } catch {
        throw ValidationError(String(describing: error))
    }
    // --junit: a second, silent reporter that only writes the JUnit file.
    let junitReporter: Reporter?
    do {
        junitReporter = try options.junit.map {
            try Reporter(
                format: .junit, outputPath: $0,
                run: RunInfo(hostDescription: hostDescription(nestedUnavailable: hostReason), seed: seed, notes: notes),
                planned: planned, color: .never, stdout: DiscardSink(), stderr: DiscardSink())
        }
    } catch {
        throw ValidationError(String(describing: error))
    }
    let reporters = [reporter] + (junitReporter.map { [$0] } ?? [])
    let logDir = try options.logDir.map { try LogDirectory(path: $0) }
    logDir?.beginSummary(
        RunFacts.summary(seed: seed, healthNote: hostReason ?? health?.unavailableReason, e2h0: options.e2h0)
            + notes.map { "note: " + $0 })
    reporter.begin()

    if let reason = hostReason {
        // Every selected test is reported as skipped with the reason, so TAP/JUnit/JSON
        // consumers see each one; the exit status is 77.
        skipping: for s in selected {
            for r in 1...repeats {
                if RunSignals.pending != nil { break skipping }
                let result = TestResult(
                    name: s.name, outcome: .skipped(reason: reason),
                    repetition: repeats > 1 ? r : nil)
                for rep in reporters { rep.record(result) }
                logDir?.write(VariantOutcome(result: result, fullLog: [], health: nil), budget: policy.describe(s.budget))
            }
        }
        let status = try finish(reporters)
        logDir?.finishSummary(results: reporter.results, exitStatus: RunSignals.pending.map { 128 + $0 } ?? status, extra: [])
        if let signal = RunSignals.pending { throw RunSignals.exit(signal, ran: reporter.results.count, planned: planned) }
        throw ExitCode(status)
    }

    var jobs: [VariantJob] = []
    for s in selected {
        for r in 1...repeats {
            var testRandom = Seeds.generator(runSeed: seed, test: s.name, repetition: repeats > 1 ? r : 0)
            jobs.append(
                VariantJob(
                    selected: s, repetition: repeats > 1 ? r : nil, seed: testRandom.next(),
                    timeoutSeconds: policy.seconds(for: s.budget)))
        }
    }
    let runner = CatalogRunner(
        jobs: options.jobs, verbose: options.verbose, keepFullLog: logDir != nil,
        e2h0: options.e2h0, garbageMailboxSeed: options.garbageMailbox, strict: options.strict,
        health: health?.unavailableReason == nil ? health : nil)
    let stoppedBy = runner.run(jobs) { job, outcome in
        for rep in reporters { rep.record(outcome.result) }
        logDir?.write(outcome, budget: policy.describe(job.selected.budget))
    }
    let status = try finish(reporters)
    logDir?.finishSummary(
        results: reporter.results, exitStatus: stoppedBy.map { 128 + $0 } ?? status,
        extra: ["wall time: \(formatSeconds((ContinuousClock.now - wallStart).seconds, decimals: 1)) s with --jobs \(options.jobs)"])
    if let signal = stoppedBy ?? RunSignals.pending { throw RunSignals.exit(signal, ran: reporter.results.count, planned: planned) }
    throw ExitCode(status)
}

/// `Reporter.finish` for every reporter (the `--junit` one first, then the main one, whose
/// status is the run's). A write error of `--output`, `--junit` or stdout is named on stderr and
/// the exit status is 74, EX_IOERR (1 is wrong there: nothing failed; a usage-style 64 would
/// hide that tests ran) — unless a signal stopped the run: its 128+n is what the caller throws.
private func finish(_ reporters: [Reporter]) throws -> Int32 {
    var failed = false
    var status: Int32 = 0
    for (i, reporter) in reporters.enumerated().reversed() {
        do {
            let s = try reporter.finish()
            if i == 0 { status = s }
        } catch {
            FileDescriptorSink.standardError().write("harness: \(error)\n")
            failed = true
        }
    }
    if failed && RunSignals.pending == nil { throw ExitCode(ResultOutput.ioErrorStatus) }
    return status
}

/// Output of the silent `--junit` reporter: it only writes its file.
private final class DiscardSink: TextSink {
    func write(_ text: String) {}
    var isTerminal: Bool { false }
    var writeError: Int32? { nil }
}

/// `--list` (text, `--names` or `--format json`: see `TestListing`).
private func listTests(_ selected: [Catalog.Selected], _ options: RunOptions) throws {
    let text =
        options.names
        ? TestListing.names(selected)
        : options.format == .json ? try TestListing.json(selected) : TestListing.text(selected)
    print(text, terminator: "")
    fflush(nil)
}

private func hostDescription(nestedUnavailable reason: String?) -> String {
    HostInfo.describe() + (reason == nil ? ", nested virtualization available" : ", nested tests cannot run here")
}

/// Prints one line and flushes it now (stdout is fully buffered into a pipe or the emulated
/// host's console; a line must not wait for the next one, or for a crash, to appear).
func say(_ line: String) {
    print(line)
    fflush(nil)
}
