/// `whileFlag` on a repeating event: the flag the guest read last before the event (x14 of
/// the trapped context, WATCH64's convention) must be below `below`.
public struct FlagBoundSpec: Decodable, Sendable {
    public var at: Expression
    public var below: Expression

    enum CodingKeys: String, CodingKey, CaseIterable { case at, below }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        at = try c.decode(Expression.self, forKey: .at)
        below = try c.decode(Expression.self, forKey: .below)
    }
}
