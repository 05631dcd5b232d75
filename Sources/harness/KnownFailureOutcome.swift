import Reporting
import Runtime
import TestCatalog

/// The report's outcome for a run: its `Outcome` read against the variant's known-failure
/// records on the running kernel (`Verdict.of`), XFAIL and XPASS included.
func reportedOutcome(_ outcome: Outcome, variant: TestVariant, strict: Bool,
                     kernel: KernelVersion? = KernelVersion.runningRelease().flatMap(KernelVersion.init(release:))) -> TestOutcome {
    switch Verdict.of(outcome, records: variant.knownFailures, kernel: kernel, strict: strict) {
    case .plain(let o): CatalogRunner.testOutcome(o)
    case let .knownFailure(observed, record): .knownFailure(observed, known: record.summary)
    case .unexpectedPass(let record): .unexpectedPass(known: record.summary)
    }
}
