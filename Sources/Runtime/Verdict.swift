import KVM

/// A test's outcome read against its variant's known-failure records (`KnownFailure`).
public enum Verdict: Sendable, Equatable {
    /// No record applies (or `--strict`): the outcome as it is.
    case plain(Outcome)
    /// Failed exactly as `record` says; `observed` is the failure as seen.
    case knownFailure(observed: String, record: KnownFailure)
    /// Passed although `record` says it fails on this kernel.
    case unexpectedPass(record: KnownFailure)

    /// Reads `outcome` against `records`.
    /// - A record applies when `kernel` is known and in its range.
    /// - A failure matches a record only when its signature is exactly the record's; any
    ///   other failure of a variant with an applicable record is a FAILURE, said so.
    /// - A pass with an applicable record is an XPASS; with `strict` it is a failure.
    /// - `strict` ignores the records for failures: every test must pass.
    public static func of(_ outcome: Outcome, records: [KnownFailure], kernel: KernelVersion?, strict: Bool) -> Verdict {
        let applicable = kernel.map { k in records.filter { $0.kernels.contains(k) } } ?? []
        guard let first = applicable.first else { return .plain(outcome) }
        switch outcome {
        case .pass:
            if strict {
                return .plain(
                    .fail(
                        "XPASS (--strict): passed although a known-failure record says it fails on this kernel: \(first.summary); retire the record"
                    ))
            }
            return .unexpectedPass(record: first)
        case .fail(let m):
            if !strict, let r = applicable.first(where: { $0.signature == .check(m) }) {
                return .knownFailure(observed: m, record: r)
            }
            return .plain(strict ? outcome : .fail(m + "\n" + differs(applicable)))
        case .callFailed(let e):
            if !strict, let r = applicable.first(where: { $0.signature == .ioctl(operation: e.operation, errno: e.errnoName) }) {
                return .knownFailure(observed: e.description, record: r)
            }
            return .plain(strict ? outcome : .fail(e.description + "\n" + differs(applicable)))
        case .skip, .timeout:
            return .plain(outcome)
        }
    }

    private static func differs(_ records: [KnownFailure]) -> String {
        "this is not the known failure recorded for this variant (" + records.map { "\($0.signature)" }.joined(separator: "; ") + ")"
    }
}
