/// `replaceBacking`'s object: the guest-physical range (`pa`, `size`, inside the data pool,
/// host-page aligned) whose host memory is replaced by new memory (zero-filled, or with `copy` a
/// copy of the old), and what the host then writes into it (`plant`, `pa` entries).
public struct ReplaceBackingSpec: Decodable, Sendable {
    public var pa: Expression
    public var size: Expression
    public var plant: [PlantSpec]
    /// The new memory starts as a copy of the old (what a VMM moving guest memory does).
    public var copy: Bool
    enum CodingKeys: String, CodingKey, CaseIterable { case pa, size, plant, copy }
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pa = try c.decode(Expression.self, forKey: .pa)
        size = try c.decode(Expression.self, forKey: .size)
        plant = try c.decodeIfPresent([PlantSpec].self, forKey: .plant) ?? []
        copy = try c.decodeIfPresent(Bool.self, forKey: .copy) ?? false
    }
}
