/// How long one variant may run on a native arm64 host before the watchdog stops it (the
/// test then ends TIMEOUT). `--timeout S` replaces every budget; `--timeout-multiplier F` (or
/// `NVH_TIMEOUT_MULTIPLIER`, which the emulated host sets) scales them.
public struct TimeBudget: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var seconds: Double

    public init(seconds: Double) {
        precondition(seconds > 0, "a time budget must be positive")
        self.seconds = seconds
    }

    /// Most variants: a VM, a few dozen exits.
    public static let standard = TimeBudget(seconds: 30)
    /// Variants with many exits, several VMs or vCPUs, or large tables.
    public static let long = TimeBudget(seconds: 90)

    public var description: String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
