import AArch64

/// RAM a scenario needs beyond the session layout's (e.g. a 512 MiB-aligned block for a 64K
/// granule's level-2 block): the runner backs it with a memslot of its own before the run.
public struct ExtraRAM: Sendable, Equatable {
    public var name: String
    public var base: PhysicalAddress
    public var size: UInt64
    /// Created with KVM_MEM_LOG_DIRTY_PAGES (a `dirtyLog: "ownSlot"` region).
    public var logDirtyPages: Bool
    public init(name: String, base: PhysicalAddress, size: UInt64, logDirtyPages: Bool = false) {
        self.name = name
        self.base = base
        self.size = size
        self.logDirtyPages = logDirtyPages
    }
}
