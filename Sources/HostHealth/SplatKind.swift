/// What kind of kernel complaint a splat is.
public enum SplatKind: String, Sendable, Equatable, CaseIterable {
    /// WARN()/WARN_ON(): "WARNING: CPU: n PID: n at file:line function".
    case warning
    /// BUG()/BUG_ON() ("kernel BUG at") and the "BUG: ..." reports (sleeping in atomic
    /// context, soft lockup, bad page state, ...), except KASAN/KFENCE's.
    case bug
    /// A kernel fault the kernel survived or not: arm64 "Internal error: Oops", "Unable to
    /// handle kernel ...".
    case oops
    /// lockdep: "WARNING: possible circular locking dependency detected" and its siblings.
    case lockdep
    /// KASAN ("BUG: KASAN: ...") and KFENCE ("BUG: KFENCE: ...") memory-error reports.
    case kasan
    /// "UBSAN: ..." undefined-behaviour reports.
    case ubsan
    /// "Kernel panic - not syncing".
    case panic
    /// "INFO: task ... blocked for more than N seconds" and RCU stall reports.
    case stall
}
