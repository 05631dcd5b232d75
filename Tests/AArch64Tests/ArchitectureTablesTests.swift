import Testing

@testable import AArch64

/// Every EC and every DFSC/IFSC value against the Arm ARM (DDI 0487, D24.2 ESR_EL2: the EC
/// table, "ISS encoding for an exception from a Data Abort" field DFSC, "... from an
/// Instruction Abort" field IFSC). The tables below are copied from the architecture by hand,
/// one row per value, 64 each, not produced by the decoder.
@Suite struct ArchitectureTablesTests {
    /// EC value → (allocated, ISS[15:0] is an immediate or comment). nil = unallocated.
    /// Immediates: SVC/HVC from AArch32 and AArch64, SMC from AArch64 (imm16), BKPT/BRK (comment).
    /// SMC from AArch32 (0x13) has CV/COND/CCKNOWNPASS and no immediate.
    static let ecTable: [UInt8: Bool?] = [
        0x00: false,  // Unknown reason
        0x01: false,  // Trapped WF* instruction
        0x02: nil,
        0x03: false,  // Trapped MCR or MRC access with coproc=0b1111
        0x04: false,  // Trapped MCRR or MRRC access with coproc=0b1111
        0x05: false,  // Trapped MCR or MRC access with coproc=0b1110
        0x06: false,  // Trapped LDC or STC access
        0x07: false,  // Access to SME, SVE, Advanced SIMD or floating-point functionality trapped
        0x08: false,  // Trapped VMRS access (ID group)
        0x09: false,  // Trapped use of a Pointer authentication instruction
        0x0A: false,  // Exception from an LD64B or ST64B* instruction (FEAT_LS64)
        0x0B: nil,
        0x0C: false,  // Trapped MRRC access with coproc=0b1110
        0x0D: false,  // Branch Target Exception (FEAT_BTI)
        0x0E: false,  // Illegal Execution state
        0x0F: nil, 0x10: nil,
        0x11: true,  // SVC instruction execution in AArch32 state (imm16)
        0x12: true,  // HVC instruction execution in AArch32 state (imm16)
        0x13: false,  // SMC instruction execution in AArch32 state (CV, COND, CCKNOWNPASS)
        0x14: false,  // Trapped MSRR, MRRS or System instruction execution (FEAT_SYSREG128)
        0x15: true,  // SVC instruction execution in AArch64 state
        0x16: true,  // HVC instruction execution in AArch64 state
        0x17: true,  // SMC instruction execution in AArch64 state
        0x18: false,  // Trapped MSR, MRS or System instruction execution in AArch64 state
        0x19: false,  // Access to SVE functionality trapped
        0x1A: false,  // Trapped ERET, ERETAA or ERETAB (FEAT_NV)
        0x1B: false,  // Exception from TSTART (FEAT_TME)
        0x1C: false,  // Exception from a PAC Fail (FEAT_FPAC)
        0x1D: false,  // Access to SME functionality trapped
        0x1E: false,  // Exception from a Granule Protection Check (FEAT_RME)
        0x1F: false,  // IMPLEMENTATION DEFINED exception to EL3
        0x20: false,  // Instruction Abort from a lower Exception level
        0x21: false,  // Instruction Abort taken without a change in Exception level
        0x22: false,  // PC alignment fault exception
        0x23: nil,
        0x24: false,  // Data Abort exception from a lower Exception level
        0x25: false,  // Data Abort exception without a change in Exception level
        0x26: false,  // SP alignment fault exception
        0x27: false,  // Memory Operation Exception (FEAT_MOPS)
        0x28: false,  // Trapped floating-point exception taken from AArch32 state
        0x29: nil, 0x2A: nil, 0x2B: nil,
        0x2C: false,  // Trapped floating-point exception taken from AArch64 state
        0x2D: false,  // GCS exception (FEAT_GCS)
        0x2E: nil,
        0x2F: false,  // SError exception
        0x30: false,  // Breakpoint exception from a lower Exception level
        0x31: false,  // Breakpoint exception taken without a change in Exception level
        0x32: false,  // Software Step exception from a lower Exception level
        0x33: false,  // Software Step exception taken without a change in Exception level
        0x34: false,  // Watchpoint exception from a lower Exception level
        0x35: false,  // Watchpoint exception taken without a change in Exception level
        0x36: nil, 0x37: nil,
        0x38: true,  // BKPT instruction execution in AArch32 state (comment)
        0x39: nil,
        0x3A: false,  // Vector Catch exception from AArch32 state
        0x3B: nil,
        0x3C: true,  // BRK instruction execution in AArch64 state (comment)
        0x3D: false,  // Profiling exception (FEAT_SPE_EXC / FEAT_TRBE_EXC)
        0x3E: nil, 0x3F: nil,
    ]

    typealias K = FaultStatus.Kind
    /// DFSC value → kind and level (nil level: the code names none). Absent = reserved.
    static let dfscTable: [UInt8: (K, Int?)] = [
        0x00: (.addressSize, 0), 0x01: (.addressSize, 1), 0x02: (.addressSize, 2), 0x03: (.addressSize, 3),
        0x04: (.translation, 0), 0x05: (.translation, 1), 0x06: (.translation, 2), 0x07: (.translation, 3),
        0x08: (.accessFlag, 0), 0x09: (.accessFlag, 1), 0x0A: (.accessFlag, 2), 0x0B: (.accessFlag, 3),
        0x0C: (.permission, 0), 0x0D: (.permission, 1), 0x0E: (.permission, 2), 0x0F: (.permission, 3),
        0x10: (.synchronousExternal, nil),  // SEA, not on a walk or hardware update
        0x11: (.tagCheck, nil),  // Synchronous Tag Check Fault (FEAT_MTE2)
        0x12: (.synchronousExternalOnWalk, -2),  // SEA on walk, level -2 (FEAT_D128)
        0x13: (.synchronousExternalOnWalk, -1),  // SEA on walk, level -1 (FEAT_LPA2)
        0x14: (.synchronousExternalOnWalk, 0), 0x15: (.synchronousExternalOnWalk, 1),
        0x16: (.synchronousExternalOnWalk, 2), 0x17: (.synchronousExternalOnWalk, 3),
        0x18: (.parityOrECC, nil),  // without FEAT_RAS
        0x1B: (.parityOrECCOnWalk, -1),
        0x1C: (.parityOrECCOnWalk, 0), 0x1D: (.parityOrECCOnWalk, 1), 0x1E: (.parityOrECCOnWalk, 2), 0x1F: (.parityOrECCOnWalk, 3),
        0x21: (.alignment, nil),
        0x22: (.granuleProtectionOnWalk, -2),  // GPF on walk, level -2 (FEAT_RME, FEAT_D128)
        0x23: (.granuleProtectionOnWalk, -1),  // GPF on walk, level -1 (FEAT_RME, FEAT_LPA2)
        0x24: (.granuleProtectionOnWalk, 0), 0x25: (.granuleProtectionOnWalk, 1),
        0x26: (.granuleProtectionOnWalk, 2), 0x27: (.granuleProtectionOnWalk, 3),
        0x28: (.granuleProtection, nil),  // GPF, not on a walk or hardware update
        0x29: (.addressSize, -1),  // FEAT_LPA2
        0x2A: (.translation, -2),  // FEAT_D128
        0x2B: (.translation, -1),  // FEAT_LPA2
        0x2C: (.addressSize, -2),  // FEAT_D128
        0x30: (.tlbConflict, nil),
        0x31: (.unsupportedAtomicUpdate, nil),  // FEAT_HAFDBS
        0x34: (.implementationDefinedLockdown, nil),
        0x35: (.implementationDefinedAtomic, nil),
    ]

    /// IFSC: the DFSC table without tag check (0x11), alignment (0x21) and the two
    /// IMPLEMENTATION DEFINED data-access codes (0x34, 0x35), which the IFSC table does not list.
    /// Checked against Arm's register XML for ESR_ELx (AArch64-esr_el1.xml, fields IFSC_5_0 and
    /// DFSC_5_0, as shipped in apple/darwin-xnu tools/lldbmacros/sysregdoc): 0x11, 0x21, 0x34
    /// and 0x35 appear only under DFSC. The LPA2 and RME codes (0x13, 0x1B, 0x23, 0x29, 0x2B,
    /// access flag and permission at level 0) match QEMU target/arm/internals.h arm_fi_to_lfsc
    /// (after EncodeLDFSC) and Linux arch/arm64/mm/fault.c fault_info[].
    static let ifscTable: [UInt8: (K, Int?)] = dfscTable.filter { ![0x11, 0x21, 0x34, 0x35].contains($0.key) }

    /// DFSC 0b111101 / 0b111110 (section / page domain fault) are listed by the same XML as
    /// "used only for faults reported in the PAR_EL1": in ESR_ELx they are reserved, and an
    /// instruction abort's IFSC has no data-only code.
    @Test func parOnlyAndDataOnlyCodesAreReservedWhereTheArmARMDoesNotListThem() {
        for code: UInt8 in [0x3D, 0x3E] {
            #expect(FaultStatus(code: code).kind == .reserved)
            #expect(FaultStatus(code: code, instructionFetch: true).kind == .reserved)
        }
        for code: UInt8 in [0x11, 0x21, 0x34, 0x35] {
            #expect(FaultStatus(code: code).kind != .reserved, "DFSC 0x\(String(code, radix: 16))")
            #expect(FaultStatus(code: code, instructionFetch: true).kind == .reserved, "IFSC 0x\(String(code, radix: 16))")
            #expect(FaultStatus(code: code, instructionFetch: true).longDescription == "reserved IFSC value")
        }
    }

    @Test func everyExceptionClass() {
        #expect(Self.ecTable.count == 64)
        for ec in UInt8(0)..<64 {
            let row = Self.ecTable[ec]!
            // ESR with this EC, IL set, ISS = 0x1_ABCD (bits above 15 set to catch over-wide immediates).
            let esr = ESR(UInt64(ec) << 26 | 1 << 25 | 0x1_ABCD)
            switch row {
            case .none:
                #expect(esr.exceptionClass == nil, "EC 0x\(String(ec, radix: 16)) is unallocated")
                #expect(FaultReport(esr: esr.rawValue).oneLine.hasPrefix("unallocated EC 0x"))
            case .some(let hasImmediate):
                #expect(esr.exceptionClass?.rawValue == ec, "EC 0x\(String(ec, radix: 16)) is allocated")
                #expect(esr.immediate == (hasImmediate ? 0xABCD : nil), "EC 0x\(String(ec, radix: 16)) immediate")
            }
        }
    }

    @Test func smcFromAArch32HasConditionFieldsNotAnImmediate() {
        // EC 0x13, IL, CV=1, COND=0b1110, CCKNOWNPASS=1, RES0 [18:0] = 0x1234 (must not show).
        let r = FaultReport(esr: 0x13 << 26 | 1 << 25 | 1 << 24 | 0xE << 20 | 1 << 19 | 0x1234)
        #expect(r.esr.immediate == nil)
        #expect(r.esr.smcAArch32?.cv == true && r.esr.smcAArch32?.cond == 0xE && r.esr.smcAArch32?.ccKnownPass == true)
        #expect(!r.oneLine.contains("#0x") && !r.oneLine.contains("imm="))
        #expect(r.oneLine.hasSuffix("[SMC32 IL CV COND=0xe CCKNOWNPASS]"))
        #expect(!r.explanation.contains("imm16"))
    }

    @Test(arguments: [false, true])
    func everyFaultStatusCode(instructionFetch: Bool) {
        let table = instructionFetch ? Self.ifscTable : Self.dfscTable
        for code in UInt8(0)..<64 {
            let s = FaultStatus(code: code, instructionFetch: instructionFetch)
            let name = "\(instructionFetch ? "IFSC" : "DFSC") 0x\(String(code, radix: 16))"
            if let (kind, level) = table[code] {
                #expect(s.kind == kind, "\(name)")
                #expect(s.level == level, "\(name)")
                #expect(!s.longDescription.contains("reserved"), "\(name)")
            } else {
                #expect(s.kind == .reserved, "\(name) is reserved")
                #expect(s.level == nil, "\(name)")
            }
            // Through the ESR too: EC 0x24 (data abort) / 0x20 (instruction abort) from a lower EL.
            let ec: UInt64 = instructionFetch ? 0x20 : 0x24
            let r = FaultReport(esr: ec << 26 | 1 << 25 | UInt64(code))
            #expect(r.status?.kind == s.kind && r.status?.level == s.level, "\(name) via ESR")
            // Only the four translation-stage MMU faults are stage-2 faults.
            let mmu = [K.translation, .addressSize, .accessFlag, .permission].contains(s.kind)
            #expect(r.oneLine.hasPrefix("stage-2 fault") == mmu, "\(name): \(r.oneLine)")
            #expect(!r.oneLine.contains("fault fault") && !r.explanation.contains("walk fault"), "\(name): \(r.explanation)")
        }
    }

    @Test func level2WalkCodesAreNamed() {
        #expect(FaultStatus(code: 0x12).longDescription == "synchronous external abort on table walk, level -2")
        #expect(FaultStatus(code: 0x22).longDescription == "granule protection fault on table walk, level -2")
        #expect(FaultStatus(code: 0x24).longDescription == "granule protection fault on table walk, level 0")
        #expect(FaultReport(esr: 0x9200_0012).oneLine.hasPrefix("data abort: synchronous external abort on table walk L-2"))
    }
}
