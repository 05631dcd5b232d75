/// One test as a data file (`catalog/*.json`, or any file given to `harness run`): what it
/// checks and, per variant, the stage-2 plan, the nested guest's ops, the events they must
/// raise with the host's answer to each, and what must hold afterwards. The format is
/// documented in docs/writing-tests.md. Fields a variant sets replace the test's own.
public struct ScenarioFile: Decodable, Sendable {
    public var name: String
    public var summary: String
    public var tags: [String]
    /// Seconds one variant may take (the watchdog's budget) unless `--timeout` is given.
    public var budget: Double?
    /// Where the architecture says what this test expects (Arm ARM section or pseudocode).
    public var reference: String?
    /// Why the expectations are what they are, in a sentence.
    public var why: String?
    public var defaults: ScenarioBody
    public var variants: [VariantSpec]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, name, summary, tags, budget, reference, why
        case granule, ipaBits, vmIPABits, nonVHE, hcrSet, vtcrSet, outputBits, lpa2, idRegisters, requires, `let`, memory, plant, tableSets,
            ops,
            expectMemory, atDone, notes, knownFailures, teardown, stage1, vcpus, schedule
        case variants
    }

    /// The version of the format this build reads.
    public static let formatVersion = 1

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(Int.self, forKey: .format)
        guard format == Self.formatVersion else {
            throw DecodingError.dataCorruptedError(
                forKey: .format, in: c,
                debugDescription: "format \(format) is not one this harness reads; expected \(Self.formatVersion)")
        }
        let h = try SpecHeader(from: decoder, kind: "test")
        (name, summary, tags, budget, reference, why) = (h.name, h.summary, h.tags, h.budget, h.reference, h.why)
        defaults = try ScenarioBody(from: decoder)
        variants = try c.decode([VariantSpec].self, forKey: .variants)
        if variants.isEmpty {
            throw DecodingError.dataCorruptedError(forKey: .variants, in: c, debugDescription: "a test needs at least one variant")
        }
        var seen = Set<String>()
        for (i, v) in variants.enumerated() where !seen.insert(v.name).inserted {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: c.codingPath + [CodingKeys.variants, AnyCodingKey(stringValue: "[\(i)]"), VariantSpec.CodingKeys.name],
                    debugDescription: "a second variant named '\(v.name)'; variant names must differ"))
        }
    }

    /// A list of tags, each a valid tag name (lower-case words joined by '-').
    static func tags<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> [String] {
        let tags = try c.decodeIfPresent([String].self, forKey: key) ?? []
        for t in tags where !TestTag.isValidName(t) {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: c,
                debugDescription: "'\(t)' is not a tag name; expected lower-case words joined by '-' (e.g. stage2-faults)")
        }
        return tags
    }

    static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}
