/// Bytes the host writes into a region before the run: `bytes` (1 to 8) of `value`,
/// little-endian, at the IPA `at` (its backing PA). The model of memory includes them.
public struct PlantSpec: Decodable, Sendable {
    public var at: Expression
    public var bytes: Int
    public var value: Expression

    enum CodingKeys: String, CodingKey, CaseIterable { case at, bytes, value }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        at = try c.decode(Expression.self, forKey: .at)
        bytes = try c.decode(Int.self, forKey: .bytes)
        guard (1...8).contains(bytes) else {
            throw DecodingError.dataCorruptedError(forKey: .bytes, in: c, debugDescription: "bytes \(bytes); expected 1 to 8")
        }
        value = try c.decode(Expression.self, forKey: .value)
    }
}
