/// The fields a test and each of its variants both start with: name, summary, tags, budget,
/// reference and why, validated the same way for both (`kind` says which in the errors).
struct SpecHeader {
    var name: String
    var summary: String
    var tags: [String]
    var budget: Double?
    var reference: String?
    var why: String?

    enum CodingKeys: String, CodingKey { case name, summary, tags, budget, reference, why }

    /// Reads the header from the same decoder as its owner (which has already rejected unknown
    /// keys), so errors carry the owner's path.
    init(from decoder: any Decoder, kind: String) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        guard ScenarioFile.isValidName(name) else {
            throw DecodingError.dataCorruptedError(
                forKey: .name, in: c,
                debugDescription: "'\(name)' is not a \(kind) name; expected lower-case letters, digits and '-'")
        }
        summary = try c.decode(String.self, forKey: .summary)
        tags = try ScenarioFile.tags(c, .tags)
        budget = try c.decodeIfPresent(Double.self, forKey: .budget)
        if let budget, !(budget > 0 && budget <= 86_400) {
            throw DecodingError.dataCorruptedError(
                forKey: .budget, in: c,
                debugDescription: "budget \(budget) is not a number of seconds in (0, 86400]")
        }
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        why = try c.decodeIfPresent(String.self, forKey: .why)
    }
}
