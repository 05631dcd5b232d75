/// The nested guest's own stage 1 (EL1&0, 4 KB granule, TTBR0 only): tables the host builds in
/// guest memory before the run, at IPAs the file chooses, and the register values the nested
/// guest's ops write to turn it on. The op addresses after the op that writes SCTLR_EL1 with
/// M = 1 are VAs, translated by these tables.
public struct Stage1Spec: Decodable, Sendable {
    /// VA size: TCR_EL1.T0SZ = 64 - vaBits (25 to 48; 39 starts the walk at level 1).
    public var vaBits: Int
    /// IPA of the root table (TTBR0_EL1).
    public var root: Expression
    /// TCR_EL1.HA: hardware Access flag updates (needs FEAT_HAFDBS).
    public var hardwareAccessFlag: Bool
    /// Where each non-root table lives: `{"level", "va", "ipa"}`, `va` any address the table serves.
    public var tables: [Stage1TableSpec]
    /// The translations, besides the identity maps of the op interpreter the host always adds.
    public var map: [Stage1MapSpec]

    enum CodingKeys: String, CodingKey, CaseIterable { case vaBits, root, hardwareAccessFlag, tables, map }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vaBits = try c.decode(Int.self, forKey: .vaBits)
        if !(25...48).contains(vaBits) {
            throw DecodingError.dataCorruptedError(
                forKey: .vaBits, in: c, debugDescription: "vaBits \(vaBits); expected 25 to 48 (TCR_EL1.T0SZ 16 to 39, 4K granule)")
        }
        root = try c.decode(Expression.self, forKey: .root)
        hardwareAccessFlag = try c.decodeIfPresent(Bool.self, forKey: .hardwareAccessFlag) ?? false
        tables = try c.decodeIfPresent([Stage1TableSpec].self, forKey: .tables) ?? []
        map = try c.decodeIfPresent([Stage1MapSpec].self, forKey: .map) ?? []
    }
}
