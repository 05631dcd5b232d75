/// ISS for an SMC executed in AArch32 state, EC 0x13 (Arm ARM D24.2 ESR_EL2, "ISS encoding for
/// an exception from SMC instruction execution in AArch32 state"): CV [24], COND [23:20],
/// CCKNOWNPASS [19]; [18:0] RES0. There is no immediate.
public struct SMCAArch32ISS: Hashable, Sendable {
    public let iss: UInt32
    /// CV: COND is valid.
    public var cv: Bool { iss & (1 << 24) != 0 }
    /// COND: the condition code of the trapped instruction (meaningful when CV is 1).
    public var cond: UInt8 { UInt8((iss >> 20) & 0xF) }
    /// CCKNOWNPASS: the instruction is known to have passed its condition code check.
    public var ccKnownPass: Bool { iss & (1 << 19) != 0 }
}
