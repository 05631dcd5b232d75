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
        (access, memory) = try StageTwoAccess.decode(c, access: .access, memory: .memory)
        tables = try c.decodeIfPresent(String.self, forKey: .tables)
        tlbiUnder = try c.decodeIfPresent(VTTBRSpec.self, forKey: .tlbiUnder)
        tlbi = try c.decodeIfPresent([TLBISpec].self, forKey: .tlbi)
    }
}
