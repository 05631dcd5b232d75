import AArch64
import GuestProtocol
import Machine
import Stage2

/// One stage-2 fault the nested guest must raise, in order.
public struct ExpectedFault: Sendable, Equatable, CustomStringConvertible {
    public var opIndex: Int
    /// The exact faulting address (FAR, and HPFAR's page + FAR[11:0]).
    public var address: UInt64
    public var access: ExpectedAccess
    public var kind: FaultStatus.Kind
    public var level: Int
    /// Whether HPFAR_EL2 must name the faulting IPA. Arm ARM D24.2 HPFAR_EL2: it holds the
    /// IPA for stage-2 Translation, Access flag and Address size faults and for faults on a
    /// stage-1 walk; for other aborts (a stage-2 Permission fault) it is UNKNOWN, so it is
    /// logged, not checked.
    public var hpfarValid: Bool = true
    /// Compare with the builder's software walk of the tables (off when the fault comes from
    /// registers the reply changed, e.g. a corrupted VTTBR_EL2, which the builder's walk
    /// does not see).
    public var checkSoftwareWalk: Bool = true
    public var description: String {
        "op \(opIndex): \(kind) fault L\(level), \(access) at 0x\(String(address, radix: 16))"
    }
    public init(
        opIndex: Int, address: UInt64, access: ExpectedAccess, kind: FaultStatus.Kind, level: Int,
        hpfarValid: Bool? = nil
    ) {
        self.opIndex = opIndex
        self.address = address
        self.access = access
        self.kind = kind
        self.level = level
        self.hpfarValid = hpfarValid ?? (kind != .permission)
    }
}
