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
            throw DecodingError.dataCorruptedError(
                forKey: .vmid, in: c, debugDescription: "vmid \(vmid); expected 1 to 65535 (0 and 1 name the session's own)")
        }
        pool = try c.decode(Expression.self, forKey: .pool)
        poolBytes = try c.decode(Expression.self, forKey: .poolBytes)
        map = try c.decodeIfPresent([MappingSpec].self, forKey: .map) ?? []
    }
}
