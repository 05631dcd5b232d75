import AArch64
import GuestProtocol
import Machine
import Stage2

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
    /// The exact event sequence (see `ExpectedEvent`); non-empty replaces `expectedFaults`
    /// and `policy`.
    public var events: [ExpectedEvent] = []
    /// Extra HCR_EL2 bits the payload sets (e.g. TSC, bit 19, to trap SMC).
    public var hcrSet: UInt64 = 0
    /// Extra VTCR_EL2 bits the payload installs with the tables' own (e.g. HA, bit 21).
    public var vtcrSet: UInt64 = 0
    /// VTCR_EL2.PS of the session's tables (nil: the smallest holding every output) and
    /// VTCR_EL2.DS (FEAT_LPA2): see `Stage2Configuration`.
    public var outputBits: Int? = nil
    public var lpa2 = false
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
    /// Dirty-logged memory (`expectDirty` reactions read its log).
    public var dirtyLog: DirtyLogPlan? = nil
    /// Checks made after DONE (only the `expect…` reactions).
    public var atDone: [ExpectedEvent.Reaction] = []

    /// Several vCPUs, each with its own op list and events (`ops`/`events` stay empty).
    public var vcpus: [VCPUPlan] = []
    public var schedule: Schedule = .lockstep

    public enum Schedule: String, Sendable {
        /// One host thread, one KVM_RUN at a time: vCPU 0 first, then as `switchTo` says.
        case lockstep
        /// Every vCPU from its own host thread, all at once.
        case concurrent
    }

    public init(granule: Granule, ipaBits: Int, ops: [GuestOp]) {
        self.granule = granule
        self.ipaBits = ipaBits
        self.ops = ops
    }
}
