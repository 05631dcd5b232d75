/// `protect`'s object: a region, or an `ipa` and a `size`; and the new access letters.
struct ProtectSpec: Decodable {
    var region: String?
    var ipa: Expression?
    var size: Expression?
    var access: String
    enum CodingKeys: String, CodingKey, CaseIterable { case region, ipa, size, access }
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        region = try c.decodeIfPresent(String.self, forKey: .region)
        ipa = try c.decodeIfPresent(Expression.self, forKey: .ipa)
        size = try c.decodeIfPresent(Expression.self, forKey: .size)
        access = try c.decode(String.self, forKey: .access)
        guard StageTwoAccess.permissions(access) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .access, in: c, debugDescription: StageTwoAccess.expected(access))
        }
        guard (region != nil) != (ipa != nil || size != nil), region != nil || (ipa != nil && size != nil) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath, debugDescription: "protect needs either 'region', or both 'ipa' and 'size'"))
        }
    }
}
