/// What a variant needs from the vCPU beyond its granule (which is always required).
public struct RequirementSpec: Decodable, Sendable, Equatable {
    /// ID_AA64MMFR0_EL1.PARange must cover this many bits.
    public var paBits: Int?
    /// FEAT_XNX present (true) or absent (false).
    public var xnx: Bool?
    /// FEAT_TTL (TLBI level hints), 16-bit VMIDs, FEAT_TTCNP: `true` requires them.
    public var ttl: Bool?
    public var vmid16: Bool?
    public var cnp: Bool?
    /// FEAT_TLBIRANGE (TLBI RIPAS2E1IS and the other range forms), FEAT_HAFDBS (VTCR_EL2.HA).
    public var tlbiRange: Bool?
    public var hardwareAccessFlag: Bool?
    /// FEAT_LPA2 at stage 2 for the variant's granule (TGran4_2/TGran16_2 = 0b0011).
    public var lpa2: Bool?
    /// FEAT_S2FWB (HCR_EL2.FWB).
    public var stage2FWB: Bool?
    /// FEAT_NV2 at vEL2 (recursive nesting with a VNCR page).
    public var nv2: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case paBits, xnx, ttl, vmid16, cnp, tlbiRange, hardwareAccessFlag, lpa2, stage2FWB, nv2
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        paBits = try c.decodeIfPresent(Int.self, forKey: .paBits)
        if let paBits, !(32...52).contains(paBits) {
            throw DecodingError.dataCorruptedError(forKey: .paBits, in: c, debugDescription: "paBits \(paBits); expected 32 to 52")
        }
        xnx = try c.decodeIfPresent(Bool.self, forKey: .xnx)
        ttl = try c.decodeIfPresent(Bool.self, forKey: .ttl)
        vmid16 = try c.decodeIfPresent(Bool.self, forKey: .vmid16)
        cnp = try c.decodeIfPresent(Bool.self, forKey: .cnp)
        tlbiRange = try c.decodeIfPresent(Bool.self, forKey: .tlbiRange)
        hardwareAccessFlag = try c.decodeIfPresent(Bool.self, forKey: .hardwareAccessFlag)
        lpa2 = try c.decodeIfPresent(Bool.self, forKey: .lpa2)
        stage2FWB = try c.decodeIfPresent(Bool.self, forKey: .stage2FWB)
        nv2 = try c.decodeIfPresent(Bool.self, forKey: .nv2)
        for (key, v) in [
            (CodingKeys.ttl, ttl), (.vmid16, vmid16), (.cnp, cnp), (.tlbiRange, tlbiRange), (.hardwareAccessFlag, hardwareAccessFlag),
            (.lpa2, lpa2), (.stage2FWB, stage2FWB), (.nv2, nv2),
        ] where v == false {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: c, debugDescription: "only `true` (require it) is supported; leave it out otherwise")
        }
    }
}
