import AArch64
import GuestProtocol
import Runtime
import Stage2
import Testing

@testable import harness

/// `harness bench exits --host-path-only`: the demand-fault host path (session + Stage2 builder
/// + `DemandFaultHost`) against the stand-in payload, with the message page read in place
/// through a `MappedWindow` as on KVM. The faults must really be served (every page mapped
/// to the backing, each reply checked by the stand-in), and every message check must still fire
/// on that path: each test changes one field of a TRAP and the session must reject it.
@Suite struct HostPathBenchTests {
    static let granule = Granule.k4
    static let base = IPA(0x80_0000_0000)

    /// A session at the first TRAP's doorbell, after HELLO; `faults` TRAPs on offer.
    static func start(faults: Int, tamper: ((HostPathBackend) -> Void)? = nil) throws -> (GuestSession, HostPathBackend, DemandFaultHost) {
        let layout = SessionLayout.standard
        let backend = try HostPathBackend(
            layout: layout, base: base, pageBytes: granule.bytes, pagesPerTable: granule.entriesPerTable, opCount: faults)
        let ops = (0..<faults).map { GuestOp(.load64, address: backend.pageIPA(fault: $0) + 8) }
        let session = try GuestSession(backend: backend, granule: granule, ipaBits: 40, ops: ops, log: { _ in })
        let tables = (faults + granule.entriesPerTable - 2) / (granule.entriesPerTable - 1)
        for t in 0..<tables {
            let first = IPA(base.rawValue + UInt64(t * granule.entriesPerTable) * granule.bytes)
            try session.map(ipa: first, pa: layout.dataPool, size: granule.bytes, attributes: .normalRWX)
        }
        try session.configure { _, _ in }
        #expect(try session.nextMessage().kind == .hello)
        try session.reply(.resume)
        backend.tamper = tamper
        return (session, backend, DemandFaultHost(session: session, granule: granule, backing: layout.dataPool))
    }

    @Test func faultsAcrossTablesAreMappedAndAnswered() throws {
        let n = 600  // more than one last-level table's 511 faulting pages
        let (session, backend, h) = try Self.start(faults: n)
        var host = h
        for _ in 0..<n { try host.handle(try session.nextMessage(), received: 0) }
        #expect(backend.faultsSent == n)
        #expect(backend.replyProblem() == nil)
        for j in [0, 1, 510, 511, n - 1] {
            let t = try #require(session.tables.walk(IPA(backend.pageIPA(fault: j) + 8)).translation)
            #expect(t.outputAddress == SessionLayout.standard.dataPool.advanced(by: 8))
            #expect(t.level == 3)
        }
        // Page 0 of the second table was mapped up front, never faulted on.
        #expect(backend.pageIPA(fault: 511) == Self.base.rawValue + 513 * Self.granule.bytes)
    }

    @Test func aWrongReplyIsCaughtByTheStandIn() throws {
        let (session, backend, _) = try Self.start(faults: 4)
        let m = try session.nextMessage()
        let page = try #require(FaultReport(esr: m.esr, far: m.far, hpfar: m.hpfar).ipa).alignedDown(to: Self.granule.bytes)
        try session.map(ipa: page, pa: SessionLayout.standard.dataPool, size: Self.granule.bytes, attributes: .normalRWX)
        // VMALLE1IS alone: the IPAS2E1IS for the page is missing.
        try session.reply(.resume, tlbi: [.vmalle1is])
        #expect(backend.replyProblem() != nil)
        #expect(throws: SessionError.self) { try session.nextMessage() }
    }

    /// One field of the TRAP changed; the session must refuse the message with `expected` in its text.
    func rejected(_ expected: String, _ change: @escaping (HostPathBackend) -> Void) throws {
        let (session, _, _) = try Self.start(faults: 4, tamper: change)
        do {
            _ = try session.nextMessage()
            Issue.record("accepted a TRAP with a wrong field (\(expected))")
        } catch let e as SessionError {
            #expect("\(e)".contains(expected), "\(e)")
        }
    }

    @Test func everyMessageCheckFiresOnTheInPlacePath() throws {
        try rejected("magic") { $0.message.store32(0x1234_5678, at: GuestABI.msgOffMagic) }
        try rejected("version") { $0.message.store32(GuestABI.messageVersion + 1, at: GuestABI.msgOffVersion) }
        try rejected("unknown kind") { $0.message.store32(0xFF, at: GuestABI.msgOffKind) }
        try rejected("vector 16") { $0.message.store32(16, at: GuestABI.msgOffVector) }
        try rejected("sequence number 7") { $0.message.store64(7, at: GuestABI.msgOffSeq) }
        try rejected("op index 4") { $0.message.store64(4, at: GuestABI.msgOffOpIndex) }
    }

    @Test func theRegisterCrossCheckFires() throws {
        try rejected("KVM's vCPU state disagrees") { $0.lastTrap.far ^= 0x1000 }
        try rejected("KVM's vCPU state disagrees") { $0.lastTrap.esr ^= 1 }
        try rejected("KVM's vCPU state disagrees") { $0.lastTrap.hpfar ^= 0x10 }
    }

    /// The session refills one TLBI list buffer in place; a list the caller still holds must
    /// not change under it.
    @Test func aHeldTLBIListIsNotOverwritten() throws {
        let (session, _, _) = try Self.start(faults: 1)
        let a = session.payloadOperations(for: .ipa(IPA(0x1000), level: 3, granule: Self.granule))
        let b = session.payloadOperations(for: .ipa(IPA(0x5000), level: 3, granule: Self.granule))
        #expect(a == [.ipas2e1is(0x1), .vmalle1is])
        #expect(b == [.ipas2e1is(0x5), .vmalle1is])
        let c = session.payloadOperations(for: .allForVMID)
        #expect(c == [.vmalls12e1is])
        #expect(b == [.ipas2e1is(0x5), .vmalle1is])
    }
}
