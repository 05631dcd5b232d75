import AArch64
import CKVM
import Glibc

/// Errors reaching guest memory. Guest-provided addresses and lengths are untrusted, so every
/// access is checked and a bad one is an error, never a crash.
public enum GuestMemoryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `[address, address + length)` is not inside one backed region.
    case outOfBounds(address: PhysicalAddress, length: UInt64, backed: [String])
    /// The anonymous mapping for a region could not be had.
    case mapFailed(region: String, bytes: UInt64, errno: Int32)

    public var description: String {
        switch self {
        case let .outOfBounds(address, length, backed):
            return
                "guest memory access of \(length) bytes at \(address) is not inside one backed region (backed: \(backed.joined(separator: ", ")))"
        case let .mapFailed(region, bytes, e):
            return
                "cannot map \(bytes) bytes of guest memory for region '\(region)': \(String(cString: strerror(e))) (errno \(e)) — lower the region size or raise the memory limit (ulimit -v, cgroup memory.max)"
        }
    }
}

/// Guest RAM: one anonymous host mapping per backed region of a `MemoryMap`.
///
/// Reads and writes take guest-physical addresses, are bounds-checked against the region
/// that holds them (an access may not straddle two regions), and are little-endian and
/// alignment-free. A reference type because the Machine, the stage-2 builder and tests share it;
/// the mappings are released when the last reference goes (after the VM that uses them).
public final class GuestMemory {
    public struct Backing {
        public let region: MemoryRegion
        /// Host address of the region's first byte (what the memslot points at).
        public let host: UnsafeMutableRawPointer
    }

    public private(set) var backings: [Backing]

    /// Maps every backed region of `map` (anonymous, private, zero-filled, MAP_NORESERVE so a
    /// large sparse region costs only the pages touched).
    public init(map: MemoryMap) throws(GuestMemoryError) {
        var made: [Backing] = []
        for region in map.regions where region.kind.isBacked {
            guard region.size <= UInt64(Int.max) else {
                for b in made { munmap(b.host, Int(b.region.size)) }
                throw .mapFailed(region: region.name, bytes: region.size, errno: ENOMEM)
            }
            // SAFETY: a fresh anonymous mapping; no existing memory is affected.
            let p = mmap(nil, Int(region.size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            if p == MAP_FAILED || p == nil {
                let e = Glibc.errno
                // SAFETY: each earlier backing was mapped above with exactly its region's size.
                for b in made { munmap(b.host, Int(b.region.size)) }
                throw .mapFailed(region: region.name, bytes: region.size, errno: e)
            }
            made.append(Backing(region: region, host: p!))
        }
        backings = made
    }

    /// Maps one more backed region after creation (a memslot the host adds while the VM
    /// runs, e.g. lazily backed RAM). It must not overlap a region already backed.
    @discardableResult
    public func addRegion(_ region: MemoryRegion) throws(GuestMemoryError) -> Backing {
        guard region.size > 0, region.size <= UInt64(Int.max), region.end != nil,
            !backings.contains(where: { $0.region.base < region.end! && region.base < $0.region.end! })
        else {
            throw .outOfBounds(address: region.base, length: region.size, backed: backings.map(\.region.name))
        }
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let p = mmap(nil, Int(region.size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if p == MAP_FAILED || p == nil { throw .mapFailed(region: region.name, bytes: region.size, errno: Glibc.errno) }
        let b = Backing(region: region, host: p!)
        backings.append(b)
        return b
    }

    /// Replaces the host memory behind `[address, address + size)` (inside one backing, host-page
    /// aligned) with zero-filled memory on other physical pages: a fresh anonymous mapping has
    /// each host page written (so allocated) while the old memory is still mapped, then mremap
    /// (MREMAP_FIXED) moves it over the range, which unmaps the old memory. The memslot keeps
    /// pointing at that address, so KVM's MMU notifiers see an unmap; and since no new page can
    /// be one the old memory just gave back, a stale mapping KVM kept would read other memory.
    /// With `copy` the new memory starts as a copy of the old (what a VMM moving memory does).
    public func replace(_ address: PhysicalAddress, size: UInt64, hostPageSize: UInt64, copy: Bool = false) throws(GuestMemoryError) {
        let (host, offset) = try locate(address, size)
        let start = host + offset
        guard size > 0, UInt(bitPattern: start) % UInt(hostPageSize) == 0, size % hostPageSize == 0 else {
            throw .outOfBounds(address: address, length: size, backed: backings.map(\.region.name))
        }
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let p = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard p != MAP_FAILED, let fresh = p else {
            throw .mapFailed(region: "replacement at \(address)", bytes: size, errno: Glibc.errno)
        }
        if copy {
            // SAFETY: both ranges are `size` bytes of our own mappings (the new one just made).
            fresh.copyMemory(from: start, byteCount: Int(size))
        } else {
            // SAFETY: every offset is below `size`, inside the mapping just made.
            for page in stride(from: 0, to: Int(size), by: Int(hostPageSize)) {
                fresh.storeBytes(of: 0, toByteOffset: page, as: UInt8.self)
            }
        }
        // SAFETY: locate() proved the target lies inside our own mapping; nothing Swift owns lives
        // in guest memory, and no vCPU runs during a host step.
        guard ckvm_mremap_over(fresh, Int(size), start) == 0 else {
            let e = Glibc.errno
            munmap(fresh, Int(size))
            throw .mapFailed(region: "replacement at \(address)", bytes: size, errno: e)
        }
    }

    /// Unmaps every backing now (teardown ordering tests); later accesses fail as out of bounds.
    public func unmapAll() {
        // SAFETY: each backing was mapped with its region's size; the list is emptied so
        // deinit does not unmap them again.
        for b in backings { munmap(b.host, Int(b.region.size)) }
        backings = []
    }

    deinit {
        // SAFETY: each backing was mapped in init with its region's size and is unmapped once here.
        for b in backings { munmap(b.host, Int(b.region.size)) }
    }

    /// The backing and byte offset holding `[address, address + length)`, or an error.
    @inline(__always)
    func locate(_ address: PhysicalAddress, _ length: UInt64) throws(GuestMemoryError) -> (UnsafeMutableRawPointer, Int) {
        for b in backings where b.region.contains(address, length: length) {
            return (b.host, Int(address.rawValue - b.region.base.rawValue))
        }
        throw .outOfBounds(address: address, length: length, backed: backings.map(\.region.name))
    }

    /// Whether `[address, address + length)` lies inside one backed region.
    public func contains(_ address: PhysicalAddress, length: UInt64 = 1) -> Bool {
        backings.contains { $0.region.contains(address, length: length) }
    }

    /// Reads a little-endian integer at `address` (any alignment).
    public func read<T: FixedWidthInteger>(_ type: T.Type, at address: PhysicalAddress) throws(GuestMemoryError) -> T {
        let (host, offset) = try locate(address, UInt64(MemoryLayout<T>.size))
        // SAFETY: locate() proved [offset, offset + size) lies inside this live mapping.
        return T(littleEndian: host.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Writes a little-endian integer at `address` (any alignment).
    public func write<T: FixedWidthInteger>(_ value: T, at address: PhysicalAddress) throws(GuestMemoryError) {
        let (host, offset) = try locate(address, UInt64(MemoryLayout<T>.size))
        // SAFETY: as in read(); the bytes are plain memory, no other Swift object aliases them.
        host.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    public func readBytes(at address: PhysicalAddress, count: Int) throws(GuestMemoryError) -> [UInt8] {
        guard count >= 0 else { throw .outOfBounds(address: address, length: 0, backed: backings.map(\.region.name)) }
        let (host, offset) = try locate(address, UInt64(count))
        // SAFETY: locate() proved the `count` bytes lie inside the mapping.
        return Array(UnsafeRawBufferPointer(start: host + offset, count: count))
    }

    public func write(bytes: [UInt8], at address: PhysicalAddress) throws(GuestMemoryError) {
        let (host, offset) = try locate(address, UInt64(bytes.count))
        // SAFETY: locate() proved the destination range lies inside the mapping; source and
        // destination cannot overlap (the array is Swift-owned heap memory).
        bytes.withUnsafeBytes { src in
            if let base = src.baseAddress { (host + offset).copyMemory(from: base, byteCount: src.count) }
        }
    }

    public func fill(_ byte: UInt8, at address: PhysicalAddress, count: UInt64) throws(GuestMemoryError) {
        let (host, offset) = try locate(address, count)
        // SAFETY: locate() proved the range lies inside the mapping.
        (host + offset).initializeMemory(as: UInt8.self, repeating: byte, count: Int(count))
    }

    /// Host pointer and length of a backed region (for memslots and bulk I/O).
    public func backing(of regionName: String) -> Backing? {
        backings.first { $0.region.name == regionName }
    }
}
