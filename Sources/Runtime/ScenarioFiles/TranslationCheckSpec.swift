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
