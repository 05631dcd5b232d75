import Testing

@testable import AArch64

/// Expected values are worked out by hand from the Arm ARM (DDI 0487, D24.2 ESR_EL2 and
/// HPFAR_EL2), not produced by the decoder. The first vector was observed on a real
/// nested-KVM host (shared/notes/emulated-arm64-kvm-host.md).
@Suite struct FaultDecodingTests {
    @Test func observedStage2TranslationFaultLevel3() {
        // EC=0x24 (bits 31:26 = 100100), IL=1, ISV=1, SAS=0b11, SRT=11, SF=1, WnR=0, DFSC=0b000111.
        let r = FaultReport(esr: 0x93cb_8007, far: 0x5000_0000, hpfar: 0x8000_0000_0050_0000)
        #expect(r.esr.exceptionClass == .dataAbortLowerEL)
        let d = try! #require(r.esr.dataAbort)
        #expect(d.isv && d.sas == 3 && d.srt == 11 && d.sf && !d.wnr && !d.s1ptw && !d.fnv)
        #expect(d.status.kind == .translation && d.status.level == 3)
        #expect(r.hpfar?.ns == true)
        #expect(r.ipa == IPA(0x5000_0000))
        #expect(
            r.oneLine
                == "stage-2 fault: translation L3, read (64-bit into x11), IPA 0x50000000 (HPFAR 0x8000000000500000) FAR 0x50000000 ESR 0x93cb8007 [DABT_LOW IL ISV SAS=3 SRT=11 SF DFSC=0x07]"
        )
    }

    @Test func writePermissionFaultFromW12() {
        // ISS = ISV(1<<24) | SAS=2 (word, 2<<22) | SRT=12 (12<<16) | WnR (1<<6) | DFSC 0b001111
        // (permission fault, level 3); ESR = EC 0x24<<26 | IL(1<<25) | ISS = 0x938C004F.
        let r = FaultReport(esr: 0x938C_004F, far: 0x1234_5678, hpfar: 0x12_3450)
        #expect(r.esr.dataAbort?.status == FaultStatus(code: 0x0F))
        #expect(r.esr.dataAbort?.status.kind == .permission)
        #expect(r.accessDescription == "write (32-bit from w12)")
        // FIPA = 0x12345 -> page 0x12345000, plus FAR[11:0] = 0x678.
        #expect(r.ipa == IPA(0x1234_5678))
        #expect(r.oneLine.hasPrefix("stage-2 fault: permission L3, write (32-bit from w12), IPA 0x12345678"))
        #expect(r.oneLine.hasSuffix("[DABT_LOW IL ISV SAS=2 SRT=12 WnR DFSC=0x0f]"))
    }

    @Test func instructionAbortTranslationLevel2() {
        // EC 0x20<<26 = 0x80000000, IL 0x02000000, IFSC 0b000110 -> 0x82000006.
        let r = FaultReport(esr: 0x8200_0006, far: 0x4020_0000, hpfar: 0x40_2000)
        #expect(r.esr.exceptionClass == .instructionAbortLowerEL)
        #expect(r.status?.kind == .translation && r.status?.level == 2)
        #expect(
            r.oneLine
                == "stage-2 fault: translation L2, instruction fetch, IPA 0x40200000 (HPFAR 0x402000) FAR 0x40200000 ESR 0x82000006 [IABT_LOW IL IFSC=0x06]"
        )
    }

    @Test func stage1WalkFaultAndFnV() {
        // ISS = FnV(1<<10) | S1PTW(1<<7) | DFSC 0b000101 (translation L1) = 0x485; EC 0x24, IL.
        let r = FaultReport(esr: 0x9200_0485, far: 0xdead, hpfar: 0x8000_0000_0008_0000)
        #expect(r.s1ptw)
        #expect(r.esr.farIsValid == false)
        // FAR not valid: the IPA is the page HPFAR names (FIPA 0x8000 -> 0x8000000), no offset.
        #expect(r.ipa == IPA(0x800_0000))
        #expect(r.oneLine.hasPrefix("stage-2 fault on stage-1 walk: translation L1, read, IPA 0x8000000"))
        #expect(r.oneLine.contains("FAR not valid (0xdead)"))
        #expect(r.oneLine.hasSuffix("[DABT_LOW IL FnV S1PTW DFSC=0x05]"))
    }

    @Test func stage1WalkFaultWithValidFARNamesOnlyTheTablePage() {
        // Observed in the emulated host: a load at VA 0x2000000010 whose level-1 stage-1 table
        // sits at an unmapped IPA. ISS = S1PTW(1<<7) | DFSC 0b000101 = 0x85, FnV=0: FAR is the
        // VA (valid), HPFAR's FIPA 0x8040000 is the table's page; FAR[11:0] is not an offset in it.
        let r = FaultReport(esr: 0x9200_0085, far: 0x20_0000_0010, hpfar: 0x8000_0000_8040_0000)
        #expect(r.esr.farIsValid)
        #expect(r.ipa == IPA(0x80_4000_0000))
        #expect(
            r.oneLine
                == "stage-2 fault on stage-1 walk: translation L1, read, IPA 0x8040000000 (HPFAR 0x8000000080400000) FAR 0x2000000010 ESR 0x92000085 [DABT_LOW IL S1PTW DFSC=0x05]"
        )
    }

    @Test func hvcImmediate() {
        // EC 0x16 (HVC64) <<26 = 0x58000000, IL, imm16 = 0x4e56.
        let r = FaultReport(esr: 0x5A00_4E56)
        #expect(r.esr.exceptionClass == .hvcAArch64)
        #expect(r.esr.immediate == 0x4E56)
        #expect(r.esr.farIsValid == false)
        #expect(r.oneLine == "HVC from AArch64 #0x4e56, ESR 0x5a004e56 [HVC64 IL imm=0x4e56]")
    }

    @Test func trappedMRS() {
        // MRS x3, CTR_EL0: Op0=3 (<<20), Op2=1 (<<17), Op1=3 (<<14), CRn=0, Rt=3 (<<5), CRm=0,
        // Direction=1 -> ISS 0x32C061; EC 0x18 -> ESR 0x6232C061.
        let s = try! #require(ESR(0x6232_C061).systemRegisterTrap)
        #expect(s.encodingName == "S3_3_C0_C0_1" && s.rt == 3 && s.isRead)
    }

    @Test func everyAllocatedExceptionClassHasAName() {
        // Allocated EC values in the Arm ARM's ESR_EL2.EC table (DDI 0487 K.a and later).
        let allocated: [UInt8] = [
            0x00, 0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0C, 0x0D,
            0x0E, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B,
            0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x24, 0x25, 0x26, 0x27, 0x28,
            0x2C, 0x2D, 0x2F, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x38, 0x3A, 0x3C, 0x3D,
        ]
        for ec in UInt8(0)...0x3F {
            let decoded = ESR(UInt64(ec) << 26).exceptionClass
            #expect((decoded != nil) == allocated.contains(ec), "EC 0x\(String(ec, radix: 16))")
        }
        let mnemonics = Set(ExceptionClass.allCases.map(\.mnemonic))
        #expect(mnemonics.count == ExceptionClass.allCases.count)
        #expect(FaultReport(esr: 0x0B << 26).oneLine.hasPrefix("unallocated EC 0x0b"))
    }

    @Test(
        arguments: [
            // (code, kind, level) from the DFSC table.
            (UInt8(0x00), FaultStatus.Kind.addressSize, Optional(0)), (0x03, .addressSize, 3),
            (0x04, .translation, 0), (0x07, .translation, 3), (0x08, .accessFlag, 0), (0x0B, .accessFlag, 3),
            (0x0C, .permission, 0), (0x0D, .permission, 1), (0x0F, .permission, 3),
            (0x10, .synchronousExternal, nil), (0x11, .tagCheck, nil),
            (0x13, .synchronousExternalOnWalk, -1), (0x14, .synchronousExternalOnWalk, 0),
            (0x17, .synchronousExternalOnWalk, 3), (0x18, .parityOrECC, nil), (0x1C, .parityOrECCOnWalk, 0),
            (0x21, .alignment, nil), (0x28, .granuleProtection, nil), (0x29, .addressSize, -1),
            (0x2A, .translation, -2), (0x2B, .translation, -1), (0x2C, .addressSize, -2),
            (0x30, .tlbConflict, nil), (0x31, .unsupportedAtomicUpdate, nil),
            (0x12, .synchronousExternalOnWalk, -2), (0x3F, .reserved, nil), (0x20, .reserved, nil),
        ] as [(UInt8, FaultStatus.Kind, Int?)])
    func faultStatusCodes(code: UInt8, kind: FaultStatus.Kind, level: Int?) {
        let s = FaultStatus(code: code)
        #expect(s.kind == kind)
        #expect(s.level == level)
        if let level, kind != .reserved { #expect(FaultStatus.code(kind, level: level) == code) }
    }

    @Test func hpfarFieldsAndTopOf48BitIPA() {
        // IPA 0xFFFF_FFFF_F000 (top page of a 48-bit space): FIPA = IPA[47:12] = 0xF_FFFF_FFFF at [47:4].
        let h = HPFAR(0xF_FFFF_FFFF << 4)
        #expect(h.pageIPA == IPA(0xFFFF_FFFF_F000))
        #expect(!h.ns && h.res0Bits == 0)
        #expect(HPFAR(0x8000_0000_0050_0000).ns)
        #expect(HPFAR(0x8000_0000_0050_0000).res0Bits == 0)
        #expect(HPFAR(0x1).res0Bits == 0x1)
    }
}
