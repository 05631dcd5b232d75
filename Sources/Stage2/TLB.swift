import AArch64

/// One TLB invalidation the payload must perform (after `dsb ishst`).
public enum TLBInvalidation: Equatable, Sendable, CustomStringConvertible {
    /// TLBI IPAS2E1IS for this IPA, with a TTL level hint when known (nil: any level, needed
    /// when a table entry was removed so walk caches for the IPA are dropped too), then
    /// TLBI VMALLE1IS after the batch (combined stage-1+2 entries).
    case ipa(IPA, level: Int?, granule: Granule)
    /// TLBI VMALLS12E1IS with VTTBR_EL2 holding the tables' VMID.
    case allForVMID

    /// The Xt operand of TLBI IPAS2E1IS (Arm ARM, "TLBI IPAS2E1IS"): IPA[47:12] in bits [35:0];
    /// with `ttl` (FEAT_TTL) bits [47:44] = TTL: [3:2] granule (0b01 4KB, 0b10 16KB, 0b11 64KB),
    /// [1:0] level of the leaf entry (0b00 = no level information). nil for `.allForVMID`.
    public func operand(ttl: Bool) -> UInt64? {
        guard case let .ipa(ipa, level, granule) = self else { return nil }
        var x = (ipa.rawValue >> 12) & 0xF_FFFF_FFFF
        if ttl, let level, (1...3).contains(level) {
            let tg: UInt64 =
                switch granule {
                case .k4: 0b01
                case .k16: 0b10
                case .k64: 0b11
                }
            x |= (tg << 2 | UInt64(level)) << 44
        }
        return x
    }

    public var description: String {
        switch self {
        case let .ipa(ipa, level, granule): "TLBI IPAS2E1IS \(ipa) (\(granule), level \(level.map(String.init) ?? "any"))"
        case .allForVMID: "TLBI VMALLS12E1IS"
        }
    }
}

/// Synchronous TLB maintenance point. The builder calls it after it has written the invalid
/// ("break") descriptors and before it writes any new valid ("make") descriptor in their place
/// or reuses/frees a table page. In the harness the implementation has the guest perform the
/// TLBIs and returns once the payload acknowledged.
public protocol TLBMaintenance {
    mutating func invalidate(_ batch: [TLBInvalidation]) throws
}

/// Keeps every batch (for tests and for tables built without a running guest).
public struct RecordingTLB: TLBMaintenance, Sendable {
    public private(set) var batches: [[TLBInvalidation]] = []
    public init() {}
    public mutating func invalidate(_ batch: [TLBInvalidation]) throws { batches.append(batch) }
    public var all: [TLBInvalidation] { batches.flatMap { $0 } }
}

/// Counts invalidations without keeping them (tables not yet installed, benchmarks).
public struct CountingTLB: TLBMaintenance, Sendable {
    public var batchCount = 0
    public var invalidationCount = 0
    public init() {}
    @inlinable public mutating func invalidate(_ batch: [TLBInvalidation]) throws {
        batchCount += 1
        invalidationCount += batch.count
    }
}
