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
        case granule, ipaBits, vmIPABits, nonVHE, hcrSet, vtcrSet, outputBits, lpa2, idRegisters, requires, `let`, memory, plant, tableSets,
            ops,
            expectMemory, atDone, notes, knownFailures, teardown, stage1, vcpus, schedule
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let h = try SpecHeader(from: decoder, kind: "variant")
        (name, summary, tags, budget, reference, why) = (h.name, h.summary, h.tags, h.budget, h.reference, h.why)
        body = try ScenarioBody(from: decoder)
    }
}
