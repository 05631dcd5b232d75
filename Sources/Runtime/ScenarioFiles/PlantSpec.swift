/// Bytes written into memory before the run (`plant`), or that memory must hold afterwards
/// (`expectMemory`): `bytes` (1 to 8) of `value`, little-endian, at the IPA `at` (through
/// its region) or at the guest-physical address `pa`. With `count`, the entry repeats:
/// entry i is at `+ i·stride` with `value + i·step`.
public struct PlantSpec: Decodable, Sendable {
    public var at: Expression?
    public var pa: Expression?
    public var bytes: Int
    public var value: Expression
    public var count: Int
    public var stride: Expression?
    public var step: Expression?

    enum CodingKeys: String, CodingKey, CaseIterable { case at, pa, bytes, value, count, stride, step }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        at = try c.decodeIfPresent(Expression.self, forKey: .at)
        pa = try c.decodeIfPresent(Expression.self, forKey: .pa)
        guard (at == nil) != (pa == nil) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "give either 'at' (an IPA inside a region) or 'pa' (a guest-physical address)"))
        }
        bytes = try c.decode(Int.self, forKey: .bytes)
        guard (1...8).contains(bytes) else {
            throw DecodingError.dataCorruptedError(forKey: .bytes, in: c, debugDescription: "bytes \(bytes); expected 1 to 8")
        }
        value = try c.decode(Expression.self, forKey: .value)
        count = try c.decodeIfPresent(Int.self, forKey: .count) ?? 1
        guard (1...65536).contains(count) else {
            throw DecodingError.dataCorruptedError(forKey: .count, in: c, debugDescription: "count \(count); expected 1 to 65536")
        }
        stride = try c.decodeIfPresent(Expression.self, forKey: .stride)
        step = try c.decodeIfPresent(Expression.self, forKey: .step)
        if count > 1 && stride == nil {
            throw DecodingError.keyNotFound(
                CodingKeys.stride,
                DecodingError.Context(
                    codingPath: c.codingPath,
                    debugDescription: "a repeated entry (count > 1) needs 'stride'"))
        }
    }
}
