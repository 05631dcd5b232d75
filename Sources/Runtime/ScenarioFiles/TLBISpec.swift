/// A TLB maintenance operation: a name ("vmalls12e1is", "vmalle1is", "vmalls12e1",
/// "alle1is"), or an object {"op": "ipas2e1is" | "ipas2le1is" | "ipas2e1" | "ripas2e1is",
/// "operand": EXPR}.
public struct TLBISpec: Decodable, Sendable {
    public var op: String
    public var operand: Expression?
    static let plain = ["vmalls12e1is", "vmalle1is", "vmalls12e1", "alle1is"]
    static let withOperand = ["ipas2e1is", "ipas2le1is", "ipas2e1", "ripas2e1is"]
    enum CodingKeys: String, CodingKey, CaseIterable { case op, operand }
    public init(from decoder: any Decoder) throws {
        if let s = try? decoder.singleValueContainer().decode(String.self) {
            guard Self.plain.contains(s) else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: decoder.codingPath,
                        debugDescription:
                            "TLBI '\(s)'; expected one of: \(Self.plain.joined(separator: ", ")), or {\"op\": one of \(Self.withOperand.joined(separator: ", ")), \"operand\": ...}"
                    ))
            }
            op = s
            return
        }
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        op = try c.decode(String.self, forKey: .op)
        guard Self.withOperand.contains(op) else {
            throw DecodingError.dataCorruptedError(
                forKey: .op, in: c,
                debugDescription: "TLBI op '\(op)' with an operand; expected one of: " + Self.withOperand.joined(separator: ", "))
        }
        operand = try c.decode(Expression.self, forKey: .operand)
    }
}
