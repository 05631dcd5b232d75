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
