/// One stage-1 translation: `size` bytes (4K pages, or one 2M/1G block) at `va` to the IPA `ipa`.
public struct Stage1MapSpec: Decodable, Sendable {
    public var va: Expression
    public var ipa: Expression
    public var size: Expression
    /// "rw" (EL1 read/write, PXN = UXN = 1), "rwx" (also executable at EL1, PXN = 0),
    /// "r" (AP[2:1] = 0b10, EL1 read-only).
    public var access: String
    /// AF: false leaves the Access flag 0 (with TCR_EL1.HA the walker sets it, D8.5).
    public var accessFlag: Bool

    enum CodingKeys: String, CodingKey, CaseIterable { case va, ipa, size, access, accessFlag }
    static let accesses = ["rw", "rwx", "r"]

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        va = try c.decode(Expression.self, forKey: .va)
        ipa = try c.decode(Expression.self, forKey: .ipa)
        size = try c.decode(Expression.self, forKey: .size)
        access = try c.decodeIfPresent(String.self, forKey: .access) ?? "rw"
        if !Self.accesses.contains(access) {
            throw DecodingError.dataCorruptedError(
                forKey: .access, in: c, debugDescription: "access '\(access)'; expected one of: " + Self.accesses.joined(separator: ", "))
        }
        accessFlag = try c.decodeIfPresent(Bool.self, forKey: .accessFlag) ?? true
    }
}
