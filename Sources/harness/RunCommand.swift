import ArgumentParser
import KVM
import TestCatalog

#if canImport(Glibc)
import Glibc
#endif

/// Options of the root command: run catalog tests.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Run a test: NAME (all its variants) or NAME/VARIANT. Repeatable.", valueName: "name"))
    var test: [String] = []
    @Flag(name: .long, help: "List the tests and their variants, one line each.")
    var list = false
    @Flag(name: .long, help: "Show every mailbox exit, decoded.")
    var verbose = false
    @Option(name: .long, help: ArgumentHelp("Per-variant timeout in seconds (the watchdog stops a stuck guest; exit 124).", valueName: "seconds"))
    var timeout: Double = 120
    @Flag(name: .long, help: "Create the vCPU with HAS_EL2_E2H0 (non-VHE guest hypervisor).")
    var e2h0 = false

    func validate() throws {
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be in (0, 86400] seconds, got \(timeout)") }
        for t in test where Catalog.select(t) == nil {
            throw ValidationError("unknown test '\(t)'; known: " + Catalog.tests.flatMap { t in [t.name] + t.variants.map { "\(t.name)/\($0.name)" } }.joined(separator: ", "))
        }
    }
}

/// Runs the selected tests. Exit status: 0 all passed (skips allowed), 1 any failure,
/// 77 everything skipped (with the reason), 124 a timeout.
func runCatalog(_ options: RunOptions) async throws {
    if options.list {
        for t in Catalog.tests {
            say("\(t.name)  \(t.summary)")
            for v in t.variants {
                let req = v.requirements.isEmpty ? "" : " [needs: " + v.requirements.map(\.description).joined(separator: ", ") + "]"
                say("  \(t.name)/\(v.name)  \(v.summary)\(req)")
            }
        }
        return
    }
    guard !options.test.isEmpty else {
        throw ValidationError("nothing to run: give --test NAME (see --list)")
    }
    let selected = options.test.compactMap(Catalog.select)

    if let reason = HostCheck.nestedVirtualizationUnavailable() {
        for (t, variants) in selected { for v in variants { say("SKIP \(t.name)/\(v.name): \(reason)") } }
        throw ExitCode(77)
    }

    let settings = RunSettings(verbose: options.verbose, timeout: .milliseconds(Int64(options.timeout * 1000)), e2h0: options.e2h0)
    var runs: [TestRun] = []
    for (test, variants) in selected {
        for v in variants {
            say("RUN  \(test.name)/\(v.name): \(v.summary)")
            let run = test.run(v, settings: settings) { say($0) }
            for n in run.notes { say("     \(n)") }
            let time = String(Int(run.seconds * 1000)) + " ms"
            switch run.outcome {
            case .pass: say("PASS \(run.name) (\(run.faults) stage-2 faults, \(time))")
            case .skip(let why): say("SKIP \(run.name): \(why)")
            case .fail(let why): say("FAIL \(run.name) (\(time)):\n" + indent(why))
            case .timeout(let why): say("TIMEOUT \(run.name) (\(time)):\n" + indent(why))
            }
            runs.append(run)
            if let signal = VCPU.pendingStopSignal {
                say("stopped by signal \(signal); VM torn down")
                throw ExitCode(128 + signal)
            }
        }
    }
    let passed = runs.filter { $0.outcome == .pass }.count
    let skipped = runs.filter { if case .skip = $0.outcome { true } else { false } }.count
    let timedOut = runs.filter { if case .timeout = $0.outcome { true } else { false } }.count
    let failed = runs.count - passed - skipped - timedOut
    say("\(passed) passed, \(failed + timedOut) failed, \(skipped) skipped")
    if timedOut > 0 { throw ExitCode(124) }
    if failed > 0 { throw ExitCode(1) }
    if skipped == runs.count { throw ExitCode(77) }
}

private func indent(_ s: String) -> String {
    s.split(separator: "\n", omittingEmptySubsequences: false).map { "     " + $0 }.joined(separator: "\n")
}

/// Prints one line and flushes it now (stdout is fully buffered into a pipe or the emulated
/// host's console; a line must not wait for the next one, or for a crash, to appear).
func say(_ line: String) {
    print(line)
    fflush(nil)
}
