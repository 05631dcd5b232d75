import AArch64
import GuestProtocol
import Machine
import Stage2

/// One thing the nested guest must cause, in order, and how the host reacts to it. A
/// scenario with `events` runs them instead of `expectedFaults` + `policy`: every trap,
/// EL1 exception and MMIO exit must be the next expected event, exactly.
public struct ExpectedEvent: Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable, CustomStringConvertible {
        /// A stage-2 abort (data or instruction) with its decoded syndrome.
        case stage2Fault(ExpectedFault)
        /// HVC from the nested guest: ESR_EL2.EC 0x16 with ISS[15:0] = imm, for `opIndex`.
        case hvc(imm: UInt16, opIndex: Int)
        /// SMC trapped by HCR_EL2.TSC: EC 0x17 with ISS[15:0] = imm.
        case smc(imm: UInt16, opIndex: Int)
        /// KVM_EXIT_MMIO at this (L1) physical address; `data` checked for writes.
        case mmio(address: PhysicalAddress, bytes: Int, write: Bool, data: UInt64?)
        /// An exception the nested guest took at EL1 (reported by its own vectors), by EC.
        case el1Exception(ec: UInt8, opIndex: Int)
        public var description: String {
            switch self {
            case .stage2Fault(let f): "stage-2 fault: \(f)"
            case let .hvc(imm, op): "op \(op): HVC #0x\(String(imm, radix: 16))"
            case let .smc(imm, op): "op \(op): SMC #0x\(String(imm, radix: 16))"
            case let .mmio(a, n, w, d):
                "MMIO \(w ? "write" : "read") of \(n) byte(s) at \(a)" + (d.map { " data 0x\(String($0, radix: 16))" } ?? "")
            case let .el1Exception(ec, op): "op \(op): EL1 exception EC 0x\(String(ec, radix: 16))"
            }
        }
    }
    /// What the host does before answering (in order). Stage-2 edits go through the
    /// session, so break-before-make's TLB maintenance happens inside the exit.
    public enum Reaction: Sendable {
        /// Map the faulting unit (page or `blockSize`) from the scenario's backing plan.
        case demandMap(blockSize: UInt64?, attributes: Stage2Attributes)
        case map(ipa: IPA, pa: PhysicalAddress, size: UInt64, attributes: Stage2Attributes)
        case unmap(ipa: IPA, size: UInt64)
        case protect(ipa: IPA, size: UInt64, attributes: Stage2Attributes)
        /// Read the descriptor for `ipa` at `level`, set and clear bits, write it back raw,
        /// then invalidate that IPA (by-IPA TLBI at `level` + VMALLE1IS) in the reply.
        case editDescriptor(ipa: IPA, level: Int, set: UInt64, clear: UInt64)
        /// The value an MMIO read returns (only for `.mmio` reads).
        case answerMMIO(UInt64)
        /// Replace x0 of the trapped context (an hvc/smc's return value).
        case setX0(UInt64)
        /// A new VTTBR_EL2 installed by the reply (registers are written before its TLBIs).
        case setVTTBR(UInt64)
        /// VTTBR_EL2 = the tables' own VTTBR with these bits set (0: restore it).
        case setVTTBRBits(UInt64)
        /// A new VNCR_EL2 installed by the reply (FEAT_NV2: where the nested guest's accesses to
        /// VNCR-redirected registers go, while HCR_EL2.{NV, NV2} = {1, 1}).
        case setVNCR(UInt64)
        /// Replace the descriptor for `ipa` at `level` with `value` (raw, no checks), saving
        /// the old one for `.restoreDescriptors`; the reply invalidates the VMID.
        case swapDescriptor(ipa: IPA, level: Int, value: UInt64)
        /// Put back every descriptor `.swapDescriptor` replaced (latest first).
        case restoreDescriptors
        /// VTCR_EL2 = the tables' own VTCR with SL0 [7:6], T0SZ [5:0], PS [18:16] and/or TG0
        /// [15:14] replaced (all nil: restore it).
        case patchVTCR(sl0: UInt64?, t0sz: UInt64?, ps: UInt64? = nil, tg0: UInt64? = nil)
        /// Extra TLB operations in the reply (after the register writes).
        case tlbi([TLBIOperation])
        /// Map in a table set (nil: the session's tables) with break-before-make; the TLB
        /// maintenance runs in the exit under `tlbiUnder` (nil: the current VTTBR), with the
        /// operations `tlbi` when given (the session's choice otherwise).
        case mapIn(
            set: String?, ipa: IPA, pa: PhysicalAddress, size: UInt64, attributes: Stage2Attributes,
            tlbiUnder: TableSetVTTBR?, tlbi: [TLBIOperation]?)
        /// The reply resumes the guest under this VTTBR_EL2.
        case resumeUnder(TableSetVTTBR)
        /// The harness's walk of a table set (nil: the session's) must translate `ipa` to `pa`
        /// with a leaf at `level`; otherwise the test fails.
        case expectTranslation(set: String?, ipa: IPA, pa: PhysicalAddress, level: Int)
        /// The raw descriptor for `ipa` at `level` in the session's tables, as the guest's
        /// memory holds it now, must have every bit of `set` set and every bit of `clear`
        /// clear (e.g. the Access flag a hardware update wrote); otherwise the test fails.
        case expectDescriptor(ipa: IPA, level: Int, set: UInt64, clear: UInt64)
        /// Answers a KVM_EXIT_MMIO at a PA no memslot backs by backing it: a memslot of one host
        /// page is added there, `plant` written into it, the exit completed without running the
        /// guest and the PC moved back one instruction, so op `opIndex`'s access runs again
        /// against memory. Needs the KVM backend and host pages of at most `maxHostPage` bytes.
        case backWithMemory(opIndex: Int, plant: [(PhysicalAddress, [UInt8])], maxHostPage: UInt64)
        /// KVM_GET_DIRTY_LOG of the scenario's `dirtyLog` memslot (reading clears it) must hold
        /// exactly these pages of the region, plus the payload's pages when `payload` and the
        /// memslot is the RAM one; otherwise the test fails.
        case expectDirty(pages: [Int], payload: Bool)
        /// KVM_MEM_LOG_DIRTY_PAGES on/off for the RAM memslot (KVM_SET_USER_MEMORY_REGION).
        case dirtyLogging(Bool)
        /// KVM_GET_DIRTY_LOG of the RAM memslot must list each address's host page.
        case expectDirtyAddresses([PhysicalAddress])
        /// New zero-filled host memory behind `[pa, pa + size)` in place of the old (unmapped),
        /// then `plant`.
        case replaceBacking(pa: PhysicalAddress, size: UInt64, copy: Bool = false, plant: [(PhysicalAddress, [UInt8])])
        /// Unmap in a table set (nil: the session's) with break-before-make; the TLB maintenance
        /// runs under `tlbiUnder` (nil: the current VTTBR) with exactly `tlbi` when given (the
        /// session's choice otherwise), and must include every operation of `expectTLBI`.
        case unmapIn(
            set: String?, ipa: IPA, size: UInt64, tlbiUnder: TableSetVTTBR?, tlbi: [TLBIOperation]?,
            expectTLBI: [TLBIOperation.Code])
        /// The harness's walk of a table set (nil: the session's) must not translate `ipa`.
        case expectUnmapped(set: String?, ipa: IPA)
        /// Concurrent vCPUs: publish that this point was reached (events `after` it may happen).
        case mark(String)
        /// Concurrent vCPUs: wait until every other vCPU's watch op has made its first read.
        case waitForWatchers
    }
    /// How the reply resumes the guest: RESUME (retry a fault; after an hvc, the next
    /// instruction) or SKIP (ELR+4: past a trapped SMC, whose ELR is the SMC itself).
    public enum Resume: Sendable { case retry, skip }

    public var kind: Kind
    public var reactions: [Reaction]
    public var resume: Resume
    /// Lockstep vCPUs: after the reply, this vCPU stays stopped and vCPU `switchTo` runs.
    public var switchTo: Int? = nil
    /// Concurrent vCPUs: the event may happen any number of times (zero included) here.
    public var repeats = false
    /// With `repeats`: at each occurrence the flag the guest read last (x14) must be below `below`.
    public var whileFlag: (at: UInt64, below: UInt64)? = nil
    /// Concurrent vCPUs: the event may happen only once a host step `mark` with this name ran.
    public var after: String? = nil
    public init(_ kind: Kind, reactions: [Reaction] = [], resume: Resume = .retry) {
        self.kind = kind
        self.reactions = reactions
        self.resume = resume
    }
    public var description: String { kind.description }
}
