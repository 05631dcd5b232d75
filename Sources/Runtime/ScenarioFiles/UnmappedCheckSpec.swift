/// `expectUnmapped`: the harness's walk of a table set (default: the session's) must not
/// translate `ipa`.
public struct UnmappedCheckSpec: Decodable, Sendable {
    public var tables: String?
    public var ipa: Expression

    enum CodingKeys: String, CodingKey, CaseIterable { case tables, ipa }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tables = try c.decodeIfPresent(String.self, forKey: .tables)
        ipa = try c.decode(Expression.self, forKey: .ipa)
    }
}
