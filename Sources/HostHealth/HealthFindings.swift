/// What the host's kernel did while one test ran.
public struct HealthFindings: Sendable, Equatable {
    /// New WARN/BUG/Oops/lockdep/KASAN/... splats logged during the test.
    public var splats: [Splat] = []
    /// Taint bits that were set during the test.
    public var newTaint = TaintFlags(rawValue: 0)
    /// Every kernel-log line logged during the test (without the harness's markers).
    public var kernelLog: [String] = []
    /// Set when other tests ran at the same time (`--jobs`): a splat may be theirs.
    public var sharedWindow = false

    public init(splats: [Splat] = [], newTaint: TaintFlags = TaintFlags(rawValue: 0), kernelLog: [String] = [], sharedWindow: Bool = false)
    {
        self.splats = splats
        self.newTaint = newTaint
        self.kernelLog = kernelLog
        self.sharedWindow = sharedWindow
    }

    /// Whether the test must fail because of the host.
    public var isUnhealthy: Bool { !splats.isEmpty || newTaint.rawValue != 0 }

    /// One line for the report, e.g. "host kernel splat: WARNING: CPU: 0 PID: 93 at
    /// arch/arm64/kvm/nested.c:1123 kvm_walk_nested_s2+0x1b4/0x2b0; new taint: W (bit 9: ...)".
    public var failureMessage: String? {
        guard isUnhealthy else { return nil }
        var parts: [String] = []
        if let first = splats.first {
            parts.append(
                "host kernel \(first.kind.rawValue): \(first.headline)"
                    + (splats.count > 1 ? " (and \(splats.count - 1) more splat\(splats.count == 2 ? "" : "s"))" : ""))
        }
        if newTaint.rawValue != 0 { parts.append("new taint: " + newTaint.descriptions.joined(separator: ", ")) }
        if sharedWindow { parts.append("other tests ran at the same time (--jobs)") }
        return parts.joined(separator: "; ")
    }

    /// The splats' lines for the test's log, each splat introduced by its kind.
    public var logLines: [String] {
        splats.flatMap { s in ["host kernel \(s.kind.rawValue) splat:"] + s.lines.map { "  " + $0 } }
    }
}
