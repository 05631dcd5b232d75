import HostHealth
import Reporting
import Runtime
import TestCatalog

/// The report's outcome for a run: its `Outcome` read against the variant's known-failure
/// records on the running kernel (`Verdict.of`), XFAIL and XPASS included. `health` is the
/// host's kernel log around the test (nil when not checked): a record that names a host WARN
/// (`KnownFailure.hostWarning`) matches only when exactly that WARN came with the failure
/// (its W taint allowed, nothing else); the splat is then part of the known failure. Any other
/// splat is left to the caller, which fails the test with it.
func reportedOutcome(
    _ outcome: Outcome, variant: TestVariant, strict: Bool, health: HealthFindings? = nil,
    kernel: KernelVersion? = KernelVersion.runningRelease().flatMap(KernelVersion.init(release:))
) -> TestOutcome {
    switch Verdict.of(outcome, records: variant.knownFailures, kernel: kernel, strict: strict) {
    case .plain(let o):
        return CatalogRunner.testOutcome(o)
    case let .knownFailure(observed, record):
        guard let health else { return .knownFailure(observed, known: record.summary) }
        guard let fn = record.hostWarning else {
            // A splat the record does not name: a failure (the caller adds the splat to it).
            return health.isUnhealthy ? .failed(observed) : .knownFailure(observed, known: record.summary)
        }
        if isExactly(warningIn: fn, health) {
            return .knownFailure(observed + "; " + (health.failureMessage ?? ""), known: record.summary)
        }
        let host = health.failureMessage.map { "the host: " + $0 } ?? "no host WARN in \(fn)"
        return .failed(observed + "\nthis is not the known failure recorded for this variant (it comes with a host WARN in \(fn)); " + host)
    case .unexpectedPass(let record):
        return .unexpectedPass(known: record.summary)
    }
}

/// One WARN splat whose headline names `fn` (`… at <file>:<line> fn+0x…`), no other splat, no
/// taint but W (bit 9, what a WARN sets), and no other test in the window.
func isExactly(warningIn fn: String, _ h: HealthFindings) -> Bool {
    guard h.splats.count == 1, let s = h.splats.first, s.kind == .warning, !h.sharedWindow else { return false }
    guard s.headline.contains(" \(fn)+") || s.headline.contains(" at \(fn)+") else { return false }
    return h.newTaint.rawValue & ~(1 << 9) == 0
}
