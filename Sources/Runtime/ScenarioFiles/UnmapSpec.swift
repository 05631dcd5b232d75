/// An explicit unmap: `size` bytes at `ipa`, in the session's tables or a table set's
/// (`tables`), with the break's TLB maintenance under a chosen VTTBR_EL2 (`tlbiUnder`,
/// default: the current one), with exactly the operations `tlbi` (default: the session's
/// choice), of which `expectTLBI` names operations that must be among those performed.
public struct UnmapSpec: Decodable, Sendable {
    public var ipa: Expression
    public var size: Expression
    public var tables: String?
    public var tlbiUnder: VTTBRSpec?
    public var tlbi: [TLBISpec]?
    public var expectTLBI: [String]?

    enum CodingKeys: String, CodingKey, CaseIterable { case ipa, size, tables, tlbiUnder, tlbi, expectTLBI }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipa = try c.decode(Expression.self, forKey: .ipa)
        size = try c.decode(Expression.self, forKey: .size)
        tables = try c.decodeIfPresent(String.self, forKey: .tables)
        tlbiUnder = try c.decodeIfPresent(VTTBRSpec.self, forKey: .tlbiUnder)
        tlbi = try c.decodeIfPresent([TLBISpec].self, forKey: .tlbi)
        expectTLBI = try c.decodeIfPresent([String].self, forKey: .expectTLBI)
        let names = Set(TLBISpec.plain + TLBISpec.withOperand)
        if let bad = expectTLBI?.first(where: { !names.contains($0) }) {
            throw DecodingError.dataCorruptedError(
                forKey: .expectTLBI, in: c,
                debugDescription: "'\(bad)' is not a TLBI operation; expected one of: " + names.sorted().joined(separator: ", "))
        }
        if tlbi != nil && expectTLBI != nil {
            throw DecodingError.dataCorruptedError(
                forKey: .expectTLBI, in: c, debugDescription: "give 'tlbi' (exactly these operations) or 'expectTLBI', not both")
        }
    }
}
