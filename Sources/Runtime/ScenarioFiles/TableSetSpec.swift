/// A stage-2 table set besides the session's own: another VMID with its tables in a pool of
/// guest memory the file names. Built after HELLO with the session's geometry; it maps the
/// payload (r-x) and the nested guest's op/result/stack region (rw) as the session's tables
/// do, then `map`. The guest runs under it once a host step says `resumeUnder`.
public struct TableSetSpec: Decodable, Sendable {
    public var name: String
    public var vmid: Int
    public var pool: Expression
    public var poolBytes: Expression
    public var map: [MappingSpec]

    enum CodingKeys: String, CodingKey, CaseIterable { case name, vmid, pool, poolBytes, map }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        vmid = try c.decode(Int.self, forKey: .vmid)
        guard (1...0xFFFF).contains(vmid) else {
            throw DecodingError.dataCorruptedError(forKey: .vmid, in: c, debugDescription: "vmid \(vmid); expected 1 to 65535 (0 and 1 name the session's own)")
        }
        pool = try c.decode(Expression.self, forKey: .pool)
        poolBytes = try c.decode(Expression.self, forKey: .poolBytes)
        map = try c.decodeIfPresent([MappingSpec].self, forKey: .map) ?? []
    }
}

/// An explicit mapping: `size` bytes at `ipa` to `pa` with `access` (and `memory`). In a host
/// step it may name a table set (`tables`, default: the session's), the VTTBR under which the
/// break-before-make TLB maintenance runs (`tlbiUnder`, default: the current one) and the exact
/// TLB operations to use for it (`tlbi`, default: the session's choice).
public struct MappingSpec: Decodable, Sendable {
    public var ipa: Expression
    public var pa: Expression
    public var size: Expression
    public var access: String
    public var memory: String
    public var tables: String?
    public var tlbiUnder: VTTBRSpec?
    public var tlbi: [TLBISpec]?

    enum CodingKeys: String, CodingKey, CaseIterable { case ipa, pa, size, access, memory, tables, tlbiUnder, tlbi }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipa = try c.decode(Expression.self, forKey: .ipa)
        pa = try c.decode(Expression.self, forKey: .pa)
        size = try c.decode(Expression.self, forKey: .size)
        access = try c.decodeIfPresent(String.self, forKey: .access) ?? "rwx"
        guard StageTwoAccess.permissions(access) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .access, in: c, debugDescription: StageTwoAccess.expected(access))
        }
        memory = try c.decodeIfPresent(String.self, forKey: .memory) ?? "normal"
        guard StageTwoAccess.memoryType(memory) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .memory, in: c,
                debugDescription: "memory '\(memory)'; expected \"normal\", \"device-nGnRE\" or \"device-nGnRnE\"")
        }
        tables = try c.decodeIfPresent(String.self, forKey: .tables)
        tlbiUnder = try c.decodeIfPresent(VTTBRSpec.self, forKey: .tlbiUnder)
        tlbi = try c.decodeIfPresent([TLBISpec].self, forKey: .tlbi)
    }
}

/// A VTTBR_EL2 value named by its table set: the set's own VTTBR with `or` bits set (e.g.
/// VMID[15:8] or CnP, to name the same context another way).
public struct VTTBRSpec: Decodable, Sendable {
    public var tables: String
    public var or: Expression?

    enum CodingKeys: String, CodingKey, CaseIterable { case tables, or }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tables = try c.decode(String.self, forKey: .tables)
        or = try c.decodeIfPresent(Expression.self, forKey: .or)
    }
}

/// `expectTranslation`: the harness's walk of a table set (default: the session's) must
/// translate `ipa` to `pa` with a leaf at `level`.
public struct TranslationCheckSpec: Decodable, Sendable {
    public var tables: String?
    public var ipa: Expression
    public var pa: Expression
    public var level: Int

    enum CodingKeys: String, CodingKey, CaseIterable { case tables, ipa, pa, level }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tables = try c.decodeIfPresent(String.self, forKey: .tables)
        ipa = try c.decode(Expression.self, forKey: .ipa)
        pa = try c.decode(Expression.self, forKey: .pa)
        level = try c.decode(Int.self, forKey: .level)
        guard (0...3).contains(level) else {
            throw DecodingError.dataCorruptedError(forKey: .level, in: c, debugDescription: "level \(level); expected 0 to 3")
        }
    }
}
