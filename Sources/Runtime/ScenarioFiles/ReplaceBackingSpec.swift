/// `replaceBacking`'s object: the guest-physical range (`pa`, `size`, inside the data pool,
/// host-page aligned) whose host memory is unmapped and mapped afresh (zero-filled), and what
/// the host then writes into it (`plant`, `pa` entries).
public struct ReplaceBackingSpec: Decodable, Sendable {
    public var pa: Expression
    public var size: Expression
    public var plant: [PlantSpec]
    enum CodingKeys: String, CodingKey, CaseIterable { case pa, size, plant }
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pa = try c.decode(Expression.self, forKey: .pa)
        size = try c.decode(Expression.self, forKey: .size)
        plant = try c.decodeIfPresent([PlantSpec].self, forKey: .plant) ?? []
    }
}
