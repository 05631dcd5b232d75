/// What an op's result must match when not every bit is fixed: `result & mask` must be one
/// of `values` (each already masked). The bits outside the mask are logged with `why`.
public struct ResultPattern: Sendable, Equatable {
    public var values: [UInt64]
    public var mask: UInt64
    public var why: String

    public init(values: [UInt64], mask: UInt64 = ~0, why: String = "") {
        self.values = values.map { $0 & mask }
        self.mask = mask
        self.why = why
    }

    public func matches(_ value: UInt64) -> Bool { values.contains(value & mask) }

    public var description: String {
        let v = values.map(hex).joined(separator: " or ")
        return mask == ~0 ? v : "\(v) under mask \(hex(mask))"
    }
}
