/// Stage-2 fault tests (permission, access flag, levels, address size, block split, hvc/smc,
/// MMIO passthrough, demand-paging matrix). Filled in by the stage-2 fault catalog work.
extension Catalog {
    public static let stage2FaultTests: [CatalogTest] = []
}
