import AArch64

/// A scenario's dirty-logged memory: the memslot whose KVM_GET_DIRTY_LOG is read, the
/// region's pages in it, and what the payload itself writes when the memslot is the RAM one.
/// "Exactly" is exact: host writes (planting, replies, stage-2 tables) go through the host's
/// mapping and never enter the log, so the log holds the pages the guest wrote, page for page.
public struct DirtyLogPlan: Sendable, Equatable {
    /// The memslot (region) name: the region's own, or "ram".
    public var memslot: String
    /// Whether logging is turned on for the RAM memslot after HELLO (off again at the end).
    public var ramSlot: Bool
    public var base: PhysicalAddress
    public var size: UInt64
    /// Host page size (the log's granularity) the scenario was built for.
    public var pageSize: UInt64
    /// Page bases the payload writes on every exit (message, vEL2 stack, op results): in the
    /// log besides the test's pages when `ramSlot`.
    public var payloadPages: [UInt64]

    public init(memslot: String, ramSlot: Bool, base: PhysicalAddress, size: UInt64, pageSize: UInt64, payloadPages: [UInt64]) {
        self.memslot = memslot
        self.ramSlot = ramSlot
        self.base = base
        self.size = size
        self.pageSize = pageSize
        self.payloadPages = payloadPages
    }

    /// The page bases the log must hold: `pages` of the region, plus the payload's pages.
    public func expected(pages: [Int], payload: Bool) -> [UInt64] {
        (pages.map { base.rawValue + UInt64($0) * pageSize } + (payload && ramSlot ? payloadPages : [])).sorted()
    }

    /// `pages` as the report names them: "page k" of the region, or the address.
    public func describe(_ pages: [UInt64]) -> String {
        let region = base.rawValue..<(base.rawValue + size)
        return pages.map { region.contains($0) ? "page \(($0 - base.rawValue) / pageSize)" : "0x" + String($0, radix: 16) }
            .joined(separator: ", ")
    }

    /// Compares a log read with what it must hold; nil when equal.
    public func mismatch(got: [UInt64], pages: [Int], payload: Bool, when: String) -> String? {
        let want = expected(pages: pages, payload: payload)
        return got == want ? nil : "dirty log \(when): [\(describe(got))], expected exactly [\(describe(want))]"
    }
}
