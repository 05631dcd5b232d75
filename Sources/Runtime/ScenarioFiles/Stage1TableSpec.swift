/// Where one stage-1 table lives: the table used at `level` for the VAs around `va` sits at `ipa`.
public struct Stage1TableSpec: Decodable, Sendable {
    public var level: Int
    public var va: Expression
    public var ipa: Expression

    enum CodingKeys: String, CodingKey, CaseIterable { case level, va, ipa }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        level = try c.decode(Int.self, forKey: .level)
        if !(1...3).contains(level) {
            throw DecodingError.dataCorruptedError(
                forKey: .level, in: c, debugDescription: "level \(level); expected 1 to 3 (the root is 'root')")
        }
        va = try c.decode(Expression.self, forKey: .va)
        ipa = try c.decode(Expression.self, forKey: .ipa)
    }
}
