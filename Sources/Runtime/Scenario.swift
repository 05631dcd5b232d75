import AArch64
import GuestProtocol
import Machine
import Stage2

/// A catalog test as data: what it needs, and per variant the scenario it runs.
public struct CatalogTest: Sendable {
    public var name: String
    public var summary: String
    /// Tags every variant of the test carries (`--group`); variants may add their own.
    public var tags: Set<TestTag>
    public var variants: [TestVariant]
    public init(name: String, summary: String, tags: Set<TestTag> = [], variants: [TestVariant]) {
        self.name = name
        self.summary = summary
        self.tags = tags
        self.variants = variants
    }
}

public struct TestVariant: Sendable {
    public var name: String
    public var summary: String
    public var requirements: [Requirement]
    /// Tags of this variant on top of its test's (e.g. `smoke` on one variant per granule).
    public var tags: Set<TestTag>
    /// How long the variant may run natively before the watchdog stops it (see `TimeoutPolicy`).
    public var budget: TimeBudget
    /// Builds the scenario for the host the test runs on (may throw a skip).
    public var scenario: @Sendable (HostFacts) throws -> Scenario
    /// Failures of this variant known on some kernels (see `KnownFailure`, `Verdict`).
    public var knownFailures: [KnownFailure]
    public init(
        name: String, summary: String, requirements: [Requirement] = [], tags: Set<TestTag> = [],
        budget: TimeBudget = .standard, knownFailures: [KnownFailure] = [],
        scenario: @escaping @Sendable (HostFacts) throws -> Scenario
    ) {
        self.name = name
        self.summary = summary
        self.requirements = requirements
        self.knownFailures = knownFailures
        self.tags = tags
        self.budget = budget
        self.scenario = scenario
    }
}

/// Something a variant needs from the vCPU; checked against the ID registers the payload
/// reads at vEL2 (HELLO) before the nested guest runs. Unmet → skip with the reason.
public enum Requirement: Sendable, Equatable, CustomStringConvertible {
    /// ID_AA64MMFR0_EL1.TGran{4,16,64}_2 says the granule is supported at stage 2.
    case stage2Granule(Granule)
    /// ID_AA64MMFR0_EL1.PARange covers this many IPA/PA bits.
    case physicalAddressBits(Int)
    /// FEAT_XNX present (true) or absent (false): ID_AA64MMFR1_EL1.XNX, bits [31:28].
    case xnx(Bool)
    /// FEAT_TTL: ID_AA64MMFR2_EL1.TTL, bits [51:48], non-zero.
    case ttl
    /// 16-bit VMIDs: ID_AA64MMFR1_EL1.VMIDBits, bits [7:4], = 0b0010.
    case vmid16
    /// FEAT_TTCNP: ID_AA64MMFR2_EL1.CnP, bits [3:0], non-zero.
    case cnp
    /// FEAT_TLBIRANGE: ID_AA64ISAR0_EL1.TLB, bits [59:56], = 0b0010.
    case tlbiRange
    /// FEAT_HAFDBS: ID_AA64MMFR1_EL1.HAFDBS, bits [3:0], non-zero (hardware Access flag).
    case hardwareAccessFlag
    /// FEAT_S2FWB (HCR_EL2.FWB).
    case stage2FWB
    /// FEAT_NV2 (HCR_EL2.NV2, VNCR_EL2) at vEL2: the guest hypervisor can nest a hypervisor.
    case nv2
    public var description: String {
        switch self {
        case .stage2Granule(let g): "\(g) granule at stage 2"
        case .physicalAddressBits(let b): "\(b)-bit physical addresses"
        case .xnx(let present): present ? "FEAT_XNX" : "no FEAT_XNX"
        case .ttl: "FEAT_TTL"
        case .vmid16: "16-bit VMIDs"
        case .cnp: "FEAT_TTCNP"
        case .tlbiRange: "FEAT_TLBIRANGE"
        case .hardwareAccessFlag: "FEAT_HAFDBS"
        case .stage2FWB: "FEAT_S2FWB"
        case .nv2: "FEAT_NV2 at vEL2"
        }
    }
}

/// What the host knows before building a scenario.
public struct HostFacts: Sendable {
    /// KVM_CAP_ARM_VM_IPA_SIZE (the VM's guest-physical size), 40 when unknown.
    public var vmIPABits: Int
    /// Seed for randomized tests (`--seed`, derived per test and repetition by the runner).
    public var seed: UInt64 = 0
    public init(vmIPABits: Int = 40) { self.vmIPABits = vmIPABits }
}

/// ID registers as the vCPU reports them at vEL2 (HELLO message).
public struct VCPUFacts: Sendable, Equatable {
    public var currentEL: UInt64
    public var hcrAtEntry: UInt64
    public var mmfr0: UInt64
    public var mmfr1: UInt64
    public var mmfr2: UInt64
    /// ID_AA64ISAR0_EL1 (0 from a payload that does not report it: no TLB range operations).
    public var isar0: UInt64 = 0
    /// ID_AA64MMFR4_EL1 (0 from a payload that does not report it).
    public var mmfr4: UInt64 = 0

    /// HCR_EL2.E2H (bit 34): the guest hypervisor runs VHE-style.
    public var e2h: Bool { hcrAtEntry & (1 << 34) != 0 }
    /// FEAT_TTL: ID_AA64MMFR2_EL1.TTL, bits [51:48] (Arm ARM D24.2 ID_AA64MMFR2_EL1).
    public var hasTTL: Bool { (mmfr2 >> 48) & 0xF != 0 }
    /// FEAT_XNX: ID_AA64MMFR1_EL1.XNX, bits [31:28] (Arm ARM D24.2 ID_AA64MMFR1_EL1).
    public var hasXNX: Bool { (mmfr1 >> 28) & 0xF != 0 }
    /// FEAT_TLBIRANGE: ID_AA64ISAR0_EL1.TLB, bits [59:56], = 0b0010 (Arm ARM D24.2 ID_AA64ISAR0_EL1;
    /// 0b0001 is FEAT_TLBIOS alone).
    public var hasTLBIRange: Bool { (isar0 >> 56) & 0xF == 0b0010 }
    /// FEAT_HAFDBS: ID_AA64MMFR1_EL1.HAFDBS, bits [3:0], 0b0001 (AF) or more (Arm ARM D24.2).
    public var hasHardwareAccessFlag: Bool { mmfr1 & 0xF != 0 }
    /// FEAT_NV2: ID_AA64MMFR2_EL1.NV, bits [27:24], = 0b0010, or NV = 0 with
    /// ID_AA64MMFR4_EL1.NV_frac, bits [23:20], = 0b0001 (FEAT_NV2 without FEAT_NV) (Arm ARM D24.2).
    public var hasNV2: Bool {
        let nv = (mmfr2 >> 24) & 0xF
        return nv == 0b0010 || (nv == 0 && (mmfr4 >> 20) & 0xF == 0b0001)
    }
    /// FEAT_S2FWB: ID_AA64MMFR2_EL1.FWB, bits [43:40] (Arm ARM D24.2 ID_AA64MMFR2_EL1).
    public var hasStage2FWB: Bool { (mmfr2 >> 40) & 0xF != 0 }
    /// ID_AA64MMFR0_EL1 decoded once, by the same code `harness doctor` uses (Machine's
    /// `IDAA64MMFR0`, Arm ARM D24.2 ID_AA64MMFR0_EL1).
    public var mmfr0Fields: IDAA64MMFR0 { IDAA64MMFR0(rawValue: mmfr0) }
    /// ID_AA64MMFR0_EL1.PARange → bits; a reserved encoding counts as the architectural
    /// minimum, 32 bits, so no requirement is met on its strength.
    public var paBits: Int { mmfr0Fields.physicalAddressBits ?? 32 }

    /// Stage-2 granule support from TGran<N>_2 (0b0000 defers to the stage-1 TGran<N> field,
    /// whose encodings differ per granule); reserved encodings count as unsupported.
    public func supportsStage2(_ granule: Granule) -> Bool { mmfr0Fields.stage2(granule).isSupported }

    public func unmet(_ r: Requirement) -> String? {
        switch r {
        case .stage2Granule(let g):
            supportsStage2(g)
                ? nil : "the vCPU does not support the \(g) granule at stage 2 (ID_AA64MMFR0_EL1 0x\(String(mmfr0, radix: 16)))"
        case .physicalAddressBits(let b):
            paBits >= b ? nil : "the vCPU's PARange is \(paBits) bits, the test needs \(b)"
        case .xnx(let want):
            hasXNX == want
                ? nil
                : "the vCPU \(hasXNX ? "has" : "lacks") FEAT_XNX (ID_AA64MMFR1_EL1 0x\(String(mmfr1, radix: 16))); this variant is for a vCPU that \(want ? "has" : "lacks") it"
        case .ttl:
            hasTTL ? nil : "FEAT_TTL is not implemented (ID_AA64MMFR2_EL1.TTL = 0): the TTL field is RES0"
        case .vmid16:
            (mmfr1 >> 4) & 0xF == 0b0010
                ? nil
                : "the vCPU has 8-bit VMIDs (ID_AA64MMFR1_EL1.VMIDBits = \((mmfr1 >> 4) & 0xF)): VMID[15:8] are RES0, nothing can alias"
        case .cnp:
            mmfr2 & 0xF != 0
                ? nil : "FEAT_TTCNP is not implemented (ID_AA64MMFR2_EL1.CnP = 0, 0x\(String(mmfr2, radix: 16))): VTTBR_EL2.CnP is RES0"
        case .tlbiRange:
            hasTLBIRange
                ? nil
                : "FEAT_TLBIRANGE is not implemented (ID_AA64ISAR0_EL1.TLB = \((isar0 >> 56) & 0xF), 0x\(String(isar0, radix: 16))): TLBI RIPAS2E1IS is UNDEFINED"
        case .hardwareAccessFlag:
            hasHardwareAccessFlag
                ? nil : "FEAT_HAFDBS is not implemented (ID_AA64MMFR1_EL1.HAFDBS = 0, 0x\(String(mmfr1, radix: 16))): VTCR_EL2.HA is RES0"
        case .stage2FWB:
            hasStage2FWB
                ? nil : "FEAT_S2FWB is not implemented (ID_AA64MMFR2_EL1.FWB = 0, 0x\(String(mmfr2, radix: 16))): HCR_EL2.FWB is RES0"
        case .nv2:
            hasNV2
                ? nil
                : "KVM does not give the guest hypervisor FEAT_NV2 (ID_AA64MMFR2_EL1.NV = \((mmfr2 >> 24) & 0xF), ID_AA64MMFR4_EL1.NV_frac = \((mmfr4 >> 20) & 0xF); MMFR2 0x\(String(mmfr2, radix: 16)), MMFR4 0x\(String(mmfr4, radix: 16))): HCR_EL2.NV2 and VNCR_EL2 are RES0 or UNDEFINED at vEL2, so no VNCR page can exist"
        }
    }
}

/// One IPA range the stage-2 tables map before the nested guest starts.
public struct Stage2Mapping: Sendable {
    public var ipa: IPA
    public var pa: PhysicalAddress
    public var size: UInt64
    public var attributes: Stage2Attributes
    public init(ipa: IPA, pa: PhysicalAddress, size: UInt64, attributes: Stage2Attributes) {
        self.ipa = ipa
        self.pa = pa
        self.size = size
        self.attributes = attributes
    }
}

/// The kind of access a fault is expected for.
public enum ExpectedAccess: Sendable, Equatable, CustomStringConvertible {
    /// A load/store: size in bytes, WnR, transfer register, 64-bit register (SF).
    case data(bytes: Int, write: Bool, register: Int, sixtyFourBit: Bool)
    case fetch
    public var description: String {
        switch self {
        case let .data(b, w, r, sf): "\(w ? "write" : "read") of \(b) byte(s) \(w ? "from" : "into") \(sf ? "x" : "w")\(r)"
        case .fetch: "instruction fetch"
        }
    }
}

/// One stage-2 fault the nested guest must raise, in order.
public struct ExpectedFault: Sendable, Equatable, CustomStringConvertible {
    public var opIndex: Int
    /// The exact faulting address (FAR, and HPFAR's page + FAR[11:0]).
    public var address: UInt64
    public var access: ExpectedAccess
    public var kind: FaultStatus.Kind
    public var level: Int
    /// Whether HPFAR_EL2 must name the faulting IPA. Arm ARM D24.2 HPFAR_EL2: it holds the
    /// IPA for stage-2 Translation, Access flag and Address size faults and for faults on a
    /// stage-1 walk; for other aborts (a stage-2 Permission fault) it is UNKNOWN, so it is
    /// logged, not checked.
    public var hpfarValid: Bool = true
    /// Compare with the builder's software walk of the tables (off when the fault comes from
    /// registers the reply changed, e.g. a corrupted VTTBR_EL2, which the builder's walk
    /// does not see).
    public var checkSoftwareWalk: Bool = true
    public var description: String {
        "op \(opIndex): \(kind) fault L\(level), \(access) at 0x\(String(address, radix: 16))"
    }
    public init(
        opIndex: Int, address: UInt64, access: ExpectedAccess, kind: FaultStatus.Kind, level: Int,
        hpfarValid: Bool? = nil
    ) {
        self.opIndex = opIndex
        self.address = address
        self.access = access
        self.kind = kind
        self.level = level
        self.hpfarValid = hpfarValid ?? (kind != .permission)
    }
}

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
        /// Replace the descriptor for `ipa` at `level` with `value` (raw, no checks), saving
        /// the old one for `.restoreDescriptors`; the reply invalidates the VMID.
        case swapDescriptor(ipa: IPA, level: Int, value: UInt64)
        /// Put back every descriptor `.swapDescriptor` replaced (latest first).
        case restoreDescriptors
        /// VTCR_EL2 = the tables' own VTCR with SL0 [7:6] and/or T0SZ [5:0] replaced (both
        /// nil: restore it).
        case patchVTCR(sl0: UInt64?, t0sz: UInt64?)
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
        /// KVM_MEM_LOG_DIRTY_PAGES on/off for the RAM memslot (KVM_SET_USER_MEMORY_REGION).
        case dirtyLog(Bool)
        /// Fails unless KVM_GET_DIRTY_LOG of the RAM memslot lists each address's host page.
        case expectDirty([PhysicalAddress])
        /// munmap + mmap (zero-filled) of the host memory behind `[pa, pa + size)`, then `plant`.
        case replaceBacking(pa: PhysicalAddress, size: UInt64, plant: [(PhysicalAddress, [UInt8])])
    }
    /// How the reply resumes the guest: RESUME (retry a fault; after an hvc, the next
    /// instruction) or SKIP (ELR+4: past a trapped SMC, whose ELR is the SMC itself).
    public enum Resume: Sendable { case retry, skip }

    public var kind: Kind
    public var reactions: [Reaction]
    public var resume: Resume
    public init(_ kind: Kind, reactions: [Reaction] = [], resume: Resume = .retry) {
        self.kind = kind
        self.reactions = reactions
        self.resume = resume
    }
    public var description: String { kind.description }
}

/// How the host reacts to a stage-2 fault (after the runner has checked it against the
/// expectation and printed it).
public enum FaultPolicy: Sendable {
    /// Map the faulting granule-sized page (or `blockSize` block) from `backing` and retry.
    case demandMap(blockSize: UInt64?, attributes: Stage2Attributes)
    /// Any stage-2 fault fails the test.
    case none
    /// The test's own reaction: edit stage 2 through the session (`map`/`unmap`/`protect`,
    /// whose TLB maintenance the guest performs in the exit) and answer the pending message
    /// with `session.reply(...)`. Throwing fails the test with the error.
    case custom(@Sendable (FaultEvent, GuestSession) throws -> Void)
}

/// A stage-2 fault as a handler sees it.
public struct FaultEvent: Sendable {
    public var message: MailboxMessage
    public var report: FaultReport
    /// Index of this fault among the test's faults (0-based).
    public var index: Int
}

/// Everything one test variant runs: the stage-2 plan, the nested guest's ops, what must
/// happen, and what must be true afterwards. Built by functions in the catalog.
public struct Scenario: Sendable {
    public var granule: Granule
    public var ipaBits: Int
    public var vmid: UInt32 = 1
    /// Mappings installed before the nested guest starts (besides the payload and op/result
    /// regions, which the session identity-maps).
    public var initialMappings: [Stage2Mapping] = []
    /// IPA page/block base → the PA that backs it when the policy maps it.
    public var backing: [IPA: PhysicalAddress] = [:]
    /// Bytes the host writes to guest-physical memory before the run.
    public var planted: [(PhysicalAddress, [UInt8])] = []
    public var ops: [GuestOp]
    public var policy: FaultPolicy = .none
    public var expectedFaults: [ExpectedFault] = []
    /// op index → the value its result must hold (masked to the access size by the builder).
    public var expectedResults: [Int: UInt64] = [:]
    /// op index → a pattern its result must match (some bits, or one of several values).
    public var resultPatterns: [Int: ResultPattern] = [:]
    /// Bytes guest-physical memory must hold after the run.
    public var expectedMemory: [(PhysicalAddress, [UInt8])] = []
    /// Reported, not checked: a sentence per interesting property of the layout.
    public var notes: [String] = []
    /// A test that needs more than the declarative fault loop (several VTTBRs, MMIO
    /// answers, live remaps, …) drives the session itself after HELLO: it receives every
    /// message up to and including DONE and returns what it found wrong. The declarative
    /// `expectedResults` / `expectedMemory` checks still run afterwards.
    public var script: (@Sendable (ScriptContext) throws -> ScriptOutcome)? = nil
    /// The exact event sequence (see `ExpectedEvent`); non-empty replaces `expectedFaults`
    /// and `policy`.
    public var events: [ExpectedEvent] = []
    /// Extra HCR_EL2 bits the payload sets (e.g. TSC, bit 19, to trap SMC).
    public var hcrSet: UInt64 = 0
    /// Extra VTCR_EL2 bits the payload installs with the tables' own (e.g. HA, bit 21).
    public var vtcrSet: UInt64 = 0
    /// ID registers the host writes (KVM_SET_ONE_REG) before the vCPU first runs, e.g. to
    /// hide a feature from the guest hypervisor; KVM refusing the write skips the variant.
    public var idRegisterWrites: [IDRegisterWrite] = []
    /// The VM's IPA size (KVM_VM_TYPE_ARM_IPA_SIZE) this scenario needs; nil = KVM's default.
    /// KVM's shadow stage 2 for the nested guest spans the VM's IPA size, so nested IPAs at
    /// or above 2^40 need a bigger VM.
    public var vmIPABits: Int? = nil
    /// Stage-2 table sets besides the session's own, built after HELLO (VMID tests).
    public var tableSets: [TableSetPlan] = []
    /// Run the guest hypervisor non-VHE: create the vCPU with KVM_ARM_VCPU_HAS_EL2_E2H0 (skip
    /// when KVM_CAP_ARM_EL2_E2H0 is absent) and require HCR_EL2.E2H (bit 34, Arm ARM D24.2
    /// HCR_EL2) to read 0 at vEL2 entry, as the HELLO message reports it.
    public var nonVHE = false
    /// RAM beyond the session layout's, backed before the run (`ExtraRAM`).
    public var extraRAM: [ExtraRAM] = []
    /// How the VM is torn down after the run.
    public var teardown: Teardown = .standard

    public enum Teardown: String, Sendable {
        /// vCPUs, vGIC and VM closed, then guest memory unmapped (the fast order).
        case standard
        /// The VM fd closed first, guest memory unmapped while the vCPUs still hold the VM,
        /// then the vCPUs closed (`Machine.destroyVMBeforeVCPUs`).
        case vmBeforeVCPUs
    }

    public init(granule: Granule, ipaBits: Int, ops: [GuestOp]) {
        self.granule = granule
        self.ipaBits = ipaBits
        self.ops = ops
    }
}

/// What a scripted scenario works with.
public struct ScriptContext {
    public let session: GuestSession
    public let backend: any GuestBackend
    public let scenario: Scenario
    public let verbose: Bool
    public let log: (String) -> Void
}

/// What a scripted scenario found: mismatches (empty = pass) and how many stage-2 faults it saw.
public struct ScriptOutcome: Sendable {
    public var failures: [String]
    public var faults: Int
    public init(failures: [String] = [], faults: Int = 0) {
        self.failures = failures
        self.faults = faults
    }
}
