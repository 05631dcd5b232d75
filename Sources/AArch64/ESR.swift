/// ESR_ELx, the Exception Syndrome Register (Arm ARM DDI 0487, D24.2 ESR_EL2).
/// Layout: ISS2 [55:32], EC [31:26], IL [25], ISS [24:0]; bits [63:56] RES0.
public struct ESR: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ raw: UInt64) { rawValue = raw }

    public var ecBits: UInt8 { UInt8((rawValue >> 26) & 0x3F) }
    /// `nil` for an EC value the architecture does not allocate.
    public var exceptionClass: ExceptionClass? { ExceptionClass(rawValue: ecBits) }
    /// IL: 1 = 32-bit instruction trapped (also set for most aborts, see Arm ARM "IL, bit [25]").
    public var il: Bool { rawValue & (1 << 25) != 0 }
    public var iss: UInt32 { UInt32(rawValue & 0x1FF_FFFF) }
    public var iss2: UInt32 { UInt32((rawValue >> 32) & 0xFF_FFFF) }
    /// Bits [63:56] are RES0; a non-zero value means a corrupt or mis-read syndrome.
    public var res0Bits: UInt64 { rawValue >> 56 }

    /// The decoded ISS of a data abort (EC 0x24/0x25), else nil.
    public var dataAbort: DataAbortISS? {
        exceptionClass?.isDataAbort == true ? DataAbortISS(iss: iss, iss2: iss2) : nil
    }
    /// The decoded ISS of an instruction abort (EC 0x20/0x21), else nil.
    public var instructionAbort: InstructionAbortISS? {
        exceptionClass?.isInstructionAbort == true ? InstructionAbortISS(iss: iss) : nil
    }
    /// The 16-bit immediate of SVC/HVC (both states), SMC (AArch64) and the comment of BRK/BKPT
    /// (ISS[15:0]), else nil. SMC from AArch32 has none (its ISS is CV/COND/CCKNOWNPASS).
    public var immediate: UInt16? {
        exceptionClass?.hasImmediate == true ? UInt16(iss & 0xFFFF) : nil
    }
    /// The ISS of an SMC from AArch32 (EC 0x13), else nil.
    public var smcAArch32: SMCAArch32ISS? {
        exceptionClass == .smcAArch32 ? SMCAArch32ISS(iss: iss) : nil
    }
    /// The decoded ISS of a trapped MSR/MRS/system instruction (EC 0x18), else nil.
    public var systemRegisterTrap: SystemRegisterTrapISS? {
        exceptionClass == .trappedSysreg ? SystemRegisterTrapISS(iss: iss) : nil
    }

    /// Whether FAR_ELx holds a meaningful address for this exception: aborts with FnV=0,
    /// PC alignment faults and watchpoints (Arm ARM D24.2 FAR_EL2: "UNKNOWN" otherwise).
    public var farIsValid: Bool {
        if let d = dataAbort { return !d.fnv }
        if let i = instructionAbort { return !i.fnv }
        switch exceptionClass {
        case .pcAlignment, .watchpointLowerEL, .watchpointSameEL: return true
        default: return false
        }
    }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// ISS for a Data Abort (Arm ARM D24.2 ESR_EL2, "ISS encoding for an exception from a Data Abort").
public struct DataAbortISS: Hashable, Sendable {
    public let iss: UInt32
    public let iss2: UInt32
    /// ISV [24]: SAS, SSE, SRT, SF and AR hold valid information.
    public var isv: Bool { iss & (1 << 24) != 0 }
    /// SAS [23:22]: access size, 0 byte, 1 halfword, 2 word, 3 doubleword.
    public var sas: UInt8 { UInt8((iss >> 22) & 3) }
    public var accessBytes: Int { 1 << Int(sas) }
    /// SSE [21]: sign-extension required.
    public var sse: Bool { iss & (1 << 21) != 0 }
    /// SRT [20:16]: the register transferred.
    public var srt: UInt8 { UInt8((iss >> 16) & 0x1F) }
    /// SF [15]: the register is 64-bit (Xn) rather than 32-bit (Wn).
    public var sf: Bool { iss & (1 << 15) != 0 }
    /// AR [14]: acquire/release semantics.
    public var ar: Bool { iss & (1 << 14) != 0 }
    /// VNCR [13]: the fault came from EL2's use of VNCR_EL2 (FEAT_NV2).
    public var vncr: Bool { iss & (1 << 13) != 0 }
    /// SET/LST [12:11]: synchronous error type or load/store type.
    public var setOrLST: UInt8 { UInt8((iss >> 11) & 3) }
    /// FnV [10]: FAR is not valid.
    public var fnv: Bool { iss & (1 << 10) != 0 }
    /// EA [9]: external abort type.
    public var ea: Bool { iss & (1 << 9) != 0 }
    /// CM [8]: caused by a cache maintenance or address-translation instruction.
    public var cm: Bool { iss & (1 << 8) != 0 }
    /// S1PTW [7]: stage-2 fault on a stage-1 translation table walk.
    public var s1ptw: Bool { iss & (1 << 7) != 0 }
    /// WnR [6]: caused by a write (1) or a read (0).
    public var wnr: Bool { iss & (1 << 6) != 0 }
    public var status: FaultStatus { FaultStatus(code: UInt8(iss & 0x3F)) }

    /// The transfer register as the instruction names it: "x11", "w3", or "xzr"-free "x31".
    public var registerName: String? {
        guard isv else { return nil }
        return (sf ? "x" : "w") + String(srt)
    }

    /// Names of the ISS2 bits set (Arm ARM ISS2 for data aborts): TnD [10], TagAccess [9],
    /// GCS [8], AssuredOnly [7], Overlay [6], DirtyBit [5]; Xs [4:0] is a register number.
    public var iss2Flags: [String] {
        let names: [(Int, String)] = [
            (10, "TnD"), (9, "TagAccess"), (8, "GCS"), (7, "AssuredOnly"),
            (6, "Overlay"), (5, "DirtyBit"),
        ]
        var out = names.filter { iss2 & (1 << UInt32($0.0)) != 0 }.map(\.1)
        if iss2 & 0x1F != 0 { out.append("Xs=\(iss2 & 0x1F)") }
        return out
    }
}

/// ISS for an Instruction Abort (Arm ARM D24.2 ESR_EL2, "ISS encoding for an exception from an
/// Instruction Abort"): SET [12:11], FnV [10], EA [9], S1PTW [7], IFSC [5:0].
public struct InstructionAbortISS: Hashable, Sendable {
    public let iss: UInt32
    public var set: UInt8 { UInt8((iss >> 11) & 3) }
    public var fnv: Bool { iss & (1 << 10) != 0 }
    public var ea: Bool { iss & (1 << 9) != 0 }
    public var s1ptw: Bool { iss & (1 << 7) != 0 }
    public var status: FaultStatus { FaultStatus(code: UInt8(iss & 0x3F), instructionFetch: true) }
}

/// ISS for a trapped MSR/MRS/system instruction, EC 0x18 (Arm ARM D24.2 ESR_EL2):
/// Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn [13:10], Rt [9:5], CRm [4:1], Direction [0].
public struct SystemRegisterTrapISS: Hashable, Sendable {
    public let iss: UInt32
    public var op0: UInt8 { UInt8((iss >> 20) & 3) }
    public var op2: UInt8 { UInt8((iss >> 17) & 7) }
    public var op1: UInt8 { UInt8((iss >> 14) & 7) }
    public var crn: UInt8 { UInt8((iss >> 10) & 0xF) }
    public var rt: UInt8 { UInt8((iss >> 5) & 0x1F) }
    public var crm: UInt8 { UInt8((iss >> 1) & 0xF) }
    /// Direction [0]: 1 = read (MRS), 0 = write (MSR).
    public var isRead: Bool { iss & 1 != 0 }
    /// "S3_4_C2_C1_0" form.
    public var encodingName: String { "S\(op0)_\(op1)_C\(crn)_C\(crm)_\(op2)" }
}

/// HPFAR_EL2, Hypervisor IPA Fault Address Register (Arm ARM D24.2 HPFAR_EL2):
/// NS [63] (FEAT_SEL2: the faulting IPA is in the Non-secure IPA space), FIPA [47:4] =
/// bits [55:12] of the faulting IPA (bits above the implemented IPA size read as zero).
/// Bit 63 is set on the arm64 hosts we run on, so never use the raw value as an address.
public struct HPFAR: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ raw: UInt64) { rawValue = raw }
    public var ns: Bool { rawValue & (1 << 63) != 0 }
    public var fipa: UInt64 { (rawValue >> 4) & ((1 << 44) - 1) }
    /// The page-aligned faulting IPA.
    public var pageIPA: IPA { IPA(fipa << 12) }
    /// The exact faulting IPA: the page from HPFAR with the offset within the 4 KiB page
    /// taken from FAR (HPFAR only records bits [55:12], Arm ARM D8 "Stage 2 fault reporting").
    public func ipa(far: UInt64) -> IPA { IPA(fipa << 12 | (far & 0xFFF)) }
    /// Bits that are RES0: [62:48] and [3:0].
    public var res0Bits: UInt64 { rawValue & (((1 << 63) - 1) & ~((1 << 48) - 1) | 0xF) }
    public var description: String { "0x" + String(rawValue, radix: 16) }
}
