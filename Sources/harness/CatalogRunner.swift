import HostHealth
import KVM
import Machine
import Reporting
import Runtime
import TestCatalog

/// Runs jobs one at a time, or `jobs` at once on their own threads, each in its own VM, and
/// hands the outcomes over in job order whatever finishes first. Around each job the host's
/// health is checked (`HostHealthMonitor`): a new splat or taint bit fails the job.
struct CatalogRunner: Sendable {
    var jobs: Int
    var verbose: Bool
    /// `--log-dir`: run verbose (every exit decoded for the log) and keep the full log.
    var keepFullLog: Bool
    var e2h0: Bool
    var garbageMailboxSeed: UInt32? = nil
    /// `--strict`: known-failure records are ignored.
    var strict: Bool
    var health: HostHealthMonitor?

    /// Runs `work` in order through `deliver` (called on the caller's thread, in job order).
    /// Stops taking new jobs once SIGINT/SIGTERM arrived; returns that signal.
    func run(_ work: [VariantJob], deliver: (VariantJob, VariantOutcome) -> Void) -> Int32? {
        if jobs <= 1 || work.count <= 1 {
            for job in work {
                if let signal = VCPU.pendingStopSignal { return signal }
                deliver(job, runOne(job))
            }
            return VCPU.pendingStopSignal
        }
        let pool = JobPool(count: work.count)
        var started = 0
        for _ in 0..<min(jobs, work.count) {
            let ok = WorkerThread.start { [self] in
                while let i = pool.take() {
                    pool.put(i, runOne(work[i]))
                }
                pool.workerDone()
            }
            if ok {
                started += 1
                pool.workerStarted()
            }
        }
        if started == 0 {
            // No thread could be created: run them here, one at a time.
            for job in work {
                if let signal = VCPU.pendingStopSignal { return signal }
                deliver(job, runOne(job))
            }
            return VCPU.pendingStopSignal
        }
        for i in 0..<work.count {
            guard let outcome = pool.wait(for: i) else { break }
            deliver(work[i], outcome)
        }
        pool.waitForWorkers()
        return VCPU.pendingStopSignal
    }

    /// One job: markers and health around the test, the result with the host's verdict.
    func runOne(_ job: VariantJob) -> VariantOutcome {
        let s = job.selected
        var settings = RunSettings(
            verbose: verbose || keepFullLog, timeout: .milliseconds(Int64(job.timeoutSeconds * 1000)),
            e2h0: e2h0, seed: job.seed)
        settings.garbageMailboxSeed = garbageMailboxSeed
        let window = health?.begin(job.name + (job.repetition.map { " [\($0)]" } ?? ""))
        let run = s.test.run(s.variant, settings: settings) { _ in }
        let findings = window.map { health!.end($0, result: run.outcome.label) }
        var outcome = reportedOutcome(run.outcome, variant: s.variant, strict: strict, health: findings)
        var log = run.notes.map { "note: " + $0 }
        // The report keeps the decoded exits when asked (--verbose) or when the test did not pass.
        if verbose || !keepFullLog || outcome.status == .fail || outcome.status == .timeout { log += run.log }
        if outcome.status == .xfail, let findings, findings.isUnhealthy {
            log += findings.logLines  // the WARN the known failure comes with (see reportedOutcome)
        } else if let findings, let message = findings.failureMessage {
            let own: String
            switch outcome {
            case .failed(let m), .timedOut(let m): own = "; the test itself: " + m
            case .skipped(let r): own = "; the test itself skipped: " + r
            case .knownFailure(let m, let known): own = "; the test itself: " + m + " (a known failure: " + known + ")"
            case .unexpectedPass(let known): own = "; the test itself passed (a known failure expected: " + known + ")"
            case .passed: own = ""
            }
            outcome = .failed(message + own)
            log += findings.logLines
        }
        var parameters: [String: String] = [:]
        if !s.variant.requirements.isEmpty {
            parameters["requires"] = s.variant.requirements.map(\.description).joined(separator: ", ")
        }
        let result = TestResult(
            name: s.name, parameters: parameters, outcome: outcome,
            duration: .nanoseconds(Int64(run.seconds * 1e9)), faults: run.faultLines,
            log: log, repetition: job.repetition)
        return VariantOutcome(result: result, fullLog: run.log, health: findings)
    }

    static func testOutcome(_ o: Outcome) -> TestOutcome {
        switch o {
        case .pass: .passed
        case .fail(let m): .failed(m)
        case .callFailed(let e): .failed(e.description)
        case .skip(let r): .skipped(reason: r)
        case .timeout(let m):
            // The formats say "timed out" themselves; the Machine's message starts with it too.
            .timedOut(m.hasPrefix("timed out: ") ? String(m.dropFirst("timed out: ".count)) : m)
        }
    }
}
