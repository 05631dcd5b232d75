/// One variant of a test: a name, a summary, and the fields it replaces.
public struct VariantSpec: Decodable, Sendable {
    public var name: String
    public var summary: String
    public var tags: [String]
    public var budget: Double?
    public var reference: String?
    public var why: String?
    public var body: ScenarioBody

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, summary, tags, budget, reference, why
        case granule, ipaBits, vmIPABits, nonVHE, hcrSet, vtcrSet, idRegisters, requires, `let`, memory, plant, tableSets, ops, expectMemory, notes, knownFailures
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        guard ScenarioFile.isValidName(name) else {
            throw DecodingError.dataCorruptedError(forKey: .name, in: c,
                debugDescription: "'\(name)' is not a variant name; expected lower-case letters, digits and '-'")
        }
        summary = try c.decode(String.self, forKey: .summary)
        tags = try ScenarioFile.tags(c, .tags)
        budget = try c.decodeIfPresent(Double.self, forKey: .budget)
        if let budget, !(budget > 0 && budget <= 86_400) {
            throw DecodingError.dataCorruptedError(forKey: .budget, in: c,
                debugDescription: "budget \(budget) is not a number of seconds in (0, 86400]")
        }
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        why = try c.decodeIfPresent(String.self, forKey: .why)
        body = try ScenarioBody(from: decoder)
    }
}
