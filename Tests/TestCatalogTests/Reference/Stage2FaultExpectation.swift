import AArch64
import GuestProtocol
import Runtime
import Stage2

/// One stage-2 fault the reference models expect, in order. Unlike `ExpectedFault` the faulting VA
/// (FAR) and IPA (HPFAR) may differ (the nested stage 1 is on), and the fault may come from
/// the stage-1 table walk (S1PTW = 1: HPFAR names the page holding the stage-1 descriptor).
public struct Stage2FaultExpectation: Sendable, Equatable, CustomStringConvertible {
    public var opIndex: Int
    /// FAR_EL2: the VA the instruction accessed (= the IPA with the nested stage 1 off).
    public var far: UInt64
    /// The IPA stage 2 could not translate. S1PTW: the stage-1 descriptor's IPA (HPFAR gives
    /// its page, bits [47:12]); otherwise the data IPA (HPFAR page + FAR[11:0]).
    public var ipa: UInt64
    public var s1ptw: Bool
    public var kind: FaultStatus.Kind
    /// The stage-2 lookup level the fault is reported at (DFSC/IFSC[1:0]).
    public var level: Int
    /// The instruction's access. For S1PTW faults the syndrome describes the walk, not the
    /// instruction, so only EC (data abort for a load/store) is taken from it.
    public var access: ExpectedAccess

    public init(opIndex: Int, far: UInt64, ipa: UInt64, s1ptw: Bool, kind: FaultStatus.Kind, level: Int, access: ExpectedAccess) {
        self.opIndex = opIndex
        self.far = far
        self.ipa = ipa
        self.s1ptw = s1ptw
        self.kind = kind
        self.level = level
        self.access = access
    }

    /// The page of guest-physical (IPA) space the host must fix.
    public var ipaPage: UInt64 { ipa & ~0xFFF }

    public var description: String {
        "op \(opIndex): stage-2 \(kind) fault L\(level)\(s1ptw ? " on the stage-1 walk (descriptor IPA 0x\(String(ipa, radix: 16)))" : " at IPA 0x\(String(ipa, radix: 16))"), \(access), VA 0x\(String(far, radix: 16))"
    }
}
