/// Where a stage-1 table sits: the level it serves and the base of the VA span it covers.
public struct Stage1TableKey: Hashable, Sendable {
    public var level: Int
    public var base: UInt64
}
