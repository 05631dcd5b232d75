/// The fields a test gives its variants and a variant may replace (all optional here; the
/// builder says which are needed).
public struct ScenarioBody: Sendable {
    /// "4k", "16k" or "64k".
    public var granule: String?
    public var ipaBits: Int?
    /// The VM's IPA size (KVM_VM_TYPE_ARM_IPA_SIZE); by default the IPA size when above 40.
    public var vmIPABits: Int?
    /// Run the guest hypervisor non-VHE (KVM_ARM_VCPU_HAS_EL2_E2H0).
    public var nonVHE: Bool?
    /// Extra HCR_EL2 bits the payload sets before the nested guest runs.
    public var hcrSet: Expression?
    /// Extra VTCR_EL2 bits the payload installs with the tables' own, e.g. `"1 << 21"` (HA).
    public var vtcrSet: Expression?
    /// VTCR_EL2.PS of the session's tables in bits (32, 36, 40, 42, 44, 48, 52); by default the
    /// smallest holding every output. 52 uses FEAT_LPA's 64K descriptor format, or FEAT_LPA2's
    /// with `lpa2`.
    public var outputBits: Int?
    /// VTCR_EL2.DS = 1 (FEAT_LPA2, 4k/16k): the 52-bit descriptor format.
    public var lpa2: Bool?
    /// ID registers written before the vCPU first runs (to hide a feature); refused → skip.
    public var idRegisters: [IDRegisterSpec]?
    public var requires: RequirementSpec?
    /// Named values the expressions of the file can use.
    public var lets: [String: Expression]?
    public var memory: [RegionSpec]?
    /// Values written into memory before the run (loads plant their own when none is there).
    public var plant: [PlantSpec]?
    /// Stage-2 table sets besides the session's own (other VMIDs), built after HELLO.
    public var tableSets: [TableSetSpec]?
    public var ops: [OpSpec]?
    /// Memory that must hold these values afterwards, besides what the model derives.
    public var expectMemory: [PlantSpec]?
    /// Host checks made after DONE (`expectDirty`, `expectDescriptor`, `expectTranslation`).
    public var atDone: [HostStep]?
    public var notes: [String]?
    public var knownFailures: [KnownFailureSpec]?
    /// "standard" or "vmBeforeVCPUs" (`Scenario.Teardown`).
    public var teardown: String?
    /// The nested guest's own stage 1: tables the host builds, the values that turn it on.
    public var stage1: Stage1Spec?
    /// Several vCPUs, each with its own op list (instead of `ops`).
    public var vcpus: [VCPUSpec]?
    /// How the vCPUs run: "lockstep" (one host thread, one vCPU at a time) or "concurrent".
    public var schedule: String?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ScenarioFile.CodingKeys.self)
        granule = try c.decodeIfPresent(String.self, forKey: .granule)
        if let granule, !["4k", "16k", "64k"].contains(granule) {
            throw DecodingError.dataCorruptedError(
                forKey: .granule, in: c, debugDescription: "granule '\(granule)'; expected \"4k\", \"16k\" or \"64k\"")
        }
        ipaBits = try c.decodeIfPresent(Int.self, forKey: .ipaBits)
        if let ipaBits, !(32...48).contains(ipaBits) {
            throw DecodingError.dataCorruptedError(forKey: .ipaBits, in: c, debugDescription: "ipaBits \(ipaBits); expected 32 to 48")
        }
        vmIPABits = try c.decodeIfPresent(Int.self, forKey: .vmIPABits)
        if let vmIPABits, !(32...52).contains(vmIPABits) {
            throw DecodingError.dataCorruptedError(forKey: .vmIPABits, in: c, debugDescription: "vmIPABits \(vmIPABits); expected 32 to 52")
        }
        nonVHE = try c.decodeIfPresent(Bool.self, forKey: .nonVHE)
        hcrSet = try c.decodeIfPresent(Expression.self, forKey: .hcrSet)
        vtcrSet = try c.decodeIfPresent(Expression.self, forKey: .vtcrSet)
        outputBits = try c.decodeIfPresent(Int.self, forKey: .outputBits)
        if let outputBits, ![32, 36, 40, 42, 44, 48, 52].contains(outputBits) {
            throw DecodingError.dataCorruptedError(
                forKey: .outputBits, in: c,
                debugDescription: "outputBits \(outputBits); expected a VTCR_EL2.PS size: 32, 36, 40, 42, 44, 48 or 52")
        }
        lpa2 = try c.decodeIfPresent(Bool.self, forKey: .lpa2)
        idRegisters = try c.decodeIfPresent([IDRegisterSpec].self, forKey: .idRegisters)
        requires = try c.decodeIfPresent(RequirementSpec.self, forKey: .requires)
        lets = try c.decodeIfPresent([String: Expression].self, forKey: .let)
        memory = try c.decodeIfPresent([RegionSpec].self, forKey: .memory)
        plant = try c.decodeIfPresent([PlantSpec].self, forKey: .plant)
        tableSets = try c.decodeIfPresent([TableSetSpec].self, forKey: .tableSets)
        expectMemory = try c.decodeIfPresent([PlantSpec].self, forKey: .expectMemory)
        ops = try c.decodeIfPresent([OpSpec].self, forKey: .ops)
        atDone = try c.decodeIfPresent([HostStep].self, forKey: .atDone)
        notes = try c.decodeIfPresent([String].self, forKey: .notes)
        knownFailures = try c.decodeIfPresent([KnownFailureSpec].self, forKey: .knownFailures)
        teardown = try c.decodeIfPresent(String.self, forKey: .teardown)
        if let teardown, Scenario.Teardown(rawValue: teardown) == nil {
            throw DecodingError.dataCorruptedError(
                forKey: .teardown, in: c, debugDescription: "teardown '\(teardown)'; expected \"standard\" or \"vmBeforeVCPUs\"")
        }
        stage1 = try c.decodeIfPresent(Stage1Spec.self, forKey: .stage1)
        vcpus = try c.decodeIfPresent([VCPUSpec].self, forKey: .vcpus)
        if let vcpus, vcpus.isEmpty {
            throw DecodingError.dataCorruptedError(forKey: .vcpus, in: c, debugDescription: "vcpus is empty; give at least one entry")
        }
        schedule = try c.decodeIfPresent(String.self, forKey: .schedule)
        if let schedule, schedule != "lockstep" && schedule != "concurrent" {
            throw DecodingError.dataCorruptedError(
                forKey: .schedule, in: c, debugDescription: "schedule '\(schedule)'; expected \"lockstep\" or \"concurrent\"")
        }
    }

    init() {}

    /// `self` with every field `other` sets replaced (`let` is merged, the variant's names win).
    func overridden(by other: ScenarioBody) -> ScenarioBody {
        var r = self
        r.granule = other.granule ?? granule
        r.ipaBits = other.ipaBits ?? ipaBits
        r.vmIPABits = other.vmIPABits ?? vmIPABits
        r.nonVHE = other.nonVHE ?? nonVHE
        r.hcrSet = other.hcrSet ?? hcrSet
        r.vtcrSet = other.vtcrSet ?? vtcrSet
        r.outputBits = other.outputBits ?? outputBits
        r.lpa2 = other.lpa2 ?? lpa2
        r.idRegisters = other.idRegisters ?? idRegisters
        r.requires = other.requires ?? requires
        if let l = other.lets { r.lets = (lets ?? [:]).merging(l) { $1 } }
        r.memory = other.memory ?? memory
        r.plant = other.plant ?? plant
        r.tableSets = other.tableSets ?? tableSets
        r.expectMemory = other.expectMemory ?? expectMemory
        r.ops = other.ops ?? ops
        r.atDone = other.atDone ?? atDone
        r.notes = other.notes ?? notes
        r.knownFailures = other.knownFailures ?? knownFailures
        r.teardown = other.teardown ?? teardown
        r.stage1 = other.stage1 ?? stage1
        r.vcpus = other.vcpus ?? vcpus
        r.schedule = other.schedule ?? schedule
        return r
    }
}
