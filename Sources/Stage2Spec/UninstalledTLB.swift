import Stage2

/// A no-op TLB for tables that are not installed anywhere yet.
public struct UninstalledTLB: TLBMaintenance {
    public init() {}
    public mutating func invalidate(_ batch: [TLBInvalidation]) throws {}
}
