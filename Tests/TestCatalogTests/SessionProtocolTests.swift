import AArch64
import Stage2
import Testing

@testable import GuestProtocol
@testable import Runtime
@testable import TestCatalog

/// A backend with plain memory whose "guest" is a script: each run() may write a message and
/// returns an exit. Lets the host side meet every kind of misbehaving payload.
final class ScriptedBackend: SimulatedRAM {
    let layout = SessionLayout.standard
    var ram: [UInt8]
    var script: [(ScriptedBackend) throws -> BackendExit]
    var runs = 0
    init(_ script: [(ScriptedBackend) throws -> BackendExit]) {
        ram = [UInt8](repeating: 0, count: Int(SessionLayout.standard.ramSize))
        self.script = script
    }
    func read(_ address: PhysicalAddress, count: Int) throws -> [UInt8] {
        let o = try offset(address, count)
        return Array(ram[o..<(o + count)])
    }
    func write(_ bytes: [UInt8], at address: PhysicalAddress) throws {
        let o = try offset(address, bytes.count)
        ram.replaceSubrange(o..<(o + bytes.count), with: bytes)
    }
    func run() throws -> BackendExit {
        guard runs < script.count else { throw BackendError.timeout(seconds: 1, lastExits: ["script ended"]) }
        runs += 1
        return try script[runs - 1](self)
    }
    func completeMMIORead(_ value: UInt64) throws {}
    func trapRegisters() throws -> (esr: UInt64, far: UInt64, hpfar: UInt64)? { nil }
    var recentExits: [String] { [] }

    /// A step that writes `message` and rings the doorbell with `doorbellValue` (default: its seq).
    static func send(
        _ message: MailboxMessage, doorbellValue: UInt64? = nil, corrupt: ((inout [UInt8]) -> Void)? = nil
    )
        -> (ScriptedBackend) throws -> BackendExit
    {
        { b in
            var bytes = message.encoded
            corrupt?(&bytes)
            try b.write(bytes, at: b.layout.message)
            return .mmio(address: b.layout.doorbell, length: 8, isWrite: true, data: doorbellValue ?? message.seq)
        }
    }
    static var hello: (ScriptedBackend) throws -> BackendExit {
        send(SimulatedHello.message())
    }
}

@Suite struct SessionProtocol {
    func run(_ script: [(ScriptedBackend) throws -> BackendExit]) throws -> (Outcome, ScriptedBackend) {
        let scenario = try DemandPaging.scenario(granule: .k4, ipaBits: 40)
        let backend = ScriptedBackend(script)
        let (outcome, _) = ScenarioRunner(log: { _ in }).run(scenario, requirements: [.stage2Granule(.k4)], backend: backend) { _, _ in }
        return (outcome, backend)
    }

    func failure(_ o: Outcome) -> String? { if case .fail(let m) = o { m } else { nil } }

    @Test func corruptMagicFailsClearly() throws {
        let (o, _) = try run([
            ScriptedBackend.hello,
            ScriptedBackend.send(MailboxMessage(kind: .trap, seq: 2, opIndex: 0)) { $0[0] = 0x58 },
        ])
        #expect(failure(o)?.contains("bad magic") == true)
    }

    @Test func unknownKindFails() throws {
        let (o, _) = try run([
            ScriptedBackend.hello,
            ScriptedBackend.send(MailboxMessage(kind: .trap, seq: 2, opIndex: 0)) { $0[GuestABI.msgOffKind] = 42 },
        ])
        #expect(failure(o)?.contains("unknown kind 42") == true)
    }

    @Test func opIndexOutOfRangeFails() throws {
        let (o, _) = try run([ScriptedBackend.hello, ScriptedBackend.send(MailboxMessage(kind: .trap, seq: 2, opIndex: 9999))])
        #expect(failure(o)?.contains("op index 9999") == true)
    }

    @Test func wrongDoorbellSequenceFails() throws {
        let (o, _) = try run([
            ScriptedBackend.hello,
            ScriptedBackend.send(MailboxMessage(kind: .trap, seq: 2, opIndex: 0), doorbellValue: 7),
        ])
        #expect(failure(o)?.contains("doorbell carried sequence number 7, expected 2") == true)
    }

    @Test func firstMessageMustBeHello() throws {
        let (o, _) = try run([ScriptedBackend.send(MailboxMessage(kind: .done, seq: 1, opIndex: 0))])
        #expect(failure(o)?.contains("expected HELLO") == true)
    }

    @Test func unexpectedMMIOAndExitsFail() throws {
        let (o1, _) = try run([
            ScriptedBackend.hello, { _ in .mmio(address: PhysicalAddress(0x0C00_0000), length: 4, isWrite: false, data: 0) },
        ])
        #expect(failure(o1)?.contains("unexpected MMIO read of 4 bytes at 0xc000000") == true)
        let (o2, _) = try run([ScriptedBackend.hello, { _ in .other("KVM_EXIT_INTERNAL_ERROR") }])
        #expect(failure(o2)?.contains("KVM_EXIT_INTERNAL_ERROR") == true)
    }

    @Test func hangBecomesTimeout() throws {
        let (o, _) = try run([ScriptedBackend.hello])
        guard case .timeout(let why) = o else {
            Issue.record("expected a timeout, got \(o)")
            return
        }
        #expect(why.contains("script ended"))
    }

    @Test func vEL2PanicIsDecoded() throws {
        // A synchronous exception at vEL2 itself (vector 4): data abort at the current EL.
        let panic = MailboxMessage(kind: .panic, vector: 4, seq: 2, esr: 0x9600_0010, far: 0xdead_0000, elr: 0x4000_0100, opIndex: nil)
        let (o, _) = try run([ScriptedBackend.hello, ScriptedBackend.send(panic)])
        let m = failure(o)
        #expect(m?.contains("PANIC at vEL2 (synchronous, current EL with SPx)") == true)
        #expect(m?.contains("FAR 0xdead0000") == true)
    }

    @Test func doneTooEarlyFailsTheChecks() throws {
        let (o, _) = try run([ScriptedBackend.hello, ScriptedBackend.send(MailboxMessage(kind: .done, seq: 2, opIndex: 13))])
        let m = failure(o)
        #expect(m?.contains("expected fault(s) never happened") == true)
        #expect(m?.contains("ran 0 time(s)") == true)
    }

    @Test func wrongFaultIsReported() throws {
        // Op 0 is a 64-bit load of 0x8000000010 expected to fault at level 1; report level 3 and a wrong FAR.
        let trap = MailboxMessage(
            kind: .trap, seq: 2, esr: 0x93CB_8007, far: 0x80_0000_0018,
            hpfar: 0x8000_0000_8000_0000, elr: 0x4000_1230, spsr: 0x3C5, opIndex: 0)
        var reply: [UInt8] = []
        let done = ScriptedBackend.send(MailboxMessage(kind: .done, seq: 3, opIndex: 13))
        let (o, _) = try run([
            ScriptedBackend.hello, ScriptedBackend.send(trap),
            { b in
                // What the payload would read when the doorbell store completes.
                reply = try b.read(b.layout.message, count: GuestABI.messageSize)
                return try done(b)
            },
        ])
        let m = failure(o) ?? ""
        #expect(m.contains("translation fault at level 3, expected translation at level 1"))
        #expect(m.contains("FAR_EL2 0x8000000018, expected 0x8000000010"))
        // The host still mapped the page and told the payload to resume with the TLBIs.
        #expect(reply.loadLE(UInt32.self, at: GuestABI.rplOffAction) == ReplyAction.resume.rawValue)
        #expect(reply.loadLE(UInt64.self, at: GuestABI.rplOffSeq) == 2)
        #expect(reply.loadLE(UInt64.self, at: GuestABI.rplOffTLBICount) == 2)
        #expect(reply.loadLE(UInt64.self, at: GuestABI.rplOffTLBI) == TLBIOperation.Code.ipas2e1is.rawValue)
        // IPAS2E1IS Xt = IPA >> 12 (TTL 0: the HELLO said no FEAT_TTL).
        #expect(reply.loadLE(UInt64.self, at: GuestABI.rplOffTLBI + 8) == 0x80_0000_0000 >> 12)
    }
}

@Suite struct CustomFaultPolicy {
    /// The trap op 0 of the 4K demand-paging scenario raises (64-bit load of 0x8000000010,
    /// translation fault at level 1: ESR 0x93cb8005, HPFAR page 0x8000000000).
    static let trap = MailboxMessage(
        kind: .trap, seq: 2, esr: 0x93CB_8005, far: 0x80_0000_0010,
        hpfar: 0x8000_0000_8000_0000, elr: 0x4000_1230, spsr: 0x3C5, opIndex: 0)

    func run(_ policy: FaultPolicy, _ afterTrap: @escaping (ScriptedBackend) throws -> BackendExit) throws -> Outcome {
        var scenario = try DemandPaging.scenario(granule: .k4, ipaBits: 40)
        scenario.policy = policy
        let backend = ScriptedBackend([ScriptedBackend.hello, ScriptedBackend.send(Self.trap), afterTrap])
        return ScenarioRunner(log: { _ in }).run(scenario, requirements: [], backend: backend) { _, _ in }.outcome
    }

    @Test func handlerDecidesTheReply() throws {
        nonisolated(unsafe) var seen: [Int] = []
        var replyAction: UInt32 = 0
        let outcome = try run(
            .custom { event, session in
                seen.append(event.index)
                #expect(event.report.status?.level == 1)
                try session.reply(.skip)
            }
        ) { b in
            replyAction = try b.read(b.layout.message, count: GuestABI.messageSize).loadLE(UInt32.self, at: GuestABI.rplOffAction)
            return try ScriptedBackend.send(MailboxMessage(kind: .done, seq: 3, opIndex: 13))(b)
        }
        #expect(seen == [0])
        #expect(replyAction == ReplyAction.skip.rawValue)
        // The scripted guest ran no ops, so the run still fails — on the results, not the handler.
        guard case .fail(let why) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(!why.contains("did not answer"))
    }

    @Test func handlerThatDoesNotAnswerFails() throws {
        let outcome = try run(.custom { _, _ in }) { _ in .other("unreachable") }
        guard case .fail(let why) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(why.contains("did not answer fault 0"))
    }
}

/// The non-VHE (HAS_EL2_E2H0) variants: HCR_EL2.E2H is bit 34 (Arm ARM D24.2 HCR_EL2); a vCPU
/// created with HAS_EL2_E2H0 must report it clear at vEL2 entry (the HELLO message's HCR).
@Suite struct NonVHEGuestHypervisor {
    func outcome(helloHCR: UInt64) throws -> Outcome {
        var scenario = try DemandPaging.scenario(granule: .k4, ipaBits: 40)
        scenario.nonVHE = true
        let hello = ScriptedBackend.send(SimulatedHello.message(hcr: helloHCR))
        let backend = ScriptedBackend([hello, ScriptedBackend.send(MailboxMessage(kind: .done, seq: 2, opIndex: 13))])
        return ScenarioRunner(log: { _ in }).run(scenario, requirements: [.stage2Granule(.k4)], backend: backend) { _, _ in }.outcome
    }

    @Test func e2hSetAtEntryFailsTheNonVHEVariant() throws {
        guard case .fail(let m) = try outcome(helloHCR: 0x4_8000_0000) else {
            Issue.record("expected a failure")
            return
        }
        #expect(m.contains("HAS_EL2_E2H0") && m.contains("E2H, bit 34, set"))
    }

    @Test func e2hClearProceedsToTheFaultChecks() throws {
        // E2H clear: the run goes on (and then fails only because the script ends early).
        guard case .fail(let m) = try outcome(helloHCR: 0x8000_0000) else {
            Issue.record("expected the early-DONE failure")
            return
        }
        #expect(!m.contains("E2H, bit 34"))
        #expect(m.contains("expected fault(s) never happened"))
    }

    @Test func catalogHasTheNonVHEDemandPagingVariants() throws {
        let t = try #require(Catalog.tests.first { $0.name == "demand-paging-e2h0" })
        #expect(t.variants.map(\.name) == ["4k", "16k", "64k"])
        for v in t.variants { #expect(try v.scenario(HostFacts()).nonVHE) }
    }
}
