import AArch64
import GuestPayload
import Stage2
import Testing

@testable import GuestProtocol
@testable import Runtime
@testable import TestCatalog

/// Every field the event runner compares is proven to fire: a simulated payload produces the
/// observations a correct host gives for one scenario that holds every event kind (data and
/// instruction stage-2 faults, HVC, SMC, MMIO write and read, an EL1 exception); unmodified,
/// the runner reaches `.pass`. Each mutation changes exactly one field of one observation and
/// the run must FAIL with a message that names that field.
///
/// Syndromes are written from the Arm ARM (D24.2 ESR_EL2), not from the decoder: EC [31:26],
/// IL [25]; data abort ISS: ISV [24], SAS [23:22], SRT [20:16], SF [15], FnV [10], S1PTW [7],
/// WnR [6], DFSC [5:0]; instruction abort: FnV [10], S1PTW [7], IFSC [5:0]; translation fault
/// at level L: FSC 0b0001LL. HPFAR_EL2.FIPA [43:4] = IPA[51:12]. HVC/SMC: ISS[15:0] = imm16.
@Suite struct FieldMutationTests {
    // IPAs the nested guest touches (4K granule, 40-bit IPA: start level 1, 1 GiB per level-1
    // entry; each lies in a level-1 entry of its own, so each first touch faults at level 1).
    static let x: UInt64 = 0x8000_0010  // load64 x11
    static let y: UInt64 = 0xC000_0024  // store32 w12
    static let z: UInt64 = 0x1_0000_0000  // exec (instruction fetch)
    static let dev: UInt64 = 0x7000_0000  // mapped to the device PA below (no memslot)
    static let devPA: UInt64 = 0x0900_0000
    static let layout = SessionLayout.standard
    static let xPA = layout.dataPool.rawValue, yPA = layout.dataPool.rawValue + 0x1000, zPA = layout.dataPool.rawValue + 0x2000
    static let loaded: UInt64 = 0x1111_2222_3333_4444
    static let stored: UInt64 = 0x1234_5678
    static let mmioStored: UInt64 = 0xFEED_F00D
    static let mmioAnswer: UInt64 = 0xABCD
    static let el1EC: UInt8 = 0x25
    static let rw = Stage2Attributes(permissions: [.read, .write])

    static func scenario() -> Scenario {
        var s = Scenario(
            granule: .k4, ipaBits: 40,
            ops: [
                GuestOp(.load64, address: x, value: loaded, repeatCount: 4, checkEveryRepetition: true),  // 0: stage-2 fault, then 4 loads
                .store(4, stored, at: y),  // 1: stage-2 fault, then the store
                .exec(at: z),  // 2: instruction-abort stage-2 fault
                GuestOp(.hvc, value: 0x77),  // 3: HVC #1
                GuestOp(.smc, value: 0x88),  // 4: SMC #0 (HCR_EL2.TSC)
                .store(8, mmioStored, at: dev + 8),  // 5: MMIO write
                .load(4, at: dev + 0x10),  // 6: MMIO read
                GuestOp(.load64, address: 0x10),  // 7: EL1 exception (reported by the guest's vectors)
            ])
        s.hcrSet = 1 << 19
        s.initialMappings = [
            Stage2Mapping(
                ipa: IPA(dev), pa: PhysicalAddress(devPA), size: 0x1000,
                attributes: Stage2Attributes(permissions: [.read, .write], memory: .deviceNGnRE))
        ]
        s.planted = [(PhysicalAddress(xPA + 0x10), le(loaded, 8))]
        s.expectedResults = [0: loaded, 3: 0x77, 6: mmioAnswer]
        s.expectedMemory = [(PhysicalAddress(yPA + 0x24), le(stored, 4))]
        s.events = [
            ExpectedEvent(
                .stage2Fault(
                    ExpectedFault(
                        opIndex: 0, address: x, access: .data(bytes: 8, write: false, register: 11, sixtyFourBit: true),
                        kind: .translation, level: 1)),
                reactions: [.map(ipa: IPA(x & ~0xFFF), pa: PhysicalAddress(xPA), size: 0x1000, attributes: rw)]),
            ExpectedEvent(
                .stage2Fault(
                    ExpectedFault(
                        opIndex: 1, address: y, access: .data(bytes: 4, write: true, register: 12, sixtyFourBit: false),
                        kind: .translation, level: 1)),
                reactions: [.map(ipa: IPA(y & ~0xFFF), pa: PhysicalAddress(yPA), size: 0x1000, attributes: rw)]),
            ExpectedEvent(
                .stage2Fault(ExpectedFault(opIndex: 2, address: z, access: .fetch, kind: .translation, level: 1)),
                reactions: [.map(ipa: IPA(z), pa: PhysicalAddress(zPA), size: 0x1000, attributes: .normalRWX)]),
            ExpectedEvent(.hvc(imm: 1, opIndex: 3)),
            ExpectedEvent(.smc(imm: 0, opIndex: 4), resume: .skip),
            ExpectedEvent(.mmio(address: PhysicalAddress(devPA + 8), bytes: 8, write: true, data: mmioStored)),
            ExpectedEvent(
                .mmio(address: PhysicalAddress(devPA + 0x10), bytes: 4, write: false, data: nil), reactions: [.answerMMIO(mmioAnswer)]),
            ExpectedEvent(.el1Exception(ec: el1EC, opIndex: 7), resume: .skip),
        ]
        return s
    }

    /// What a correct host and payload produce for `scenario()`, step by step.
    static func observations(payload: [UInt8]) -> [SimulatedGuest.Step] {
        let base = layout.payload.rawValue
        // Real instruction addresses in the payload image: `hvc #1` (0xD4000022) and `smc #0`
        // (0xD4000003), C6.2 HVC / SMC encodings.
        let hvcAt = base + UInt64(find(0xD400_0022, in: payload))
        let smcAt = base + UInt64(find(0xD400_0003, in: payload))
        let interp = base + 0x800  // some instruction of the op interpreter
        let spsr: UInt64 = 0x3C5  // EL1h, DAIF masked
        func hpfar(_ ipa: UInt64) -> UInt64 { (ipa >> 12) << 4 }
        return [
            .message(.trap, esr: 0x93CB_8005, far: x, hpfar: hpfar(x), elr: interp, spsr: spsr, op: 0),
            .message(
                .trap, esr: 0x938C_0045, far: y, hpfar: hpfar(y), elr: interp, spsr: spsr, op: 1,
                effect: { g in try g.write(le(stored, 4), at: PhysicalAddress(yPA + 0x24)) }),
            .message(.trap, esr: 0x8200_0005, far: z, hpfar: hpfar(z), elr: z, spsr: spsr, op: 2),
            .message(.trap, esr: 0x5A00_0001, elr: hvcAt + 4, spsr: spsr, op: 3),
            .message(.trap, esr: 0x5E00_0000, elr: smcAt, spsr: spsr, op: 4),
            .mmio(address: devPA + 8, length: 8, isWrite: true, data: mmioStored),
            .mmio(address: devPA + 0x10, length: 4, isWrite: false, data: 0),
            .message(.el1Exception, esr: 0, elr: interp, spsr: spsr, op: 7, x0: UInt64(el1EC) << 26 | 1 << 25),
            .resultPairs([(loaded, 4), (0, 1), (0, 1), (0x77, 1), (0x88, 1), (0, 1), (mmioAnswer, 1), (0, 1)] as [(UInt64, UInt64)]),
            .message(.done, op: 8),
        ]
    }

    static func find(_ word: UInt32, in image: [UInt8]) -> Int {
        stride(from: 0, to: image.count - 3, by: 4).first { Array(image[$0..<($0 + 4)]).loadLE(UInt32.self, at: 0) == word } ?? -1
    }

    struct Mutation: CustomTestStringConvertible, Sendable {
        var field: String
        /// Text the failure must contain (it names the field).
        var names: String
        var change: @Sendable (inout [SimulatedGuest.Step], inout Scenario) -> Void
        var testDescription: String { field }
    }

    /// Changes step `i`'s message with `f`.
    static func msg(
        _ i: Int, _ f: @escaping @Sendable (inout SimulatedGuest.Message) -> Void
    ) -> @Sendable (inout [SimulatedGuest.Step], inout Scenario) -> Void {
        { steps, _ in
            guard case .message(var m) = steps[i] else { fatalError("step \(i) is not a message") }
            f(&m)
            steps[i] = .message(m)
        }
    }

    static let mutations: [Mutation] = [
        Mutation(field: "EC", names: "EC 0x20, expected 0x24", change: msg(0) { $0.esr = $0.esr & ~(0x3F << 26) | 0x20 << 26 }),
        Mutation(
            field: "FSC kind", names: "accessFlag fault at level 1, expected translation at level 1",
            change: msg(0) { $0.esr = $0.esr & ~0x3F | 0x09 }),
        Mutation(
            field: "level", names: "translation fault at level 2, expected translation at level 1",
            change: msg(0) { $0.esr = $0.esr & ~0x3F | 0x06 }),
        Mutation(field: "WnR", names: "WnR=0", change: msg(1) { $0.esr &= ~(1 << 6) }),
        Mutation(field: "ISV", names: "ISV=0", change: msg(0) { $0.esr &= ~(1 << 24) }),
        Mutation(field: "SAS", names: "SAS says 4 bytes", change: msg(0) { $0.esr = $0.esr & ~(3 << 22) | 2 << 22 }),
        Mutation(field: "SRT", names: "SRT=10, expected 11", change: msg(0) { $0.esr = $0.esr & ~(0x1F << 16) | 10 << 16 }),
        Mutation(field: "SF", names: "SF=0", change: msg(0) { $0.esr &= ~(1 << 15) }),
        Mutation(field: "S1PTW (data)", names: "S1PTW set", change: msg(0) { $0.esr |= 1 << 7 }),
        Mutation(field: "S1PTW (fetch)", names: "S1PTW set", change: msg(2) { $0.esr |= 1 << 7 }),
        Mutation(field: "FnV (data)", names: "FnV set", change: msg(0) { $0.esr |= 1 << 10 }),
        Mutation(field: "FnV (fetch)", names: "FnV set", change: msg(2) { $0.esr |= 1 << 10 }),
        Mutation(field: "FAR", names: "FAR_EL2 0x80000018, expected 0x80000010", change: msg(0) { $0.far += 8 }),
        Mutation(field: "HPFAR", names: "HPFAR_EL2 0x900000", change: msg(0) { $0.hpfar = (0x9000_0000 >> 12) << 4 }),
        Mutation(field: "ELR (data abort)", names: "ELR_EL2 0x1000 is outside the op interpreter", change: msg(0) { $0.elr = 0x1000 }),
        Mutation(field: "ELR (instruction abort)", names: "expected the fetched address", change: msg(2) { $0.elr += 4 }),
        Mutation(field: "ELR (HVC)", names: "is 0x", change: msg(3) { $0.elr += 4 }),
        Mutation(field: "SPSR (stage-2 fault)", names: "SPSR_EL2.M = 4", change: msg(0) { $0.spsr = 0x3C4 }),
        Mutation(field: "SPSR (HVC)", names: "SPSR_EL2.M = 4", change: msg(3) { $0.spsr = 0x3C4 }),
        Mutation(field: "op index (fault)", names: "reported for op 1", change: msg(0) { $0.op = 1 }),
        Mutation(field: "op index (HVC)", names: "reported for op 2", change: msg(3) { $0.op = 2 }),
        Mutation(field: "op index (EL1 exception)", names: "at op 6", change: msg(7) { $0.op = 6 }),
        Mutation(
            field: "software walk agreement", names: "the software walk translates it",
            change: { _, s in
                // The tables map x, yet the hardware reports a translation fault for it.
                s.initialMappings.append(Stage2Mapping(ipa: IPA(x & ~0xFFF), pa: PhysicalAddress(xPA), size: 0x1000, attributes: rw))
            }),
        Mutation(field: "HVC immediate", names: "ISS imm 0x2, expected 0x1", change: msg(3) { $0.esr = $0.esr & ~0xFFFF | 2 }),
        Mutation(field: "SMC immediate", names: "ISS imm 0x5, expected 0x0", change: msg(4) { $0.esr = $0.esr & ~0xFFFF | 5 }),
        Mutation(field: "HVC EC", names: "EC 0x17, expected 0x16", change: msg(3) { $0.esr = $0.esr & ~(0x3F << 26) | 0x17 << 26 }),
        Mutation(
            field: "MMIO address", names: "MMIO write of 8 byte(s) at 0x9000010 data 0xfeedf00d, expected",
            change: { steps, _ in
                steps[5] = .mmio(address: devPA + 0x10, length: 8, isWrite: true, data: mmioStored)
            }),
        Mutation(
            field: "MMIO size", names: "MMIO write of 4 byte(s) at 0x9000008 data 0xfeedf00d, expected",
            change: { steps, _ in
                steps[5] = .mmio(address: devPA + 8, length: 4, isWrite: true, data: mmioStored)
            }),
        Mutation(
            field: "MMIO direction", names: "MMIO read of 8 byte(s) at 0x9000008, expected MMIO write",
            change: { steps, _ in
                steps[5] = .mmio(address: devPA + 8, length: 8, isWrite: false, data: 0)
            }),
        Mutation(
            field: "MMIO data", names: "data 0xfeedf00e, expected 0xfeedf00d",
            change: { steps, _ in
                steps[5] = .mmio(address: devPA + 8, length: 8, isWrite: true, data: mmioStored + 1)
            }),
        Mutation(field: "EL1 exception EC", names: "EL1 exception EC 0x24 at op 7, expected", change: msg(7) { $0.x0 = 0x24 << 26 }),
        Mutation(field: "event order", names: "expected op 3: HVC #0x1", change: { steps, _ in steps.swapAt(3, 5) }),
        Mutation(
            field: "missing event", names: "1 expected event(s) never happened, first: op 7: EL1 exception",
            change: { steps, _ in steps.remove(at: 7) }),
        Mutation(
            field: "extra event", names: "unexpected trap: TRAP op 7",
            change: { steps, _ in
                guard case .message(var m) = steps[3] else { return }
                m.op = 7
                steps.insert(.message(m), at: 8)
            }),
        Mutation(
            field: "result value", names: "op 0 (LOAD64 at 0x80000010) produced 0x1111222233334445, expected 0x1111222233334444",
            change: { steps, _ in
                guard case .results(var r) = steps[8] else { return }
                r[0].value += 1
                steps[8] = .results(r)
            }),
        Mutation(
            field: "result count", names: "op 4 (SMC) ran 0 time(s), expected 1",
            change: { steps, _ in
                guard case .results(var r) = steps[8] else { return }
                r[4].count = 0
                steps[8] = .results(r)
            }),
        Mutation(
            field: "memory", names: "guest-physical 0x40801024 holds [135, 86, 52, 18], expected [120, 86, 52, 18]",
            change: msg(1) { m in
                m.effect = { g in try g.write(le(stored ^ 0xFF, 4), at: PhysicalAddress(yPA + 0x24)) }
            }),
        Mutation(
            field: "repetition mismatches",
            names: "op 0 (LOAD64 at 0x80000010) read a value other than 0x1111222233334444 in 1 of 4 repetition(s), first in repetition 3",
            change: { steps, _ in
                guard case .results(var r) = steps[8] else { return }
                r[0].mismatches = 1
                r[0].firstMismatch = 3
                steps[8] = .results(r)
            }),
    ]

    func run(
        _ scenario: Scenario, _ change: (inout [SimulatedGuest.Step], inout Scenario) -> Void = { _, _ in },
        guest configure: (SimulatedGuest) -> Void = { _ in }
    ) -> (Outcome, SimulatedGuest) {
        var s = scenario
        var steps = Self.observations(payload: PayloadImage.bytes)
        change(&steps, &s)
        let guest = SimulatedGuest(steps)
        configure(guest)
        let outcome = ScenarioRunner(log: { _ in }).run(s, requirements: [.stage2Granule(.k4)], backend: guest) { _, _ in }.outcome
        return (outcome, guest)
    }

    @Test func unmodifiedObservationsPass() throws {
        #expect(Self.find(0xD400_0022, in: PayloadImage.bytes) > 0 && Self.find(0xD400_0003, in: PayloadImage.bytes) > 0)
        let (outcome, guest) = run(Self.scenario())
        #expect(outcome == .pass)
        #expect(guest.remaining == 0, "every observation was consumed")
        // Every event kind was met on the way to the pass.
        #expect(guest.sentKinds == [.hello, .trap, .trap, .trap, .trap, .trap, .el1Exception, .done])
        #expect(guest.mmioExits == 2 && guest.mmioAnswers == [Self.mmioAnswer])
    }

    /// The requirements come from the HELLO's ID registers; KVM_GET_ONE_REG must read the same.
    @Test(arguments: [0, 1, 2])
    func idRegisterDisagreementFails(_ which: Int) {
        let (outcome, _) = run(
            Self.scenario(),
            guest: { g in
                var r = g.kvmIDRegisters!
                switch which {
                case 0: r.mmfr0 ^= 0xF0
                case 1: r.mmfr1 = 0x10
                default: r.mmfr2 = 1 << 48
                }
                g.kvmIDRegisters = r
            })
        let name = ["ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1"][which]
        guard case .fail(let m) = outcome else {
            Issue.record("\(name) disagreement gave \(outcome)")
            return
        }
        #expect(m.hasPrefix(name + ": the payload read") && m.contains("KVM_GET_ONE_REG reads"), "\(m)")
    }

    @Test(arguments: mutations)
    func oneWrongFieldFails(_ m: Mutation) {
        let (outcome, _) = run(Self.scenario(), m.change)
        guard case .fail(let message) = outcome else {
            Issue.record("\(m.field): one wrong field gave \(outcome), expected a FAIL")
            return
        }
        #expect(message.contains(m.names), "\(m.field): the failure does not name the field:\n\(message)")
    }
}

/// Little-endian bytes of the low `n` bytes of `v`.
func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

/// A payload stand-in: sends the planned messages and MMIO exits in order, answers the host's
/// TLBI_THEN_ACK replies with an ACK as the payload does, and writes op results before DONE.
final class SimulatedGuest: SimulatedRAM {
    struct Message: Sendable {
        var kind: MessageKind
        var esr: UInt64 = 0, far: UInt64 = 0, hpfar: UInt64 = 0, elr: UInt64 = 0, spsr: UInt64 = 0
        var op: Int? = nil
        var x0: UInt64 = 0
        var effect: (@Sendable (SimulatedGuest) throws -> Void)? = nil
    }
    struct Result: Sendable {
        var value: UInt64, count: UInt64, mismatches: UInt64 = 0, firstMismatch: UInt64 = 0
    }
    enum Step: Sendable {
        case message(Message)
        case mmio(address: UInt64, length: Int, isWrite: Bool, data: UInt64)
        /// Written into the result area (no exit).
        case results([Result])

        static func message(
            _ kind: MessageKind, esr: UInt64 = 0, far: UInt64 = 0, hpfar: UInt64 = 0, elr: UInt64 = 0, spsr: UInt64 = 0,
            op: Int? = nil, x0: UInt64 = 0, effect: (@Sendable (SimulatedGuest) throws -> Void)? = nil
        ) -> Step {
            .message(Message(kind: kind, esr: esr, far: far, hpfar: hpfar, elr: elr, spsr: spsr, op: op, x0: x0, effect: effect))
        }
        static func resultPairs(_ r: [(UInt64, UInt64)]) -> Step { .results(r.map { Result(value: $0.0, count: $0.1) }) }
    }

    let layout = SessionLayout.standard
    var ram: [UInt8]
    var steps: [Step]
    var seq: UInt64 = 0
    var acked: UInt64 = 0
    var helloSent = false
    private(set) var sentKinds: [MessageKind] = []
    private(set) var mmioExits = 0
    private(set) var mmioAnswers: [UInt64] = []
    var remaining: Int { steps.count }
    /// What KVM_GET_ONE_REG would read (the same as the HELLO by default).
    var kvmIDRegisters: (mmfr0: UInt64, mmfr1: UInt64, mmfr2: UInt64)? = (SimulatedHello.mmfr0, 0, 0)
    func idRegisters() throws -> (mmfr0: UInt64, mmfr1: UInt64, mmfr2: UInt64)? { kvmIDRegisters }

    init(_ steps: [Step]) {
        ram = [UInt8](repeating: 0, count: Int(SessionLayout.standard.ramSize))
        self.steps = steps
    }

    func read(_ address: PhysicalAddress, count: Int) throws -> [UInt8] {
        let o = try offset(address, count)
        return Array(ram[o..<(o + count)])
    }
    func write(_ bytes: [UInt8], at address: PhysicalAddress) throws {
        let o = try offset(address, bytes.count)
        ram.replaceSubrange(o..<(o + bytes.count), with: bytes)
    }
    func completeMMIORead(_ value: UInt64) throws { mmioAnswers.append(value) }
    func trapRegisters() throws -> (esr: UInt64, far: UInt64, hpfar: UInt64)? { nil }
    var recentExits: [String] { [] }

    private func send(_ m: MailboxMessage) throws -> BackendExit {
        try write(m.encoded, at: layout.message)
        sentKinds.append(m.kind)
        return .mmio(address: layout.doorbell, length: 8, isWrite: true, data: m.seq)
    }

    func run() throws -> BackendExit {
        if !helloSent {
            helloSent = true
            seq = 1
            // CurrentEL = EL2, HCR_EL2 (E2H), ID_AA64MMFR0/1/2_EL1 (4K/16K/64K at stage 2, 40-bit PA).
            return try send(SimulatedHello.message())
        }
        // The host asked for TLB maintenance and an ACK (break-before-make inside an exit).
        let reply = try read(layout.message, count: GuestABI.messageSize)
        if reply.loadLE(UInt64.self, at: GuestABI.rplOffSeq) == seq, acked != seq,
            reply.loadLE(UInt32.self, at: GuestABI.rplOffAction) == ReplyAction.tlbiThenAck.rawValue
        {
            acked = seq + 1
            seq += 1
            return try send(MailboxMessage(kind: .ack, seq: seq))
        }
        while let step = steps.first {
            steps.removeFirst()
            switch step {
            case .results(let rs):
                for (i, r) in rs.enumerated() {
                    let at = layout.results.advanced(by: UInt64(i * GuestABI.resultSize))
                    try write(le(r.value, 8) + le(r.count, 8) + le(r.mismatches, 8) + le(r.firstMismatch, 8), at: at)
                }
            case let .mmio(address, length, isWrite, data):
                mmioExits += 1
                return .mmio(address: PhysicalAddress(address), length: length, isWrite: isWrite, data: data)
            case .message(let m):
                try m.effect?(self)
                seq += 1
                var gprs = [UInt64](repeating: 0, count: GuestABI.msgGPRCount)
                gprs[0] = m.x0
                return try send(
                    MailboxMessage(
                        kind: m.kind, seq: seq, esr: m.esr, far: m.far, hpfar: m.hpfar, elr: m.elr,
                        spsr: m.spsr, opIndex: m.op, gprs: gprs))
            }
        }
        throw BackendError.timeout(seconds: 1, lastExits: ["the simulated guest has nothing more to send"])
    }
}
