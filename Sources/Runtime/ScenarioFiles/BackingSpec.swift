/// `backWithMemory`'s object: what to write into the new memory (`pa` entries) and the largest
/// host page the test's spacing allows (a bigger one would back a neighbour too: skipped).
public struct BackingSpec: Decodable, Sendable {
    public var plant: [PlantSpec]
    public var maxHostPage: Expression
    enum CodingKeys: String, CodingKey, CaseIterable { case plant, maxHostPage }
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        plant = try c.decodeIfPresent([PlantSpec].self, forKey: .plant) ?? []
        maxHostPage = try c.decode(Expression.self, forKey: .maxHostPage)
    }
}
