/// `patchVTCR`'s object: the fields replaced (VTCR_EL2.SL0 [7:6], T0SZ [5:0]).
struct VTCRPatchSpec: Decodable {
    var sl0: Expression?
    var t0sz: Expression?
    enum CodingKeys: String, CodingKey, CaseIterable { case sl0, t0sz }
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sl0 = try c.decodeIfPresent(Expression.self, forKey: .sl0)
        t0sz = try c.decodeIfPresent(Expression.self, forKey: .t0sz)
        if sl0 == nil && t0sz == nil {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "patchVTCR needs 'sl0' and/or 't0sz' (restoreVTCR puts the tables' own VTCR back)"))
        }
    }
}
