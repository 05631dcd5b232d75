import AArch64
import GuestPayload
import GuestProtocol
import Stage2

extension HostFacts {
    /// A host with everything, to build every variant once when a file is loaded.
    static let validation = HostFacts(vmIPABits: 52)
    /// The hosts `harness check` builds every variant for: the largest VM KVM makes (52-bit
    /// IPA) with each page size an arm64 Linux kernel can have (CONFIG_ARM64_4K_PAGES,
    /// _16K_PAGES, _64K_PAGES), which decides memslot and dirty-log alignment (`hostPage`).
    public static let checked = [0x1000, 0x4000, 0x1_0000].map { HostFacts(vmIPABits: 52, hostPageSize: $0) }
}
