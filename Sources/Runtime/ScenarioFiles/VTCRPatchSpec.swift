/// `patchVTCR`'s object: the fields replaced (VTCR_EL2.SL0 [7:6], T0SZ [5:0], PS [18:16],
/// TG0 [15:14]).
struct VTCRPatchSpec: Decodable {
    var sl0: Expression?
    var t0sz: Expression?
    var ps: Expression?
    var tg0: Expression?
    enum CodingKeys: String, CodingKey, CaseIterable { case sl0, t0sz, ps, tg0 }
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sl0 = try c.decodeIfPresent(Expression.self, forKey: .sl0)
        t0sz = try c.decodeIfPresent(Expression.self, forKey: .t0sz)
        ps = try c.decodeIfPresent(Expression.self, forKey: .ps)
        tg0 = try c.decodeIfPresent(Expression.self, forKey: .tg0)
        if sl0 == nil && t0sz == nil && ps == nil && tg0 == nil {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "patchVTCR needs 'sl0', 't0sz', 'ps' and/or 'tg0' (restoreVTCR puts the tables' own VTCR back)"))
        }
    }
}
