// `@_exported` (underscored): the library's public API takes AArch64's address types, so a
// user of Stage2 gets them with one import.
@_exported import AArch64

/// Translation granule (Arm ARM D8.2 "Translation granule size"; VTCR_EL2.TG0).
public enum Granule: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case k4, k16, k64

    /// log2 of the granule size: 12, 14 or 16.
    @inlinable public var pageShift: Int {
        switch self {
        case .k4: 12
        case .k16: 14
        case .k64: 16
        }
    }
    @inlinable @inline(__always) public var bytes: UInt64 { 1 << UInt64(pageShift) }
    /// Bits resolved per level: granule bits − log2(8-byte descriptor) (Arm pseudocode `stride`).
    @inlinable public var stride: Int { pageShift - 3 }
    @inlinable public var entriesPerTable: Int { 1 << stride }

    /// VTCR_EL2.TG0 encoding (Arm ARM, VTCR_EL2.TG0: 0b00 4KB, 0b01 64KB, 0b10 16KB).
    public var tg0: UInt64 {
        switch self {
        case .k4: 0b00
        case .k64: 0b01
        case .k16: 0b10
        }
    }
    public init?(tg0: UInt64) {
        switch tg0 {
        case 0b00: self = .k4
        case 0b01: self = .k64
        case 0b10: self = .k16
        default: return nil
        }
    }

    /// Levels at which a stage-2 *block* descriptor is legal without FEAT_LPA/LPA2
    /// (Arm ARM D8.3.1, "Block descriptor": 4KB → level 1 (1GB) and 2 (2MB);
    /// 16KB → level 2 (32MB); 64KB → level 2 (512MB)). Level 3 holds pages.
    @inlinable public func blockAllowed(atLevel level: Int) -> Bool {
        switch self {
        case .k4: level == 1 || level == 2
        case .k16, .k64: level == 2
        }
    }

    /// Lowest start level this granule can use without FEAT_LPA2 (VTCR_EL2.SL0 encodings):
    /// 4KB can start at level 0, 16KB at level 1 (level 0 needs VTCR_EL2.DS=1), 64KB at level 1.
    public var lowestStartLevel: Int { self == .k4 ? 0 : 1 }

    /// Number of entries of one contiguous-hint group at `level` (Arm ARM D8.6.1,
    /// "The Contiguous bit": 4KB: 16 entries at levels 1–3; 16KB: 32 at level 2, 128 at level 3;
    /// 64KB: 32 at levels 2 and 3). nil where the hint is not defined.
    public func contiguousEntries(atLevel level: Int) -> Int? {
        switch (self, level) {
        case (.k4, 1), (.k4, 2), (.k4, 3): 16
        case (.k16, 2): 32
        case (.k16, 3): 128
        case (.k64, 2), (.k64, 3): 32
        default: nil
        }
    }

    /// Size of the region one entry at `level` maps.
    @inlinable public func entryShift(atLevel level: Int) -> Int { pageShift + (3 - level) * stride }

    public var description: String {
        switch self {
        case .k4: "4K"
        case .k16: "16K"
        case .k64: "64K"
        }
    }
    /// Name as used in specs: "4k", "16k", "64k".
    public var specName: String {
        switch self {
        case .k4: "4k"
        case .k16: "16k"
        case .k64: "64k"
        }
    }
    public init?(specName: String) {
        switch specName {
        case "4k": self = .k4
        case "16k": self = .k16
        case "64k": self = .k64
        default: return nil
        }
    }
}
