/// One test as a data file (`catalog/*.json`, or any file given to `harness run`): what it
/// checks and, per variant, the stage-2 plan, the nested guest's ops, the events they must
/// raise with the host's answer to each, and what must hold afterwards. The format is
/// documented in docs/writing-tests.md. Fields a variant sets replace the test's own.
public struct ScenarioFile: Decodable, Sendable {
    public var name: String
    public var summary: String
    public var tags: [String]
    /// Seconds one variant may take (the watchdog's budget) unless `--timeout` is given.
    public var budget: Double?
    /// Where the architecture says what this test expects (Arm ARM section or pseudocode).
    public var reference: String?
    /// Why the expectations are what they are, in a sentence.
    public var why: String?
    public var defaults: ScenarioBody
    public var variants: [VariantSpec]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, name, summary, tags, budget, reference, why
        case granule, ipaBits, vmIPABits, nonVHE, hcrSet, vtcrSet, idRegisters, requires, `let`, memory, plant, tableSets, ops, expectMemory, notes, knownFailures
        case variants
    }

    /// The version of the format this build reads.
    public static let formatVersion = 1

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(Int.self, forKey: .format)
        guard format == Self.formatVersion else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c,
                debugDescription: "format \(format) is not one this harness reads; expected \(Self.formatVersion)")
        }
        name = try c.decode(String.self, forKey: .name)
        guard ScenarioFile.isValidName(name) else {
            throw DecodingError.dataCorruptedError(forKey: .name, in: c,
                debugDescription: "'\(name)' is not a test name; expected lower-case letters, digits and '-'")
        }
        summary = try c.decode(String.self, forKey: .summary)
        tags = try ScenarioFile.tags(c, .tags)
        budget = try c.decodeIfPresent(Double.self, forKey: .budget)
        if let budget, !(budget > 0 && budget <= 86_400) {
            throw DecodingError.dataCorruptedError(forKey: .budget, in: c,
                debugDescription: "budget \(budget) is not a number of seconds in (0, 86400]")
        }
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        why = try c.decodeIfPresent(String.self, forKey: .why)
        defaults = try ScenarioBody(from: decoder)
        variants = try c.decode([VariantSpec].self, forKey: .variants)
        if variants.isEmpty {
            throw DecodingError.dataCorruptedError(forKey: .variants, in: c, debugDescription: "a test needs at least one variant")
        }
        var seen = Set<String>()
        for (i, v) in variants.enumerated() where !seen.insert(v.name).inserted {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: c.codingPath + [CodingKeys.variants, AnyCodingKey(stringValue: "[\(i)]"), VariantSpec.CodingKeys.name],
                debugDescription: "a second variant named '\(v.name)'; variant names must differ"))
        }
    }

    /// A list of tags, each a valid tag name (lower-case words joined by '-').
    static func tags<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> [String] {
        let tags = try c.decodeIfPresent([String].self, forKey: key) ?? []
        for t in tags where !TestTag.isValidName(t) {
            throw DecodingError.dataCorruptedError(forKey: key, in: c,
                debugDescription: "'\(t)' is not a tag name; expected lower-case words joined by '-' (e.g. stage2-faults)")
        }
        return tags
    }

    static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}

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
    public var notes: [String]?
    public var knownFailures: [KnownFailureSpec]?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: ScenarioFile.CodingKeys.self)
        granule = try c.decodeIfPresent(String.self, forKey: .granule)
        if let granule, !["4k", "16k", "64k"].contains(granule) {
            throw DecodingError.dataCorruptedError(forKey: .granule, in: c, debugDescription: "granule '\(granule)'; expected \"4k\", \"16k\" or \"64k\"")
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
        idRegisters = try c.decodeIfPresent([IDRegisterSpec].self, forKey: .idRegisters)
        requires = try c.decodeIfPresent(RequirementSpec.self, forKey: .requires)
        lets = try c.decodeIfPresent([String: Expression].self, forKey: .let)
        memory = try c.decodeIfPresent([RegionSpec].self, forKey: .memory)
        plant = try c.decodeIfPresent([PlantSpec].self, forKey: .plant)
        tableSets = try c.decodeIfPresent([TableSetSpec].self, forKey: .tableSets)
        expectMemory = try c.decodeIfPresent([PlantSpec].self, forKey: .expectMemory)
        ops = try c.decodeIfPresent([OpSpec].self, forKey: .ops)
        notes = try c.decodeIfPresent([String].self, forKey: .notes)
        knownFailures = try c.decodeIfPresent([KnownFailureSpec].self, forKey: .knownFailures)
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
        r.idRegisters = other.idRegisters ?? idRegisters
        r.requires = other.requires ?? requires
        if let l = other.lets { r.lets = (lets ?? [:]).merging(l) { $1 } }
        r.memory = other.memory ?? memory
        r.plant = other.plant ?? plant
        r.tableSets = other.tableSets ?? tableSets
        r.expectMemory = other.expectMemory ?? expectMemory
        r.ops = other.ops ?? ops
        r.notes = other.notes ?? notes
        r.knownFailures = other.knownFailures ?? knownFailures
        return r
    }
}

/// One variant of a test: a name, a summary, and the fields it replaces.
public struct VariantSpec: Decodable, Sendable {
    public var name: String
    public var summary: String
    public var tags: [String]
    public var budget: Double?
    public var reference: String?
    public var why: String?
    public var body: ScenarioBody

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, summary, tags, budget, reference, why
        case granule, ipaBits, vmIPABits, nonVHE, hcrSet, vtcrSet, idRegisters, requires, `let`, memory, plant, tableSets, ops, expectMemory, notes, knownFailures
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        guard ScenarioFile.isValidName(name) else {
            throw DecodingError.dataCorruptedError(forKey: .name, in: c,
                debugDescription: "'\(name)' is not a variant name; expected lower-case letters, digits and '-'")
        }
        summary = try c.decode(String.self, forKey: .summary)
        tags = try ScenarioFile.tags(c, .tags)
        budget = try c.decodeIfPresent(Double.self, forKey: .budget)
        if let budget, !(budget > 0 && budget <= 86_400) {
            throw DecodingError.dataCorruptedError(forKey: .budget, in: c,
                debugDescription: "budget \(budget) is not a number of seconds in (0, 86400]")
        }
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        why = try c.decodeIfPresent(String.self, forKey: .why)
        body = try ScenarioBody(from: decoder)
    }
}

/// What a variant needs from the vCPU beyond its granule (which is always required).
public struct RequirementSpec: Decodable, Sendable, Equatable {
    /// ID_AA64MMFR0_EL1.PARange must cover this many bits.
    public var paBits: Int?
    /// FEAT_XNX present (true) or absent (false).
    public var xnx: Bool?
    /// FEAT_TTL (TLBI level hints), 16-bit VMIDs, FEAT_TTCNP: `true` requires them.
    public var ttl: Bool?
    public var vmid16: Bool?
    public var cnp: Bool?
    /// FEAT_TLBIRANGE (TLBI RIPAS2E1IS and the other range forms), FEAT_HAFDBS (VTCR_EL2.HA).
    public var tlbiRange: Bool?
    public var hardwareAccessFlag: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable { case paBits, xnx, ttl, vmid16, cnp, tlbiRange, hardwareAccessFlag }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        paBits = try c.decodeIfPresent(Int.self, forKey: .paBits)
        if let paBits, !(32...52).contains(paBits) {
            throw DecodingError.dataCorruptedError(forKey: .paBits, in: c, debugDescription: "paBits \(paBits); expected 32 to 52")
        }
        xnx = try c.decodeIfPresent(Bool.self, forKey: .xnx)
        ttl = try c.decodeIfPresent(Bool.self, forKey: .ttl)
        vmid16 = try c.decodeIfPresent(Bool.self, forKey: .vmid16)
        cnp = try c.decodeIfPresent(Bool.self, forKey: .cnp)
        tlbiRange = try c.decodeIfPresent(Bool.self, forKey: .tlbiRange)
        hardwareAccessFlag = try c.decodeIfPresent(Bool.self, forKey: .hardwareAccessFlag)
        for (key, v) in [(CodingKeys.ttl, ttl), (.vmid16, vmid16), (.cnp, cnp), (.tlbiRange, tlbiRange), (.hardwareAccessFlag, hardwareAccessFlag)] where v == false {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "only `true` (require it) is supported; leave it out otherwise")
        }
    }
}

/// A known failure of a variant on some kernels, as data: the exact signature (the check's
/// failure text, or the ioctl and errno that failed), why, where it is documented, and the
/// kernels it applies to. `harness` reports a matching failure as XFAIL (`--strict`: FAIL).
public struct KnownFailureSpec: Decodable, Sendable {
    public var record: KnownFailure

    enum CodingKeys: String, CodingKey, CaseIterable { case signature, reason, reference, kernels }
    enum SignatureKeys: String, CodingKey, CaseIterable { case check, ioctl }
    enum IoctlKeys: String, CodingKey, CaseIterable { case operation, errno }
    enum KernelKeys: String, CodingKey, CaseIterable { case introduced, fixedIn, fixedBy }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let sigDecoder = try c.superDecoder(forKey: .signature)
        try sigDecoder.rejectUnknownKeys(SignatureKeys.self)
        let sig = try sigDecoder.container(keyedBy: SignatureKeys.self)
        let signature: KnownFailure.Signature
        switch try sigDecoder.discriminator(among: SignatureKeys.allCases, what: "a signature") {
        case .check:
            signature = .check(try sig.decode(String.self, forKey: .check))
        case .ioctl:
            let io = try sig.superDecoder(forKey: .ioctl)
            try io.rejectUnknownKeys(IoctlKeys.self)
            let ic = try io.container(keyedBy: IoctlKeys.self)
            signature = .ioctl(operation: try ic.decode(String.self, forKey: .operation), errno: try ic.decode(String.self, forKey: .errno))
        }
        var kernels = KernelRange()
        if c.contains(.kernels) {
            let kd = try c.superDecoder(forKey: .kernels)
            try kd.rejectUnknownKeys(KernelKeys.self)
            let k = try kd.container(keyedBy: KernelKeys.self)
            func version(_ key: KernelKeys) throws -> KernelVersion? {
                guard let text = try k.decodeIfPresent(String.self, forKey: key) else { return nil }
                guard let v = KernelVersion(release: text), text.allSatisfy({ $0.isNumber || $0 == "." }) else {
                    throw DecodingError.dataCorruptedError(forKey: key, in: k, debugDescription: "'\(text)' is not a kernel version; expected e.g. \"6.16\" or \"7.3.4\"")
                }
                return v
            }
            kernels = KernelRange(introduced: try version(.introduced), fixedIn: try version(.fixedIn),
                                  fixedBy: try k.decodeIfPresent(String.self, forKey: .fixedBy))
        }
        record = KnownFailure(signature: signature, reason: try c.decode(String.self, forKey: .reason),
                              reference: try c.decode(String.self, forKey: .reference), kernels: kernels)
    }
}
