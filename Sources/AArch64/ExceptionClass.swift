/// ESR_ELx.EC, bits [31:26]: the exception class (Arm ARM DDI 0487, D24.2 "ESR_EL2,
/// Exception Syndrome Register (EL2)", field EC). Every value the architecture allocates
/// has a case; unallocated values decode to `nil` and are shown as "unallocated EC 0x..".
public enum ExceptionClass: UInt8, CaseIterable, Sendable {
    case unknown = 0x00
    case trappedWFx = 0x01
    case trappedMCRorMRC_CP15 = 0x03
    case trappedMCRRorMRRC_CP15 = 0x04
    case trappedMCRorMRC_CP14 = 0x05
    case trappedLDCorSTC = 0x06
    case trappedSVEorSIMDorFP = 0x07
    case trappedVMRS = 0x08
    case trappedPointerAuth = 0x09
    case trappedLD64BorST64B = 0x0A
    case trappedMRRC_CP14 = 0x0C
    case branchTarget = 0x0D
    case illegalExecutionState = 0x0E
    case svcAArch32 = 0x11
    case hvcAArch32 = 0x12
    case smcAArch32 = 0x13
    case trappedSysreg128 = 0x14
    case svcAArch64 = 0x15
    case hvcAArch64 = 0x16
    case smcAArch64 = 0x17
    case trappedSysreg = 0x18
    case trappedSVE = 0x19
    case trappedERET = 0x1A
    case tstart = 0x1B
    case pointerAuthFailure = 0x1C
    case trappedSME = 0x1D
    case granuleProtectionCheck = 0x1E
    case implementationDefinedEL3 = 0x1F
    case instructionAbortLowerEL = 0x20
    case instructionAbortSameEL = 0x21
    case pcAlignment = 0x22
    case dataAbortLowerEL = 0x24
    case dataAbortSameEL = 0x25
    case spAlignment = 0x26
    case memoryOperation = 0x27
    case trappedFPAArch32 = 0x28
    case trappedFPAArch64 = 0x2C
    case guardedControlStack = 0x2D
    case sError = 0x2F
    case breakpointLowerEL = 0x30
    case breakpointSameEL = 0x31
    case softwareStepLowerEL = 0x32
    case softwareStepSameEL = 0x33
    case watchpointLowerEL = 0x34
    case watchpointSameEL = 0x35
    case bkptAArch32 = 0x38
    case vectorCatchAArch32 = 0x3A
    case brkAArch64 = 0x3C
    case profiling = 0x3D

    /// Short mnemonic in the style of Linux's `ESR_ELx_EC_*` names.
    public var mnemonic: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .trappedWFx: "WFx"
        case .trappedMCRorMRC_CP15: "CP15_32"
        case .trappedMCRRorMRRC_CP15: "CP15_64"
        case .trappedMCRorMRC_CP14: "CP14_MR"
        case .trappedLDCorSTC: "CP14_LS"
        case .trappedSVEorSIMDorFP: "FP_ASIMD"
        case .trappedVMRS: "CP10_ID"
        case .trappedPointerAuth: "PAC"
        case .trappedLD64BorST64B: "OTHER"
        case .trappedMRRC_CP14: "CP14_64"
        case .branchTarget: "BTI"
        case .illegalExecutionState: "ILL"
        case .svcAArch32: "SVC32"
        case .hvcAArch32: "HVC32"
        case .smcAArch32: "SMC32"
        case .trappedSysreg128: "SYS128"
        case .svcAArch64: "SVC64"
        case .hvcAArch64: "HVC64"
        case .smcAArch64: "SMC64"
        case .trappedSysreg: "SYS64"
        case .trappedSVE: "SVE"
        case .trappedERET: "ERET"
        case .tstart: "TSTART"
        case .pointerAuthFailure: "FPAC"
        case .trappedSME: "SME"
        case .granuleProtectionCheck: "GPC"
        case .implementationDefinedEL3: "IMP_DEF"
        case .instructionAbortLowerEL: "IABT_LOW"
        case .instructionAbortSameEL: "IABT_CUR"
        case .pcAlignment: "PC_ALIGN"
        case .dataAbortLowerEL: "DABT_LOW"
        case .dataAbortSameEL: "DABT_CUR"
        case .spAlignment: "SP_ALIGN"
        case .memoryOperation: "MOPS"
        case .trappedFPAArch32: "FP_EXC32"
        case .trappedFPAArch64: "FP_EXC64"
        case .guardedControlStack: "GCS"
        case .sError: "SERROR"
        case .breakpointLowerEL: "BREAKPT_LOW"
        case .breakpointSameEL: "BREAKPT_CUR"
        case .softwareStepLowerEL: "SOFTSTP_LOW"
        case .softwareStepSameEL: "SOFTSTP_CUR"
        case .watchpointLowerEL: "WATCHPT_LOW"
        case .watchpointSameEL: "WATCHPT_CUR"
        case .bkptAArch32: "BKPT32"
        case .vectorCatchAArch32: "VECTOR32"
        case .brkAArch64: "BRK64"
        case .profiling: "PROFILING"
        }
    }

    /// The Arm ARM's description of the class.
    public var summary: String {
        switch self {
        case .unknown: "unknown reason"
        case .trappedWFx: "trapped WFI/WFE/WFIT/WFET"
        case .trappedMCRorMRC_CP15: "trapped AArch32 MCR/MRC (coproc 0b1111)"
        case .trappedMCRRorMRRC_CP15: "trapped AArch32 MCRR/MRRC (coproc 0b1111)"
        case .trappedMCRorMRC_CP14: "trapped AArch32 MCR/MRC (coproc 0b1110)"
        case .trappedLDCorSTC: "trapped AArch32 LDC/STC"
        case .trappedSVEorSIMDorFP: "access to SME, SVE, Advanced SIMD or floating point trapped"
        case .trappedVMRS: "trapped AArch32 VMRS (ID group)"
        case .trappedPointerAuth: "trapped pointer authentication instruction"
        case .trappedLD64BorST64B: "trapped LD64B/ST64B* or other (FEAT_LS64)"
        case .trappedMRRC_CP14: "trapped AArch32 MRRC (coproc 0b1110)"
        case .branchTarget: "branch target exception (FEAT_BTI)"
        case .illegalExecutionState: "illegal execution state"
        case .svcAArch32: "SVC from AArch32"
        case .hvcAArch32: "HVC from AArch32"
        case .smcAArch32: "SMC from AArch32"
        case .trappedSysreg128: "trapped MSRR/MRRS/SYSP (FEAT_SYSREG128)"
        case .svcAArch64: "SVC from AArch64"
        case .hvcAArch64: "HVC from AArch64"
        case .smcAArch64: "SMC from AArch64"
        case .trappedSysreg: "trapped MSR/MRS/system instruction"
        case .trappedSVE: "SVE access trapped"
        case .trappedERET: "trapped ERET/ERETAA/ERETAB (FEAT_NV)"
        case .tstart: "TSTART exception (FEAT_TME)"
        case .pointerAuthFailure: "pointer authentication failure (FEAT_FPAC)"
        case .trappedSME: "SME access trapped"
        case .granuleProtectionCheck: "granule protection check (FEAT_RME)"
        case .implementationDefinedEL3: "implementation defined exception to EL3"
        case .instructionAbortLowerEL: "instruction abort from a lower exception level"
        case .instructionAbortSameEL: "instruction abort taken without a change in exception level"
        case .pcAlignment: "PC alignment fault"
        case .dataAbortLowerEL: "data abort from a lower exception level"
        case .dataAbortSameEL: "data abort taken without a change in exception level"
        case .spAlignment: "SP alignment fault"
        case .memoryOperation: "memory operation exception (FEAT_MOPS)"
        case .trappedFPAArch32: "trapped AArch32 floating-point exception"
        case .trappedFPAArch64: "trapped AArch64 floating-point exception"
        case .guardedControlStack: "guarded control stack exception (FEAT_GCS)"
        case .sError: "SError exception"
        case .breakpointLowerEL: "breakpoint from a lower exception level"
        case .breakpointSameEL: "breakpoint without a change in exception level"
        case .softwareStepLowerEL: "software step from a lower exception level"
        case .softwareStepSameEL: "software step without a change in exception level"
        case .watchpointLowerEL: "watchpoint from a lower exception level"
        case .watchpointSameEL: "watchpoint without a change in exception level"
        case .bkptAArch32: "BKPT from AArch32"
        case .vectorCatchAArch32: "vector catch from AArch32"
        case .brkAArch64: "BRK from AArch64"
        case .profiling: "profiling exception (FEAT_SPE_EXC/FEAT_TRBE_EXC)"
        }
    }

    public var isDataAbort: Bool { self == .dataAbortLowerEL || self == .dataAbortSameEL }
    public var isInstructionAbort: Bool { self == .instructionAbortLowerEL || self == .instructionAbortSameEL }
    public var isAbort: Bool { isDataAbort || isInstructionAbort }
    /// ISS[15:0] holds the instruction's immediate: SVC and HVC from either state, SMC from
    /// AArch64 ("ISS encoding for an exception from HVC or SVC / SMC instruction execution"),
    /// and the comment of BRK and BKPT ("... from a Breakpoint instruction"). SMC from AArch32
    /// is not among them: its ISS is CV [24], COND [23:20], CCKNOWNPASS [19].
    public var hasImmediate: Bool {
        switch self {
        case .svcAArch64, .hvcAArch64, .smcAArch64, .brkAArch64, .svcAArch32, .hvcAArch32, .bkptAArch32: true
        default: false
        }
    }
}
