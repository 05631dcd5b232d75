import AArch64

/// What a region of the guest-physical address space is for.
public enum RegionKind: String, Sendable, Equatable, CaseIterable {
    /// Ordinary guest RAM (payload code, data, stacks).
    case ram
    /// RAM holding the stage-2 table pool the host's builder writes.
    case tablePool
    /// RAM holding the vEL2 payload image.
    case payload
    /// RAM the nested EL1 guest's IPAs are mapped onto.
    case nestedGuest
    /// Unbacked page: guest accesses exit to the host as KVM_EXIT_MMIO (the mailbox).
    case mailbox
    /// Other unbacked MMIO window.
    case mmio
    /// vGICv3 distributor frame (KVM_VGIC_V3_ADDR_TYPE_DIST).
    case gicDistributor
    /// vGICv3 redistributor frames, one 128 KiB pair per vCPU (KVM_VGIC_V3_ADDR_TYPE_REDIST).
    case gicRedistributor

    /// Whether the region is backed by host memory through a memslot.
    public var isBacked: Bool {
        switch self {
        case .ram, .tablePool, .payload, .nestedGuest: true
        case .mailbox, .mmio, .gicDistributor, .gicRedistributor: false
        }
    }
}

/// One named region of the guest-physical address space.
public struct MemoryRegion: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let base: PhysicalAddress
    public let size: UInt64
    public let kind: RegionKind
    /// Create the memslot with KVM_MEM_LOG_DIRTY_PAGES (read with `Machine.dirtyPages`).
    public let logDirtyPages: Bool

    public init(name: String, base: PhysicalAddress, size: UInt64, kind: RegionKind, logDirtyPages: Bool = false) {
        self.name = name
        self.base = base
        self.size = size
        self.kind = kind
        self.logDirtyPages = logDirtyPages
    }

    /// One past the last byte (nil if base + size overflows 64 bits).
    public var end: PhysicalAddress? {
        let (e, overflow) = base.rawValue.addingReportingOverflow(size)
        return overflow ? nil : PhysicalAddress(e)
    }

    /// Whether `[address, address + length)` lies entirely inside the region.
    public func contains(_ address: PhysicalAddress, length: UInt64 = 1) -> Bool {
        guard address >= base else { return false }
        let offset = address.rawValue - base.rawValue
        return offset < size && length <= size - offset
    }

    public var description: String {
        let last = base.rawValue &+ size &- 1
        return "\(name) [\(kind.rawValue)] 0x\(String(base.rawValue, radix: 16))..0x\(String(last, radix: 16))"
    }
}

/// A mistake in a memory map. Each names the regions involved.
public enum MemoryMapError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty(region: String)
    case wrapsAround(region: String)
    case duplicateName(String)
    case overlap(MemoryRegion, MemoryRegion)
    case misaligned(region: String, alignment: UInt64)
    case noSuchRegion(String)

    public var description: String {
        switch self {
        case let .empty(r): "memory map: region '\(r)' has size 0"
        case let .wrapsAround(r): "memory map: region '\(r)' runs past the end of the 64-bit address space"
        case let .duplicateName(n): "memory map: two regions are named '\(n)'"
        case let .overlap(a, b): "memory map: regions overlap: \(a) and \(b)"
        case let .misaligned(r, a): "memory map: region '\(r)' base and size must be multiples of 0x\(String(a, radix: 16)) bytes"
        case let .noSuchRegion(n): "memory map: no region named '\(n)'"
        }
    }
}

/// The guest-physical memory map, declared as data and checked once: every region non-empty,
/// inside the 64-bit space, uniquely named, and no two overlapping.
public struct MemoryMap: Sendable, Equatable {
    /// Regions sorted by base address.
    public let regions: [MemoryRegion]

    public init(_ regions: [MemoryRegion]) throws(MemoryMapError) {
        var names = Set<String>()
        for r in regions {
            guard r.size > 0 else { throw .empty(region: r.name) }
            guard r.end != nil else { throw .wrapsAround(region: r.name) }
            guard names.insert(r.name).inserted else { throw .duplicateName(r.name) }
        }
        let sorted = regions.sorted { $0.base < $1.base }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.end! > b.base {
            throw .overlap(a, b)
        }
        self.regions = sorted
    }

    public func region(named name: String) throws(MemoryMapError) -> MemoryRegion {
        guard let r = regions.first(where: { $0.name == name }) else { throw .noSuchRegion(name) }
        return r
    }

    /// The region that holds all of `[address, address + length)`, if one does.
    public func region(containing address: PhysicalAddress, length: UInt64 = 1) -> MemoryRegion? {
        regions.first { $0.contains(address, length: length) }
    }

    public func regions(of kind: RegionKind) -> [MemoryRegion] {
        regions.filter { $0.kind == kind }
    }

    /// Checks every backed region's base and size are multiples of `alignment` (memslots must
    /// be host-page aligned: KVM_SET_USER_MEMORY_REGION returns EINVAL otherwise).
    public func checkBackedAlignment(_ alignment: UInt64) throws(MemoryMapError) {
        for r in regions where r.kind.isBacked {
            if !r.base.isAligned(to: alignment) || r.size % alignment != 0 {
                throw .misaligned(region: r.name, alignment: alignment)
            }
        }
    }

    public var description: String { regions.map(\.description).joined(separator: "\n") }
}

extension MemoryMap {
    /// The vGICv3 frames at the addresses verified in the emulated host (distributor
    /// 0x08000000, 64 KiB; redistributors 0x080A0000, 128 KiB per vCPU — the sizes are
    /// KVM_VGIC_V3_DIST_SIZE / KVM_VGIC_V3_REDIST_SIZE; the Machine checks them against the
    /// kernel headers when it creates the vGIC).
    public static func gicRegions(vcpus: Int) -> [MemoryRegion] {
        [
            MemoryRegion(name: "gic-distributor", base: PhysicalAddress(0x0800_0000), size: 0x1_0000, kind: .gicDistributor),
            MemoryRegion(
                name: "gic-redistributors", base: PhysicalAddress(0x080A_0000), size: 0x2_0000 * UInt64(vcpus),
                kind: .gicRedistributor),
        ]
    }
}
