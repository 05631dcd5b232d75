/// One event an op must raise, and the host's answer to it. Exactly one of `fault`, `hvc`,
/// `smc`, `mmio` or `el1Exception` says what the event is; the other fields describe it.
public struct EventSpec: Decodable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A stage-2 abort: "translation", "accessFlag", "permission", "addressSize" or
        /// "externalAbortOnWalk".
        case fault(String)
        case hvc(Expression)
        case smc(Expression)
        /// "read" or "write".
        case mmio(String)
        case el1Exception(Expression)
    }
    public var kind: Kind
    /// Fault level: a number, or "derive" (worked out from the mappings so far).
    public var level: LevelSpec?
    /// The faulting address (FAR): by default the op's address.
    public var address: Expression?
    /// "fetch" or "data": by default what the op does.
    public var access: String?
    /// Whether HPFAR_EL2 is checked: "checked" or "unknown"; by default from the fault kind
    /// (Arm ARM D24.2 HPFAR_EL2: UNKNOWN for a Permission fault).
    public var hpfar: String?
    /// Compare with the builder's software walk (default true).
    public var softwareWalk: Bool?
    /// The fault is on the nested stage-1 walk (ESR S1PTW = 1): the stage-2 access that faulted
    /// is the read (or Access-flag write) of the stage-1 descriptor at this stage-1 level.
    public var stage1Walk: Int?
    /// MMIO: the access size (default: the op's) and, for a write, the data (default: the op's value).
    public var bytes: Int?
    public var data: Expression?
    public var host: [HostStep]
    /// "retry" (default) or "skip" (ELR + 4, past the instruction).
    public var resume: String?
    public var reference: String?
    public var why: String?
    /// Lockstep vCPUs: after the host's steps, this vCPU stays stopped and vCPU `switchTo` runs.
    public var switchTo: Int?
    /// Concurrent vCPUs: "any": the event may happen any number of times (zero included) here.
    public var times: String?
    /// With `times`: the flag the guest read last (x14) must be below a bound at each occurrence.
    public var whileFlag: FlagBoundSpec?
    /// Concurrent vCPUs: the event may happen only once some vCPU's host step `mark` named this ran.
    public var after: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case fault, hvc, smc, mmio, el1Exception
        case level, address, access, hpfar, softwareWalk, stage1Walk, bytes, data, host, resume, reference, why
        case switchTo, times, whileFlag, after
    }

    static let faultKinds = ["translation", "accessFlag", "permission", "addressSize", "externalAbortOnWalk"]

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try decoder.discriminator(among: [CodingKeys.fault, .hvc, .smc, .mmio, .el1Exception], what: "an event") {
        case .fault:
            let k = try c.decode(String.self, forKey: .fault)
            guard Self.faultKinds.contains(k) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .fault, in: c,
                    debugDescription: "fault '\(k)'; expected one of: " + Self.faultKinds.joined(separator: ", "))
            }
            kind = .fault(k)
            guard c.contains(.level) else {
                throw DecodingError.keyNotFound(
                    CodingKeys.level,
                    DecodingError.Context(
                        codingPath: c.codingPath, debugDescription: "a fault needs 'level': 0 to 3, or \"derive\""))
            }
        case .hvc: kind = .hvc(try c.decode(Expression.self, forKey: .hvc))
        case .smc: kind = .smc(try c.decode(Expression.self, forKey: .smc))
        case .mmio:
            let d = try c.decode(String.self, forKey: .mmio)
            guard d == "read" || d == "write" else {
                throw DecodingError.dataCorruptedError(
                    forKey: .mmio, in: c, debugDescription: "mmio '\(d)'; expected \"read\" or \"write\"")
            }
            kind = .mmio(d)
        default: kind = .el1Exception(try c.decode(Expression.self, forKey: .el1Exception))
        }
        let isFault = if case .fault = kind { true } else { false }
        let isMMIO = if case .mmio = kind { true } else { false }
        func only(_ key: CodingKeys, for ok: Bool, _ what: String) throws {
            if !ok && c.contains(key) {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "'\(key.stringValue)' is only for \(what)")
            }
        }
        try only(.level, for: isFault, "a fault")
        try only(.access, for: isFault, "a fault")
        try only(.hpfar, for: isFault, "a fault")
        try only(.softwareWalk, for: isFault, "a fault")
        try only(.stage1Walk, for: isFault, "a fault")
        try only(.address, for: isFault || isMMIO, "a fault or an mmio event")
        try only(.bytes, for: isMMIO, "an mmio event")
        try only(.data, for: isMMIO, "an mmio event")
        level = try c.decodeIfPresent(LevelSpec.self, forKey: .level)
        address = try c.decodeIfPresent(Expression.self, forKey: .address)
        access = try c.decodeIfPresent(String.self, forKey: .access)
        if let access, access != "fetch" && access != "data" {
            throw DecodingError.dataCorruptedError(
                forKey: .access, in: c, debugDescription: "access '\(access)'; expected \"fetch\" or \"data\"")
        }
        hpfar = try c.decodeIfPresent(String.self, forKey: .hpfar)
        if let hpfar, hpfar != "checked" && hpfar != "unknown" {
            throw DecodingError.dataCorruptedError(
                forKey: .hpfar, in: c, debugDescription: "hpfar '\(hpfar)'; expected \"checked\" or \"unknown\"")
        }
        softwareWalk = try c.decodeIfPresent(Bool.self, forKey: .softwareWalk)
        stage1Walk = try c.decodeIfPresent(Int.self, forKey: .stage1Walk)
        if let stage1Walk, !(0...3).contains(stage1Walk) {
            throw DecodingError.dataCorruptedError(
                forKey: .stage1Walk, in: c, debugDescription: "stage1Walk \(stage1Walk); expected the stage-1 level, 0 to 3")
        }
        bytes = try c.decodeIfPresent(Int.self, forKey: .bytes)
        if let bytes, ![1, 2, 4, 8].contains(bytes) {
            throw DecodingError.dataCorruptedError(forKey: .bytes, in: c, debugDescription: "bytes \(bytes); expected 1, 2, 4 or 8")
        }
        data = try c.decodeIfPresent(Expression.self, forKey: .data)
        host = try c.decodeIfPresent([HostStep].self, forKey: .host) ?? []
        resume = try c.decodeIfPresent(String.self, forKey: .resume)
        if let resume, resume != "retry" && resume != "skip" {
            throw DecodingError.dataCorruptedError(
                forKey: .resume, in: c, debugDescription: "resume '\(resume)'; expected \"retry\" or \"skip\"")
        }
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        why = try c.decodeIfPresent(String.self, forKey: .why)
        switchTo = try c.decodeIfPresent(Int.self, forKey: .switchTo)
        times = try c.decodeIfPresent(String.self, forKey: .times)
        if let times, times != "any" {
            throw DecodingError.dataCorruptedError(
                forKey: .times, in: c, debugDescription: "times '\(times)'; expected \"any\" (leave it out for exactly once)")
        }
        if times != nil && !isFault {
            throw DecodingError.dataCorruptedError(forKey: .times, in: c, debugDescription: "'times' is only for a fault")
        }
        whileFlag = try c.decodeIfPresent(FlagBoundSpec.self, forKey: .whileFlag)
        if whileFlag != nil && times == nil {
            throw DecodingError.dataCorruptedError(
                forKey: .whileFlag, in: c,
                debugDescription: "'whileFlag' bounds each occurrence of a repeating event: it needs \"times\": \"any\"")
        }
        after = try c.decodeIfPresent(String.self, forKey: .after)
    }
}
