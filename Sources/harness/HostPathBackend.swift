import AArch64
import GuestProtocol
import Machine
import Runtime

/// A stand-in for the vCPU in `harness bench exits --host-path-only`: guest RAM is a plain
/// `GuestMemory` (no VM), and each `run()` plays the payload's part of one demand fault. It
/// checks the host's reply to the previous TRAP (sequence number, RESUME, TLBI IPAS2E1IS for that
/// page then VMALLE1IS), writes the next TRAP into the message page (a level-3 translation fault
/// on the next page) and returns the doorbell exit. So the session's own code — message decode
/// and checks, the register cross-check, the stage-2 map, the TLBI list, the reply — runs
/// exactly as in the KVM benchmark, and a profiler sees only the host's work.
final class HostPathBackend: GuestBackend {
    let memory: GuestMemory
    let layout: SessionLayout
    let message: MappedWindow
    /// Fault `j` (0-based) is on page `1 + j % (pagesPerTable - 1)` of last-level table
    /// `j / (pagesPerTable - 1)` from `base` (page 0 of each table is mapped up front).
    let base: UInt64
    let pageBytes: UInt64
    let pagesPerTable: UInt64
    let opCount: Int
    private(set) var seq: UInt64 = 0
    private(set) var faultsSent = 0
    /// ESR/FAR/HPFAR as `trapRegisters()` reports them (what the TRAP said).
    var lastTrap: (esr: UInt64, far: UInt64, hpfar: UInt64) = (0, 0, 0)
    /// Runs after each TRAP is written (tests change one field to see the host reject it).
    var tamper: ((HostPathBackend) -> Void)?

    init(layout: SessionLayout, base: IPA, pageBytes: UInt64, pagesPerTable: Int, opCount: Int) throws {
        memory = try GuestMemory(
            map: MemoryMap([MemoryRegion(name: "ram", base: layout.ramBase, size: layout.ramSize, kind: .ram)]))
        guard let w = memory.window(at: layout.message, count: GuestABI.messageSize) else {
            throw SessionError.layout("the message page is not in RAM")
        }
        self.layout = layout
        message = w
        self.base = base.rawValue
        self.pageBytes = pageBytes
        self.pagesPerTable = UInt64(pagesPerTable)
        self.opCount = opCount
    }

    func read(_ address: PhysicalAddress, count: Int) throws -> [UInt8] { try memory.readBytes(at: address, count: count) }
    func write(_ bytes: [UInt8], at address: PhysicalAddress) throws { try memory.write(bytes: bytes, at: address) }
    func read64(_ address: PhysicalAddress) throws -> UInt64 { try memory.read(UInt64.self, at: address) }
    func write64(_ value: UInt64, at address: PhysicalAddress) throws { try memory.write(value, at: address) }
    func completeMMIORead(_ value: UInt64) throws {}
    func trapRegisters() throws -> (esr: UInt64, far: UInt64, hpfar: UInt64)? { lastTrap }
    var recentExits: [String] { [] }
    func window(_ address: PhysicalAddress, count: Int) -> MappedWindow? { memory.window(at: address, count: count) }

    /// The payload's side of one round trip: the first call says HELLO, every later one checks
    /// the reply to the previous message and sends the next TRAP.
    func run() throws -> BackendExit {
        if seq > 0, let problem = replyProblem() { return .other("host-path payload: \(problem)") }
        seq += 1
        let w = message
        w.store32(GuestABI.messageMagic, at: GuestABI.msgOffMagic)
        w.store32(GuestABI.messageVersion, at: GuestABI.msgOffVersion)
        w.store64(seq, at: GuestABI.msgOffSeq)
        if seq == 1 {
            w.store32(MessageKind.hello.rawValue, at: GuestABI.msgOffKind)
            w.store32(0, at: GuestABI.msgOffVector)
            w.store64(UInt64.max, at: GuestABI.msgOffOpIndex)
            w.store64(2 << 2, at: GuestABI.msgOffGPRs)  // x0 = CurrentEL with EL = 2
        } else {
            guard faultsSent < opCount else { return .other("host-path payload: the op list is done") }
            let ipa = pageIPA(fault: faultsSent) + 8
            faultsSent += 1
            // ESR_EL2 (Arm ARM D24.2.40): EC 0x24 data abort from a lower EL, IL, DFSC 0b000111
            // translation fault level 3. HPFAR_EL2.FIPA (bits [47:4]) = IPA[55:12].
            lastTrap = (esr: 0x24 << 26 | 1 << 25 | 0b00_0111, far: ipa, hpfar: (ipa >> 12) << 4)
            w.store32(MessageKind.trap.rawValue, at: GuestABI.msgOffKind)
            w.store32(8, at: GuestABI.msgOffVector)  // synchronous, lower EL AArch64
            w.store64(UInt64(faultsSent - 1), at: GuestABI.msgOffOpIndex)
            w.store64(lastTrap.esr, at: GuestABI.msgOffESR)
            w.store64(lastTrap.far, at: GuestABI.msgOffFAR)
            w.store64(lastTrap.hpfar, at: GuestABI.msgOffHPFAR)
            tamper?(self)
        }
        return .mmio(address: layout.doorbell, length: 8, isWrite: true, data: seq)
    }

    /// The page fault `j` (0-based) touches.
    func pageIPA(fault j: Int) -> UInt64 {
        let j = UInt64(j)
        return base + (j / (pagesPerTable - 1) * pagesPerTable + 1 + j % (pagesPerTable - 1)) * pageBytes
    }

    /// What is wrong with the host's reply to message `seq`, nil when it is the expected one.
    func replyProblem() -> String? {
        let w = message
        guard w.load64(at: GuestABI.rplOffSeq) == seq else {
            return "reply to sequence \(w.load64(at: GuestABI.rplOffSeq)), expected \(seq)"
        }
        guard w.load32(at: GuestABI.rplOffAction) == ReplyAction.resume.rawValue else { return "reply action is not RESUME" }
        let count = w.load64(at: GuestABI.rplOffTLBICount)
        guard faultsSent > 0 else { return count == 0 ? nil : "HELLO answered with \(count) TLBIs" }
        let page = pageIPA(fault: faultsSent - 1) >> 12
        guard count == 2, w.load64(at: GuestABI.rplOffTLBI) == TLBIOperation.Code.ipas2e1is.rawValue,
            w.load64(at: GuestABI.rplOffTLBI + 8) & 0xF_FFFF_FFFF == page,
            w.load64(at: GuestABI.rplOffTLBI + GuestABI.rplTLBIEntrySize) == TLBIOperation.Code.vmalle1is.rawValue
        else { return "reply TLBIs are not IPAS2E1IS of page 0x\(String(page, radix: 16)) then VMALLE1IS" }
        return nil
    }
}
