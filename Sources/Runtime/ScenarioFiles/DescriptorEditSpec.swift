/// `editDescriptor` / `swapDescriptor`'s object.
struct DescriptorEditSpec: Decodable {
    var ipa: Expression
    var level: Int?
    var set: Expression?
    var clear: Expression?
    var value: Expression?
    enum CodingKeys: String, CodingKey, CaseIterable { case ipa, level, set, clear, value }
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipa = try c.decode(Expression.self, forKey: .ipa)
        level = try c.decodeIfPresent(Int.self, forKey: .level)
        if let level, !(0...3).contains(level) {
            throw DecodingError.dataCorruptedError(forKey: .level, in: c, debugDescription: "level \(level); expected 0 to 3")
        }
        set = try c.decodeIfPresent(Expression.self, forKey: .set)
        clear = try c.decodeIfPresent(Expression.self, forKey: .clear)
        value = try c.decodeIfPresent(Expression.self, forKey: .value)
    }
}
