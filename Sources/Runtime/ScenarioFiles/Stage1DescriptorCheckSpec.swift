/// `expectStage1Descriptor`: the stage-1 descriptor a walk of `va` reads at `level` must, in
/// guest memory after the run, have every `set` bit set and every `clear` bit clear.
struct Stage1DescriptorCheckSpec: Decodable {
    var va: Expression
    var level: Int
    var set: Expression?
    var clear: Expression?
    enum CodingKeys: String, CodingKey, CaseIterable { case va, level, set, clear }
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        va = try c.decode(Expression.self, forKey: .va)
        level = try c.decode(Int.self, forKey: .level)
        if !(0...3).contains(level) {
            throw DecodingError.dataCorruptedError(forKey: .level, in: c, debugDescription: "level \(level); expected 0 to 3")
        }
        set = try c.decodeIfPresent(Expression.self, forKey: .set)
        clear = try c.decodeIfPresent(Expression.self, forKey: .clear)
        if set == nil && clear == nil {
            throw DecodingError.dataCorruptedError(forKey: .set, in: c, debugDescription: "give 'set' and/or 'clear'")
        }
    }
}
