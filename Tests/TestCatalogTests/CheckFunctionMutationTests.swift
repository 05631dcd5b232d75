import AArch64
import Stage2
import Testing

@testable import GuestProtocol
@testable import Runtime
@testable import TestCatalog

/// The other fault checkers, field by field: the multi-vCPU runner's check (`FaultCheck` with
/// the vCPU named, as `MultiVCPURunner.Context.match` calls it) and
/// the runner's `FaultCheck` with the nested stage 1 on (S1PTW, FAR = the VA, HPFAR = the IPA). A correct syndrome (written
/// from Arm ARM D24.2 ESR_EL2 / HPFAR_EL2, see `FieldMutationTests`) gives no mismatch; each
/// one-field change gives a mismatch that names the field.
@Suite struct CheckFunctionMutationTests {
    static let payload: Range<UInt64> = 0x4000_0000..<0x4001_0000
    static let interp: UInt64 = 0x4000_0800

    // MARK: two vCPUs

    /// vCPU 0's load64 x11 from 0x80_0000_0000 (4K, 40-bit: level-1 entry 2 of the root),
    /// unmapped by vCPU 1 → translation fault, level 3 here (the tables above still exist).
    static let twoWant = ExpectedFault(
        opIndex: 2, address: 0x80_0000_0000,
        access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true),
        kind: .translation, level: 3)
    static let twoGood = MailboxMessage(
        kind: .trap, seq: 5, esr: 0x93CB_8007, far: 0x80_0000_0000,
        hpfar: (0x80_0000_0000 >> 12) << 4, elr: interp, spsr: 0x3C5, opIndex: 2)

    static func two(_ m: MailboxMessage) -> [String] {
        FaultCheck.mismatches(
            m, report: FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar), against: twoWant, payload: payload, walk: nil, who: "vCPU 0: ")
    }

    @Test func twoVCPUCorrectSyndromePasses() {
        #expect(Self.two(Self.twoGood).isEmpty)
    }

    @Test(
        arguments: [
            ("op index", { @Sendable (m: inout MailboxMessage) in m.opIndex = 3 }, "reported for op 3"),
            ("EC", { $0.esr = $0.esr & ~(0x3F << 26) | 0x25 << 26 }, "EC 0x25, expected 0x24"),
            ("FSC kind", { $0.esr = $0.esr & ~0x3F | 0x0B }, "accessFlag fault at level 3"),
            ("level", { $0.esr = $0.esr & ~0x3F | 0x06 }, "translation fault at level 2"),
            ("WnR", { $0.esr |= 1 << 6 }, "WnR=1"),
            ("ISV", { $0.esr &= ~(1 << 24) }, "ISV=0"),
            ("SAS", { $0.esr = $0.esr & ~(3 << 22) }, "SAS says 1 bytes"),
            ("SRT", { $0.esr = $0.esr & ~(0x1F << 16) | 12 << 16 }, "SRT=12"),
            ("SF", { $0.esr &= ~(1 << 15) }, "SF=0"),
            ("S1PTW", { $0.esr |= 1 << 7 }, "S1PTW set"),
            ("FAR", { $0.far += 0x10 }, "FAR_EL2 0x8000000010"),
            ("HPFAR", { $0.hpfar = (0x80_0000_1000 >> 12) << 4 }, "HPFAR_EL2 0x80000010"),
            ("ELR", { $0.elr = 0x1000 }, "ELR_EL2 0x1000 is outside the op interpreter"),
            ("FnV", { $0.esr |= 1 << 10 }, "FnV set"),
            ("SPSR", { $0.spsr = 0x3C9 }, "SPSR_EL2.M = 9"),
        ] as [(String, @Sendable (inout MailboxMessage) -> Void, String)])
    func twoVCPUOneWrongField(field: String, change: @Sendable (inout MailboxMessage) -> Void, names: String) {
        var m = Self.twoGood
        change(&m)
        let bad = Self.two(m)
        #expect(bad.contains { $0.contains(names) }, "\(field): \(bad)")
    }

    /// The software walk of the shared tables is compared too: a walk that agrees (translation
    /// fault at level 3) passes, one that says level 2 or translates the IPA fails.
    @Test func twoVCPUSoftwareWalkIsCompared() {
        let m = Self.twoGood
        let r = FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar)
        func with(_ result: Stage2WalkResult) -> [String] {
            FaultCheck.mismatches(m, report: r, against: Self.twoWant, payload: Self.payload, walk: { _, _ in result }, who: "vCPU 0: ")
        }
        let ipa = IPA(Self.twoWant.address)
        #expect(with(.fault(Stage2Fault(kind: .translation, level: 3, ipa: ipa, access: .read))).isEmpty)
        #expect(
            with(.fault(Stage2Fault(kind: .translation, level: 2, ipa: ipa, access: .read))).contains { $0.contains("software walk says") })
    }

    // MARK: stage 1 on

    /// A load64 x11 from VA 0x1_0000_2010 whose stage-1 walk reads a descriptor at IPA
    /// 0x5000_3000 that stage 2 does not map: S1PTW = 1, translation fault level 3, FAR = the
    /// VA, HPFAR = the descriptor's IPA page; the syndrome describes the walk (ISV = 0).
    static let s1Walk: ExpectedFault = {
        var f = ExpectedFault(
            opIndex: 4, address: 0x1_0000_2010, access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true),
            kind: .translation, level: 3, hpfarValid: true)
        f.ipa = 0x5000_3000
        f.s1ptw = true
        return f
    }()
    /// The data access itself faulting at stage 2 (S1PTW = 0): a full ISV syndrome.
    static let s1Data: ExpectedFault = {
        var f = ExpectedFault(
            opIndex: 5, address: 0x1_0000_4008, access: .data(bytes: 4, write: true, register: 12, sixtyFourBit: false),
            kind: .translation, level: 3)
        f.ipa = 0x6000_1008
        return f
    }()
    /// An instruction fetch at VA 0x2_0000_0000 faulting on its own IPA.
    static let s1Fetch: ExpectedFault = {
        var f = ExpectedFault(opIndex: 6, address: 0x2_0000_0000, access: .fetch, kind: .translation, level: 2)
        f.ipa = 0x7000_0000
        return f
    }()

    struct Syndrome: Sendable { var esr: UInt64, far: UInt64, hpfar: UInt64, elr: UInt64, spsr: UInt64 = 0x3C5, op: Int }
    static let good: [Syndrome] = [
        // EC 0x24 | IL | S1PTW [7] | DFSC 0x07 (WnR 0: not asserted for a walk fault).
        Syndrome(esr: 0x9200_0087, far: 0x1_0000_2010, hpfar: (0x5000_3000 >> 12) << 4, elr: interp, op: 4),
        // EC 0x24 | IL | ISV | SAS=2 | SRT=12 | WnR | DFSC 0x07.
        Syndrome(esr: 0x938C_0047, far: 0x1_0000_4008, hpfar: (0x6000_1008 >> 12) << 4, elr: interp, op: 5),
        // EC 0x20 | IL | IFSC 0x06; ELR = the fetched VA.
        Syndrome(esr: 0x8200_0006, far: 0x2_0000_0000, hpfar: (0x7000_0000 >> 12) << 4, elr: 0x2_0000_0000, op: 6),
    ]
    static let expectations = [s1Walk, s1Data, s1Fetch]

    static func s1(_ i: Int, _ s: Syndrome, walk: ((IPA, Stage2Access) -> Stage2WalkResult)? = nil) -> [String] {
        let m = MailboxMessage(kind: .trap, seq: 1, esr: s.esr, far: s.far, hpfar: s.hpfar, elr: s.elr, spsr: s.spsr, opIndex: s.op)
        return FaultCheck.mismatches(
            m, report: FaultReport(esr: s.esr, far: s.far, hpfar: s.hpfar), against: expectations[i], payload: payload, walk: walk)
    }

    @Test func stage1CorrectSyndromesPass() {
        for i in 0..<3 { #expect(Self.s1(i, Self.good[i]).isEmpty, "\(Self.expectations[i])") }
        // WnR on the walk fault is not pinned: either value passes (it is logged instead).
        var w = Self.good[0]
        w.esr |= 1 << 6
        #expect(Self.s1(0, w).isEmpty)
        #expect(
            UnpinnedFields.lines(esr: w.esr, hpfar: w.hpfar, kind: .translation, s1ptw: true, opIndex: 4)
                .contains { $0.hasPrefix("op 4: WnR=1 on a stage-2 fault during the stage-1 walk: logged, not checked") })
    }

    @Test(
        arguments: [
            ("op index", 0, { @Sendable (s: inout Syndrome) in s.op = 3 }, "reported for op 3"),
            ("EC", 0, { $0.esr = $0.esr & ~(0x3F << 26) | 0x20 << 26 }, "EC 0x20, expected 0x24"),
            ("FSC kind", 0, { $0.esr = $0.esr & ~0x3F | 0x0B }, "accessFlag fault at level 3, expected translation"),
            ("level", 0, { $0.esr = $0.esr & ~0x3F | 0x06 }, "translation fault at level 2, expected translation at level 3"),
            ("S1PTW (walk)", 0, { $0.esr &= ~(1 << 7) }, "S1PTW=0, expected a fault on the stage-1 walk"),
            ("S1PTW (data)", 1, { $0.esr |= 1 << 7 }, "S1PTW set, expected a fault on the access itself"),
            ("FnV", 1, { $0.esr |= 1 << 10 }, "FnV set"),
            ("EA", 1, { $0.esr |= 1 << 9 }, "EA set"),
            ("CM", 1, { $0.esr |= 1 << 8 }, "CM set"),
            ("WnR", 1, { $0.esr &= ~(1 << 6) }, "WnR=0"),
            ("ISV", 1, { $0.esr &= ~(1 << 24) }, "ISV=0"),
            ("SAS", 1, { $0.esr = $0.esr & ~(3 << 22) | 3 << 22 }, "SAS says 8 bytes"),
            ("SRT", 1, { $0.esr = $0.esr & ~(0x1F << 16) | 11 << 16 }, "SRT=11, expected 12"),
            ("SF", 1, { $0.esr |= 1 << 15 }, "SF=1"),
            ("FnV (fetch)", 2, { $0.esr |= 1 << 10 }, "FnV set"),
            ("FAR", 1, { $0.far += 8 }, "FAR_EL2 0x100004010, expected 0x100004008"),
            ("HPFAR (walk)", 0, { $0.hpfar = (0x5000_4000 >> 12) << 4 }, "names IPA page 0x50004000, expected 0x50003000"),
            ("ELR (fetch)", 2, { $0.elr += 4 }, "expected the fetched address"),
            ("ELR (data)", 1, { $0.elr = 0x1000 }, "ELR_EL2 0x1000 is outside the op interpreter"),
            ("SPSR", 1, { $0.spsr = 0x3C9 }, "SPSR_EL2.M = 9"),
        ] as [(String, Int, @Sendable (inout Syndrome) -> Void, String)])
    func stage1OneWrongField(field: String, index: Int, change: @Sendable (inout Syndrome) -> Void, names: String) {
        var s = Self.good[index]
        change(&s)
        let bad = Self.s1(index, s)
        #expect(bad.contains { $0.contains(names) }, "\(field): \(bad)")
    }

    /// Also with the stage 1 on: EA on an instruction abort, HPFAR + FAR[11:0] for the data
    /// fault (the data IPA, not the VA), and the software walk at the IPA stage 2 faulted on:
    /// for a fault on the walk the descriptor's IPA, read (a hardware Access-flag update: write).
    @Test func stage1HPFARAndSoftwareWalk() {
        var fetchEA = Self.good[2]
        fetchEA.esr |= 1 << 9
        #expect(Self.s1(2, fetchEA).contains { $0.contains("EA set") })
        var data = Self.good[1]
        data.hpfar = (0x1_0000_4008 >> 12) << 4
        #expect(Self.s1(1, data).contains { $0.contains("HPFAR_EL2 0x1000040 + FAR[11:0] names") })
        var asked: [(IPA, Stage2Access)] = []
        let agree = Self.s1(0, Self.good[0]) { ipa, access in
            asked.append((ipa, access))
            return .fault(Stage2Fault(kind: .translation, level: 3, ipa: ipa, access: access))
        }
        #expect(agree.isEmpty)
        #expect(asked.count == 1 && asked[0].0 == IPA(0x5000_3000) && asked[0].1 == .read)
        let disagree = Self.s1(0, Self.good[0]) { ipa, access in .fault(Stage2Fault(kind: .translation, level: 2, ipa: ipa, access: access))
        }
        #expect(disagree.contains { $0.contains("software walk says") })
    }
}
