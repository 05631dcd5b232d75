import GuestProtocol

/// An op's expected result: a value, "unchecked" (e.g. a load the host skips), or a pattern:
/// `{"value": V}` or `{"oneOf": [V, …]}`, with `"mask": M` (only those bits are compared) and
/// `"why"` (why the other bits are not: e.g. a field the Arm ARM leaves IMPLEMENTATION DEFINED).
public enum ResultSpec: Decodable, Sendable {
    case value(Expression)
    case unchecked
    case pattern(values: [Expression], mask: Expression?, why: String?)

    enum CodingKeys: String, CodingKey, CaseIterable { case value, oneOf, mask, why }

    public init(from decoder: any Decoder) throws {
        if let c = try? decoder.container(keyedBy: CodingKeys.self) {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let one = try c.decodeIfPresent(Expression.self, forKey: .value)
            let many = try c.decodeIfPresent([Expression].self, forKey: .oneOf)
            guard (one == nil) != (many == nil), many?.isEmpty != true else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: c.codingPath, debugDescription: "a result pattern needs 'value' or a non-empty 'oneOf' (not both)"))
            }
            let mask = try c.decodeIfPresent(Expression.self, forKey: .mask)
            let why = try c.decodeIfPresent(String.self, forKey: .why)
            if mask != nil, why == nil {
                throw DecodingError.keyNotFound(
                    CodingKeys.why,
                    DecodingError.Context(
                        codingPath: c.codingPath, debugDescription: "a result 'mask' needs 'why': why the other bits are not compared"))
            }
            self = .pattern(values: many ?? [one!], mask: mask, why: why)
            return
        }
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self), s == "unchecked" {
            self = .unchecked
            return
        }
        self = .value(try Expression(from: decoder))
    }
}
