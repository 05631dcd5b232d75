import AArch64

/// `idRegisters` entry: `{"register": "ID_AA64MMFR1_EL1", "clear": EXPR, "set": EXPR}`, the
/// value the host writes with KVM_SET_ONE_REG before the vCPU first runs.
public struct IDRegisterSpec: Decodable, Sendable {
    public var register: SystemRegister
    public var clear: Expression
    public var set: Expression

    enum CodingKeys: String, CodingKey, CaseIterable { case register, clear, set }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .register)
        guard let r = IDRegisterWrite.writable.first(where: { $0.name == name }) else {
            throw DecodingError.dataCorruptedError(
                forKey: .register, in: c,
                debugDescription:
                    "register '\(name)'; expected one of: " + IDRegisterWrite.writable.map(\.name).joined(separator: ", "))
        }
        register = r
        clear = try c.decodeIfPresent(Expression.self, forKey: .clear) ?? Expression("0")
        set = try c.decodeIfPresent(Expression.self, forKey: .set) ?? Expression("0")
    }
}
