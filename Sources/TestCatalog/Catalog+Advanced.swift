/// Tests that drive the session with scripts (VMID isolation, two vCPUs, nested stage 1,
/// live break-before-make, dirty logging, two-level demand paging).
extension Catalog {
    public static let advancedTests: [CatalogTest] = []
}
