/// A label on a test or variant; `--group NAME` selects every variant carrying it (as
/// kvm-unit-tests' `groups =` in unittests.cfg). Names are lower-case words joined by `-`.
public struct TestTag: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// Whether `name` is a well-formed tag name (`[a-z0-9]+(-[a-z0-9]+)*`).
    public static func isValidName(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        return !parts.isEmpty
            && parts.allSatisfy { p in
                !p.isEmpty && p.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
            }
    }

    public var description: String { rawValue }
    public static func < (a: TestTag, b: TestTag) -> Bool { a.rawValue < b.rawValue }

    /// A quick check of the whole stack: one variant per stage-2 granule, ≤ 30 s in the
    /// emulated host.
    public static let smoke: TestTag = "smoke"
    /// Stage-2 aborts delivered to vEL2 with their syndrome checked.
    public static let stage2Faults: TestTag = "stage2-faults"
    /// Demand paging: the host maps on first touch and the guest retries.
    public static let demandPaging: TestTag = "demand-paging"
    /// TLB maintenance (TLBI scope, VMIDs, break-before-make).
    public static let tlbi: TestTag = "tlbi"
    /// More than one vCPU.
    public static let multiVCPU: TestTag = "multi-vcpu"
    /// The nested guest's own stage-1 translation is on.
    public static let stage1: TestTag = "stage1"
    /// Stage-2 tables edited while the nested guest runs.
    public static let liveEdit: TestTag = "live-edit"
    /// Traps and exits other than stage-2 aborts (HVC, SMC, MMIO).
    public static let traps: TestTag = "traps"
    /// A non-VHE guest hypervisor (HAS_EL2_E2H0).
    public static let e2h0: TestTag = "e2h0"
    /// Takes much longer than most (kept out of quick loops by `--group` choices).
    public static let slow: TestTag = "slow"
    /// Known to WARN, crash or wedge some hosts: left out of `--all`, `--group` and `--filter`
    /// unless `--unsafe` is given or the test is named with `--test` (kvm-unit-tests' `nodefault`).
    public static let unsafe: TestTag = "unsafe"
}
