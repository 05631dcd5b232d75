/// One entry of `vcpus`: the op list the vCPUs `ids` run (each its own copy), and the table
/// set they start under (`tables`, default: the session's).
public struct VCPUSpec: Decodable, Sendable {
    /// nil: the lowest id no earlier entry takes.
    public var ids: [Int]?
    public var tables: String?
    public var ops: [OpSpec]

    enum CodingKeys: String, CodingKey, CaseIterable { case ids, tables, ops }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ids = try c.decodeIfPresent([Int].self, forKey: .ids)
        if let ids, ids.isEmpty {
            throw DecodingError.dataCorruptedError(forKey: .ids, in: c, debugDescription: "ids is empty; give at least one vCPU id")
        }
        tables = try c.decodeIfPresent(String.self, forKey: .tables)
        ops = try c.decode([OpSpec].self, forKey: .ops)
    }
}
