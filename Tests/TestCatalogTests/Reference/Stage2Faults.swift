import AArch64
import GuestProtocol
import Stage2

@testable import Runtime
@testable import TestCatalog

/// The Swift builders catalog/*.json's stage-2 fault tests were converted from (permission,
/// access flag, translation levels, address size, block split, hvc/smc, MMIO, execute-never,
/// walk external abort, illegal VTCR), kept as the reference ConversionTests compare with.
/// The builders: hand-written expectations per the Arm ARM (rules cited at each).
public enum Stage2Faults {
    public static let matrixIPABits = [32, 36, 40, 44, 48]

    /// KVM's shadow stage 2 spans the VM's IPA size: a nested IPA needs a VM at least that big.
    static func requireVMIPA(_ bits: Int, _ host: HostFacts) throws {
        if bits > 40, host.vmIPABits < bits {
            throw SessionError.skip(
                "KVM_CAP_ARM_VM_IPA_SIZE is \(host.vmIPABits) bits; a \(bits)-bit nested IPA space needs a VM that large")
        }
    }

    /// The test's sparse IPA range: 2^39 — its own level-0/1 entry, clear of the RAM at 1 GiB.
    static let base: UInt64 = 1 << 39

    static let ro = Stage2Attributes(permissions: [.read])
    static let wo = Stage2Attributes(permissions: [.write])
    static let noAccess = Stage2Attributes(permissions: [])
    static let rw = Stage2Attributes(permissions: [.read, .write])  // XN = 0b10: never executable
    static let rwx = Stage2Attributes.normalRWX

    /// Permission faults on last-level pages. Arm ARM D8.4 (stage 2 access permissions):
    /// S2AP[0] = read, S2AP[1] = write, XN[1:0] = 0b10 forbids execution at EL1 and EL0. The
    /// fault is a Permission fault at the level of the leaf (3 for a page): DFSC/IFSC =
    /// 0b0011_11 (0x0F); WnR = 1 for the store. HPFAR_EL2 is UNKNOWN for a permission fault
    /// (D24.2 HPFAR_EL2), so only FAR is checked. After each fault the host `protect`s the page
    /// (changing permissions of a valid entry: break-before-make, TLBI inside the exit) and
    /// the access retries and succeeds.
    public static func permission(granule g: Granule) throws -> Scenario {
        var p = FaultPlan(granule: g, ipaBits: 40)
        let P = p.page
        let roPA = try p.mapInitially(base, size: P, ro)
        let woPA = try p.mapInitially(base + P, size: P, wo)
        let naPA = try p.mapInitially(base + 2 * P, size: P, noAccess)
        let xnPA = try p.mapInitially(base + 3 * P, size: P, rw)

        // Write to read-only → fault (write), make it RW, retry.
        let w0 = p.store(8, 0x1111_2222_3333_4444, ipa: base + 0x18, pa: roPA.advanced(by: 0x18))
        p.expect(.stage2Fault(p.fault(op: w0, .permission, level: 3)), [.protect(ipa: IPA(base), size: P, attributes: rw)])
        p.load(8, ipa: base + 0x18, pa: roPA.advanced(by: 0x18))  // the stored value, no fault
        p.load(8, ipa: base + 0x10, pa: roPA.advanced(by: 0x10))  // planted, no fault
        // Read of write-only → fault (read), make it RW.
        let r1 = p.load(8, ipa: base + P + 0x20, pa: woPA.advanced(by: 0x20))
        p.expect(.stage2Fault(p.fault(op: r1, .permission, level: 3)), [.protect(ipa: IPA(base + P), size: P, attributes: rw)])
        // Read of no-access → fault (read), make it read-only; a write then faults again.
        let r2 = p.load(4, ipa: base + 2 * P + 0x30, pa: naPA.advanced(by: 0x30))
        p.expect(.stage2Fault(p.fault(op: r2, .permission, level: 3)), [.protect(ipa: IPA(base + 2 * P), size: P, attributes: ro)])
        let w2 = p.store(4, 0xCAFE_F00D, ipa: base + 2 * P + 0x34, pa: naPA.advanced(by: 0x34))
        p.expect(.stage2Fault(p.fault(op: w2, .permission, level: 3)), [.protect(ipa: IPA(base + 2 * P), size: P, attributes: rw)])
        p.load(8, ipa: base + 2 * P + 0x30, pa: naPA.advanced(by: 0x30))
        // Fetch from execute-never → instruction abort, permission, make it RWX.
        let x3 = p.exec(ipa: base + 3 * P + 0x40, pa: xnPA.advanced(by: 0x40))
        p.expect(.stage2Fault(p.fault(op: x3, .permission, level: 3)), [.protect(ipa: IPA(base + 3 * P), size: P, attributes: rwx)])
        p.exec(ipa: base + 3 * P + 0x40, pa: xnPA.advanced(by: 0x40))  // executable now, no fault
        return p.finished(notes: ["\(g) pages at 0x\(String(base, radix: 16)): r, w, none, rw (XN) → 5 permission faults at level 3"])
    }

    /// Access-flag faults. Arm ARM D8.5 (the Access flag): with VTCR_EL2.HA = 0 an access
    /// through a block/page descriptor with AF = 0 is an Access flag fault at that level:
    /// FSC 0b0010_ll (0x08 + level), HPFAR valid. The host sets AF (bit 10) in the raw
    /// descriptor, invalidates the IPA in the reply, and the retry succeeds.
    public static func accessFlag(granule g: Granule, withBlock: Bool) throws -> Scenario {
        var p = FaultPlan(granule: g, ipaBits: 40)
        let P = p.page
        var noAF = rwx
        noAF.accessFlag = false
        let pagePA = try p.mapInitially(base, size: P, noAF)
        let r0 = p.load(8, ipa: base + 0x8, pa: pagePA.advanced(by: 0x8))
        p.expect(
            .stage2Fault(p.fault(op: r0, .accessFlag, level: 3)),
            [.editDescriptor(ipa: IPA(base), level: 3, set: Stage2Descriptor.afBit, clear: 0)])
        p.store(8, 0x0AF0_0AF0_0AF0_0AF0, ipa: base + 0x10, pa: pagePA.advanced(by: 0x10))
        p.exec(ipa: base + 0x100, pa: pagePA.advanced(by: 0x100))
        var notes = ["\(g) page with AF=0 at 0x\(String(base, radix: 16)) → access-flag fault level 3"]
        if withBlock {
            let block = g.bytes << UInt64(g.stride)  // a level-2 block
            let blockIPA = base + block
            let blockPA = try p.mapInitially(blockIPA, size: block, noAF)
            let w = p.store(4, 0xAF_B10C, ipa: blockIPA + 0x1000, pa: blockPA.advanced(by: 0x1000))
            p.expect(
                .stage2Fault(p.fault(op: w, .accessFlag, level: 2)),
                [.editDescriptor(ipa: IPA(blockIPA), level: 2, set: Stage2Descriptor.afBit, clear: 0)])
            p.load(4, ipa: blockIPA + 0x1000, pa: blockPA.advanced(by: 0x1000))
            p.load(8, ipa: blockIPA + block - 8, pa: blockPA.advanced(by: block - 8))
            notes.append("a 0x\(String(block, radix: 16))-byte block with AF=0 → access-flag fault level 2")
        }
        return p.finished(notes: notes)
    }

    /// Translation faults at every level: one page mapped at `base`, then loads that each
    /// miss at a different level — the next page (last level), the next entry of each
    /// intermediate level, and the next entry of the start level (root). The level comes
    /// from `DemandPaging.translationFaultLevel` (a model of D8.2, checked by unit tests
    /// against hand-derived levels); the host maps each page and the load retries.
    public static func levels(granule g: Granule, ipaBits: Int) throws -> Scenario {
        let geometry = try Stage2Geometry(granule: g, ipaBits: ipaBits)
        var p = FaultPlan(granule: g, ipaBits: ipaBits)
        let P = p.page
        let firstPA = try p.mapInitially(base, size: P, rwx)
        p.load(8, ipa: base + 0x8, pa: firstPA.advanced(by: 0x8))  // mapped: no fault
        let layout = SessionLayout.standard
        var mapped: [(start: UInt64, size: UInt64)] = [
            (layout.payload.rawValue, layout.payloadWindow), (layout.nested.rawValue, layout.nestedSize), (base, P),
        ]
        var levelsSeen: [Int] = []
        for level in stride(from: 3, through: geometry.startLevel, by: -1) {
            let ipa = base + (UInt64(1) << UInt64(g.entryShift(atLevel: level))) + 0x40
            guard ipa < UInt64(1) << UInt64(ipaBits) else { continue }
            guard let want = DemandPaging.translationFaultLevel(ipa: ipa, mapped: mapped, granule: g, startLevel: geometry.startLevel)
            else {
                throw SessionError.layout("probe 0x\(String(ipa, radix: 16)) would not fault")
            }
            let pa = try p.allocate(P)
            let op = p.load(8, ipa: ipa, pa: pa.advanced(by: 0x40))
            p.expect(
                .stage2Fault(p.fault(op: op, .translation, level: want)),
                [.map(ipa: IPA(ipa - 0x40), pa: pa, size: P, attributes: rwx)])
            p.load(8, ipa: ipa, pa: pa.advanced(by: 0x40))  // mapped now: same value
            mapped.append((ipa - 0x40, P))
            levelsSeen.append(want)
        }
        return p.finished(notes: [
            geometry.description + ", translation faults at levels " + levelsSeen.map(String.init).joined(separator: ", ")
        ])
    }

    /// An IPA at or above 2^(64 − T0SZ). Arm ARM AArch64.S2Translate (J1, shared pseudocode):
    /// an IPA out of the range VTCR_EL2.T0SZ configures is a Translation fault at level 0
    /// (not the start level, and not an Address size fault). HPFAR is valid (translation).
    /// The host answers SKIP (ELR + 4): nothing can map it; the next access still works.
    public static func ipaAboveT0SZ() throws -> Scenario {
        var p = FaultPlan(granule: .k4, ipaBits: 40)
        p.scenario.vmIPABits = 44  // the nested IPA 2^40 must reach the guest's own stage 2
        let pa = try p.mapInitially(base, size: p.page, rwx)
        // The IPA with the out-of-range bit dropped is mapped, so a walker that ignores the
        // upper bits would translate the access instead of faulting.
        let aliasPA = try p.mapInitially(0, size: p.page, rwx)
        p.plant(aliasPA.advanced(by: 0x10), 0xA11A_5A11_A5A1_1A5A, bytes: 8)
        let above: UInt64 = (1 << 40) + 0x10
        let op = p.scenario.ops.count
        p.scenario.ops.append(.load(8, at: above))  // result not checked: the load is skipped
        p.expect(.stage2Fault(p.fault(op: op, .translation, level: 0)), [], resume: .skip)
        p.load(8, ipa: base + 0x20, pa: pa.advanced(by: 0x20))
        return p.finished(notes: [
            "4K granule, 40-bit IPA (T0SZ = 24), load at 0x\(String(above, radix: 16)) → translation fault level 0 (IPA 0x10, its alias below 2^40, is mapped)"
        ])
    }

    /// VTTBR_EL2.BADDR with a bit set above VTCR_EL2.PS. Arm ARM AArch64.S2Walk: a base
    /// address outside the PS output range is an Address size fault at level 0 (FSC 0x00).
    /// The op interpreter's next instruction fetch after the hvc that installs the bad
    /// VTTBR is the first stage-2 access: an instruction abort at ELR = hvc + 4. The host
    /// then restores VTTBR (+ VMALLS12E1IS) and the retried fetch and the load succeed.
    public static func baddrAbovePS() throws -> Scenario {
        var p = FaultPlan(granule: .k4, ipaBits: 40)
        let pa = try p.mapInitially(base, size: p.page, rwx)
        let hvcOp = p.scenario.ops.count
        p.scenario.ops.append(GuestOp(.hvc, value: 0x77))
        p.scenario.expectedResults[hvcOp] = 0x77
        // PS is 32 bits (every output and the table pool lie below 4 GiB), so BADDR bit 40
        // is above it and inside BADDR[47:1].
        p.expect(.hvc(imm: GuestABI.hvcOp, opIndex: hvcOp), [.setVTTBRBits(1 << 40), .tlbi([.vmalls12e1is])])
        guard let hvcAt = payloadInstruction(0xD400_0002 | UInt32(GuestABI.hvcOp) << 5) else {
            throw SessionError.layout("the payload image has no (single) hvc #\(GuestABI.hvcOp)")
        }
        let fetch = SessionLayout.standard.payload.rawValue + hvcAt + 4
        var f = ExpectedFault(opIndex: hvcOp, address: fetch, access: .fetch, kind: .addressSize, level: 0)
        f.checkSoftwareWalk = false  // the builder's walk uses the good VTTBR
        p.expect(
            .stage2Fault(f),
            [.setVTTBRBits(0), .tlbi([.vmalls12e1is])])
        p.load(8, ipa: base + 0x28, pa: pa.advanced(by: 0x28))
        return p.finished(notes: ["VTTBR_EL2.BADDR | 1<<40 with VTCR_EL2.PS = 32 bits → address-size fault level 0 on the next fetch"])
    }

    /// XN[1:0] of a stage-2 page against an instruction fetch from EL1 (the nested guest runs
    /// at EL1). Arm ARM D8.4.? "Stage 2 instruction execution permissions": with FEAT_XNX,
    /// 0b00 executable at EL1 and EL0, 0b01 not at EL1 (PXN), 0b10 at neither, 0b11 not at
    /// EL0 (UXN); without FEAT_XNX XN[0] is ignored: 0b0x executable, 0b1x not. A faulting
    /// fetch is an instruction-abort Permission fault at level 3; the host makes the page
    /// executable and the fetch retries.
    public static func executeNever(xnx: Bool) throws -> Scenario {
        var p = FaultPlan(granule: .k4, ipaBits: 40)
        let P = p.page
        // (XN[1:0], the builder's permissions that encode it)
        let pages: [(UInt64, Stage2Permissions)] = [
            (0b00, [.read, .execute]), (0b01, [.read, .executeEL0]), (0b10, [.read]), (0b11, [.read, .executeEL1]),
        ]
        for (i, (xn, perms)) in pages.enumerated() {
            let ipa = base + UInt64(i) * P
            let pa = try p.mapInitially(ipa, size: P, Stage2Attributes(permissions: perms))
            precondition(Stage2Attributes(permissions: perms).descriptorBits >> 53 & 3 == xn)
            let el1Executable = xnx ? (xn == 0b00 || xn == 0b11) : (xn & 0b10 == 0)
            let op = p.exec(ipa: ipa + 0x80, pa: pa.advanced(by: 0x80))
            if !el1Executable {
                p.expect(
                    .stage2Fault(p.fault(op: op, .permission, level: 3)),
                    [.protect(ipa: IPA(ipa), size: P, attributes: Stage2Attributes(permissions: [.read, .execute]))])
            }
        }
        return p.finished(notes: ["XN[1:0] 00/01/10/11 on four pages, \(xnx ? "with" : "without") FEAT_XNX"])
    }

    /// A table descriptor whose next-level address no memory backs. The host (at an hvc)
    /// swaps the level-2 entry of a mapped page for a table pointer to PA 0x0900_0000 and
    /// invalidates the VMID; the next load walks into it. Arm ARM D8.? / AArch64.S2Walk: an
    /// external abort on a translation table walk is reported with FSC 0b0101ll (0x14 + the
    /// level of the lookup that read the descriptor: level 3 here); KVM must inject it to
    /// vEL2 rather than fail KVM_RUN (bugs note, "nv: Inject a SEA if failed to read the
    /// descriptor"). HPFAR is not checked (not in D24.2's valid list); the builder's walk is
    /// not consulted (it would read the unbacked table as zero). The host restores the entry.
    public static func walkExternalAbort() throws -> Scenario {
        var p = FaultPlan(granule: .k4, ipaBits: 40)
        let pa = try p.mapInitially(base, size: p.page, rwx)
        p.load(8, ipa: base + 0x8, pa: pa.advanced(by: 0x8))
        let h = p.scenario.ops.count
        p.scenario.ops.append(GuestOp(.hvc, value: 1))
        p.scenario.expectedResults[h] = 1
        p.expect(
            .hvc(imm: GuestABI.hvcOp, opIndex: h),
            [.swapDescriptor(ipa: IPA(base), level: 2, value: UInt64(0x0900_0000) | 0b11)])
        let op = p.load(8, ipa: base + 0x10, pa: pa.advanced(by: 0x10))
        var f = p.fault(op: op, .synchronousExternalOnWalk, level: 3)
        f.hpfarValid = false
        f.checkSoftwareWalk = false
        p.expect(.stage2Fault(f), [.restoreDescriptors])
        return p.finished(notes: ["L2 entry for 0x\(String(base, radix: 16)) → table at PA 0x9000000 (unbacked) → SEA on walk, level 3"])
    }

    public struct VTCRCase: Sendable {
        public var name: String
        public var summary: String
        public var granule: Granule
        public var ipaBits: Int
        public var sl0: UInt64?
        public var t0sz: UInt64?
    }

    /// Illegal SL0 × T0SZ × TG0 combinations, each derived from AArch64.S2InvalidSL /
    /// AArch64.S2InconsistentSL (sl_min = (3 − start)·stride + granuleBits + 1, sl_max =
    /// sl_min + stride − 1 + 4): every one must give a Translation fault at level 0.
    public static let illegalVTCRCases: [VTCRCase] = [
        // 4K, T0SZ 24 (40 bits), SL0 0b00 = start level 2: sl_max = 22 + 12 = 34 < 40.
        VTCRCase(
            name: "4k-40bit-sl0-l2", summary: "4K, 40-bit IPA, SL0=0b00 (level 2: at most 34 bits)", granule: .k4, ipaBits: 40, sl0: 0b00,
            t0sz: nil),
        // 4K, SL0 0b11: level 3 with FEAT_TTST only (sl_max 25 < 40 then), reserved otherwise.
        VTCRCase(
            name: "4k-40bit-sl0-11", summary: "4K, 40-bit IPA, SL0=0b11 (reserved / level 3)", granule: .k4, ipaBits: 40, sl0: 0b11,
            t0sz: nil),
        // 4K, T0SZ 20 (44 bits) with SL0 0b01 = level 1: sl_max = 31 + 12 = 43 < 44.
        VTCRCase(
            name: "4k-44bit-sl0-l1", summary: "4K, T0SZ=20 (44-bit) with SL0=0b01 (level 1: at most 43 bits)", granule: .k4, ipaBits: 40,
            sl0: 0b01, t0sz: 20),
        // 64K, SL0 0b11: reserved.
        VTCRCase(
            name: "64k-40bit-sl0-11", summary: "64K, 40-bit IPA, SL0=0b11 (reserved)", granule: .k64, ipaBits: 40, sl0: 0b11, t0sz: nil),
        // 64K, SL0 0b10 = level 1: sl_min = 2·13 + 16 + 1 = 43 > 40.
        VTCRCase(
            name: "64k-40bit-sl0-l1", summary: "64K, 40-bit IPA, SL0=0b10 (level 1: at least 43 bits)", granule: .k64, ipaBits: 40,
            sl0: 0b10, t0sz: nil),
        // 16K, SL0 0b00 = level 3: sl_max = 15 + 10 + 4 = 29 < 40.
        VTCRCase(
            name: "16k-40bit-sl0-l3", summary: "16K, 40-bit IPA, SL0=0b00 (level 3: at most 29 bits)", granule: .k16, ipaBits: 40,
            sl0: 0b00, t0sz: nil),
    ]

    /// At an hvc the host installs the illegal VTCR_EL2 (+ VMALLS12E1IS); the op
    /// interpreter's next fetch (hvc + 4) must take a Translation fault at level 0
    /// (AArch64.S2Translate: S2InvalidSL or S2InconsistentSL → Fault_Translation, level 0);
    /// the host restores VTCR and the fetch and a load succeed. The builder's walk is not
    /// consulted (it uses the legal VTCR).
    public static func illegalVTCR(_ c: VTCRCase) throws -> Scenario {
        var p = FaultPlan(granule: c.granule, ipaBits: c.ipaBits)
        let pa = try p.mapInitially(base, size: p.page, rwx)
        let h = p.scenario.ops.count
        p.scenario.ops.append(GuestOp(.hvc, value: 3))
        p.scenario.expectedResults[h] = 3
        p.expect(.hvc(imm: GuestABI.hvcOp, opIndex: h), [.patchVTCR(sl0: c.sl0, t0sz: c.t0sz), .tlbi([.vmalls12e1is])])
        guard let hvcAt = payloadInstruction(0xD400_0002 | UInt32(GuestABI.hvcOp) << 5) else {
            throw SessionError.layout("the payload image has no (single) hvc #\(GuestABI.hvcOp)")
        }
        var f = ExpectedFault(
            opIndex: h, address: SessionLayout.standard.payload.rawValue + hvcAt + 4,
            access: .fetch, kind: .translation, level: 0)
        f.checkSoftwareWalk = false
        p.expect(.stage2Fault(f), [.patchVTCR(sl0: nil, t0sz: nil), .tlbi([.vmalls12e1is])])
        p.load(8, ipa: base + 0x30, pa: pa.advanced(by: 0x30))
        return p.finished(notes: [c.summary + " → translation fault level 0 on the next fetch"])
    }

    static func payloadInstruction(_ insn: UInt32) -> UInt64? { ScenarioBuilder.payloadInstruction(insn) }

    /// Block split. A level-2 block (4K: 2 MiB, 16K: 32 MiB, 64K: 512 MiB — D8.2 block sizes)
    /// mapped RW; an hvc lets the host `protect` one page inside it read-only, which splits
    /// the block into a last-level table (break-before-make with the TLBIs in the exit). Then
    /// the neighbours are written without a fault, and a write to that page is a Permission
    /// fault at level 3 (no longer 2); the host makes it RW again and the write retries.
    public static func blockSplit(granule g: Granule) throws -> Scenario {
        var p = FaultPlan(granule: g, ipaBits: 40)
        let P = p.page
        let block = P << UInt64(g.stride)
        // 64K: a level-2 block is 512 MiB, aligned to 512 MiB in PA (Arm ARM D8.3 block
        // descriptor: OA bits below the block size are RES0): RAM of its own above the session's.
        let blockPA = try p.allocateBlock(block)
        p.scenario.initialMappings.append(Stage2Mapping(ipa: IPA(base), pa: blockPA, size: block, attributes: rwx))
        let victim = base + block / 2
        let vpa = blockPA.advanced(by: block / 2)
        p.store(8, 0x0B10_C000_0000_0001, ipa: victim + 0x8, pa: vpa.advanced(by: 0x8))
        let h = p.scenario.ops.count
        p.scenario.ops.append(GuestOp(.hvc, value: 0x5A))
        p.scenario.expectedResults[h] = 0x5A
        p.expect(.hvc(imm: GuestABI.hvcOp, opIndex: h), [.protect(ipa: IPA(victim), size: P, attributes: ro)])
        p.store(8, 0x0B10_C000_0000_0002, ipa: victim - P + 0x10, pa: PhysicalAddress(vpa.rawValue - P + 0x10))
        p.store(8, 0x0B10_C000_0000_0003, ipa: victim + P + 0x18, pa: vpa.advanced(by: P + 0x18))
        p.store(4, 0x0B10_C004, ipa: base + 0x4, pa: blockPA.advanced(by: 0x4))
        p.load(8, ipa: victim + 0x8, pa: vpa.advanced(by: 0x8))  // read-only still reads
        let w = p.store(8, 0x0B10_C000_0000_0006, ipa: victim + 0x20, pa: vpa.advanced(by: 0x20))
        p.expect(.stage2Fault(p.fault(op: w, .permission, level: 3)), [.protect(ipa: IPA(victim), size: P, attributes: rwx)])
        p.load(8, ipa: victim + 0x20, pa: vpa.advanced(by: 0x20))
        p.exec(ipa: base + block - P + 0x100, pa: blockPA.advanced(by: block - P + 0x100))
        return p.finished(notes: [
            "\(g): 0x\(String(block, radix: 16))-byte block at 0x\(String(base, radix: 16)); page 0x\(String(victim, radix: 16)) made read-only → one permission fault at level 3"
        ])
    }

    /// HVC and SMC from the nested guest. Arm ARM D24.2.43 ESR_EL2: EC 0x16 (HVC from
    /// AArch64) / 0x17 (SMC from AArch64) with ISS[15:0] = imm16. HCR_EL2.TSC (bit 19, D24.2.48)
    /// traps SMC from EL1 to EL2 (without it and without EL3, SMC is UNDEFINED). Preferred
    /// return: after the HVC; the SMC itself for a trapped SMC, so the host answers SKIP. The
    /// host replaces x0 and the op reports it.
    public static func hvcSmc() throws -> Scenario {
        var p = FaultPlan(granule: .k4, ipaBits: 40)
        p.scenario.hcrSet = 1 << 19
        p.scenario.ops = [GuestOp(.hvc, value: 0x1234), GuestOp(.smc, value: 0x5678), GuestOp(.hvc, value: 0x9ABC)]
        p.scenario.expectedResults = [0: 0xAAAA_0001, 1: 0xBBBB_0002, 2: 0xCCCC_0003]
        p.expect(.hvc(imm: GuestABI.hvcOp, opIndex: 0), [.setX0(0xAAAA_0001)])
        p.expect(.smc(imm: 0, opIndex: 1), [.setX0(0xBBBB_0002)], resume: .skip)
        p.expect(.hvc(imm: GuestABI.hvcOp, opIndex: 2), [.setX0(0xCCCC_0003)])
        return p.finished(notes: ["hvc #1, smc #0 (HCR_EL2.TSC=1), hvc #1; the host's x0 is each op's result"])
    }

    /// MMIO passthrough. The nested guest's stage 2 maps a page to PA 0x0900_0000, which no
    /// memslot backs (RAM is at 1 GiB, the vGIC at 0x0800_0000, the doorbell at 0x0A00_0000):
    /// KVM completes the nested walk and exits to the host with KVM_EXIT_MMIO at the output
    /// PA, the access size (from ESR ISV/SAS) and, for a write, the data; a read returns the
    /// value the host completes the exit with.
    public static func mmio(granule g: Granule) throws -> Scenario {
        var p = FaultPlan(granule: g, ipaBits: 40)
        let device = PhysicalAddress(0x0900_0000)
        p.scenario.initialMappings.append(
            Stage2Mapping(
                ipa: IPA(base), pa: device, size: p.page,
                attributes: Stage2Attributes(permissions: [.read, .write], memory: .deviceNGnRE)))
        func at(_ o: UInt64) -> PhysicalAddress { device.advanced(by: o) }
        p.scenario.ops = [
            .store(4, 0xDEAD_BEEF, at: base + 0x10), .load(8, at: base + 0x18),
            .store(1, 0x5C, at: base + 0x3), .load(2, at: base + 0x6), .store(8, 0x0123_4567_89AB_CDEF, at: base + 0x20),
        ]
        p.scenario.expectedResults = [0: 0, 1: 0xFEED_FACE_CAFE_BEEF, 2: 0, 3: 0x7A11, 4: 0]
        p.expect(.mmio(address: at(0x10), bytes: 4, write: true, data: 0xDEAD_BEEF))
        p.expect(.mmio(address: at(0x18), bytes: 8, write: false, data: nil), [.answerMMIO(0xFEED_FACE_CAFE_BEEF)])
        p.expect(.mmio(address: at(0x3), bytes: 1, write: true, data: 0x5C))
        p.expect(.mmio(address: at(0x6), bytes: 2, write: false, data: nil), [.answerMMIO(0x7A11)])
        p.expect(.mmio(address: at(0x20), bytes: 8, write: true, data: 0x0123_4567_89AB_CDEF))
        return p.finished(notes: ["IPA 0x\(String(base, radix: 16)) → PA \(device) (unbacked): 5 MMIO exits"])
    }
}
