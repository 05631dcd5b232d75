import AArch64

#if canImport(Glibc)
    import Glibc
#endif

/// The memory seam: where table pages live (a byte buffer in tests, guest memory in the
/// harness). Descriptors are 64-bit little-endian.
public protocol TableMemory {
    func readDescriptor(at pa: PhysicalAddress) -> UInt64
    func writeDescriptor(_ value: UInt64, at pa: PhysicalAddress)
    /// Whether `pa` (8 bytes) is backed. The walker reports an external abort on a table walk
    /// for an unbacked table address instead of reading it. Default: true.
    func isBacked(_ pa: PhysicalAddress) -> Bool
    /// Zero `bytes` bytes at `pa` (a fresh table page). Default: 8-byte writes.
    func zero(at pa: PhysicalAddress, bytes: UInt64)
    /// The descriptor at `pa`, or nil when unbacked. Default: `isBacked` then `readDescriptor`.
    func loadDescriptor(at pa: PhysicalAddress) -> UInt64?
    /// The descriptor at `pa` if `pa` is backed and below `ceiling`, else nil (the walk's form:
    /// one test covers the table memory and the output-size limit). Default: both tests.
    func loadDescriptor(at pa: PhysicalAddress, below ceiling: UInt64) -> UInt64?
    /// Write `count` consecutive descriptors at `pa`: `first`, `first + step`, … (a run of
    /// pages or blocks in a table being built). Default: `writeDescriptor` in a loop.
    func writeDescriptorRun(first: UInt64, step: UInt64, count: Int, at pa: PhysicalAddress)
}

extension TableMemory {
    public func isBacked(_ pa: PhysicalAddress) -> Bool { true }
    @inlinable public func loadDescriptor(at pa: PhysicalAddress) -> UInt64? {
        isBacked(pa) ? readDescriptor(at: pa) : nil
    }
    @inlinable public func loadDescriptor(at pa: PhysicalAddress, below ceiling: UInt64) -> UInt64? {
        pa.rawValue < ceiling ? loadDescriptor(at: pa) : nil
    }
    @inlinable public func writeDescriptorRun(first: UInt64, step: UInt64, count: Int, at pa: PhysicalAddress) {
        var v = first
        for i in 0..<count {
            writeDescriptor(v, at: pa.advanced(by: UInt64(i) * 8))
            v &+= step
        }
    }
    public func zero(at pa: PhysicalAddress, bytes: UInt64) {
        var o: UInt64 = 0
        while o < bytes {
            writeDescriptor(0, at: pa.advanced(by: o))
            o += 8
        }
    }
}

/// A table pool in host memory: one contiguous, zero-initialised buffer standing for the
/// guest-physical range [base, base + size). Reads outside it return 0 and report unbacked;
/// writes outside it trap (the builder never writes outside its pool).
public final class ByteBufferTableMemory: TableMemory, @unchecked Sendable {
    public let base: PhysicalAddress
    public let size: UInt64
    @usableFromInline let storage: UnsafeMutableRawPointer
    /// `storage` − `base` as an address: the host address of guest-physical `pa` is `biased` + pa,
    /// so a walk's next load depends on the descriptor through one addition, not two (the
    /// bounds check works on `pa` − `base` beside it).
    @usableFromInline let biased: UInt
    /// `size` − 7: a descriptor at offset o is inside the buffer when o < this.
    @usableFromInline let lastDescriptor: UInt64
    /// Every byte from this offset up is zero: the buffer is zeroed when allocated and nothing
    /// non-zero has been written there since. `zero` does not rewrite those bytes (a pool's
    /// fresh pages come from there), so a table page is zeroed once, not on every take.
    @exclusivity(unchecked) @usableFromInline var zeroFrom: UInt64 = 0

    public init(base: PhysicalAddress, size: UInt64) {
        precondition(size > 0 && size % 8 == 0, "table memory size must be a positive multiple of 8")
        self.base = base
        self.size = size
        storage = Self.allocateBuffer(Int(size))
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: Int(size))
        biased = UInt(bitPattern: storage) &- UInt(truncatingIfNeeded: base.rawValue)
        lastDescriptor = size &- 7
    }

    /// One contiguous buffer; from 2 MiB up it is 2 MiB aligned and offered to transparent
    /// huge pages, so walks over a large pool take few TLB misses.
    static func allocateBuffer(_ bytes: Int) -> UnsafeMutableRawPointer {
        let huge = 2 << 20
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: bytes >= huge ? huge : 4096)
        #if canImport(Glibc)
            if bytes >= huge { _ = madvise(p, bytes & ~(huge - 1), Int32(MADV_HUGEPAGE)) }
        #endif
        return p
    }
    /// A memory holding a copy of `bytes` (e.g. an image file) at `base`.
    public convenience init(base: PhysicalAddress, bytes: [UInt8]) {
        self.init(base: base, size: max(8, (UInt64(bytes.count) + 7) & ~7))
        bytes.withUnsafeBytes { storage.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        zeroFrom = UInt64(bytes.count)
    }
    deinit { storage.deallocate() }

    @inlinable public func readDescriptor(at pa: PhysicalAddress) -> UInt64 { loadDescriptor(at: pa) ?? 0 }
    @inlinable @inline(__always) public func writeDescriptor(_ value: UInt64, at pa: PhysicalAddress) {
        let o = pa.rawValue &- base.rawValue
        precondition(o < lastDescriptor, "descriptor write outside the table memory")
        if o >= zeroFrom && value != 0 { zeroFrom = o &+ 8 }
        storage.storeBytes(of: value.littleEndian, toByteOffset: Int(truncatingIfNeeded: o), as: UInt64.self)
    }
    @inlinable public func loadDescriptor(at pa: PhysicalAddress) -> UInt64? { isBacked(pa) ? load(inside: pa) : nil }
    @inlinable public func loadDescriptor(at pa: PhysicalAddress, below ceiling: UInt64) -> UInt64? {
        // Offsets below `readable` are inside the buffer and below `ceiling` (the same for every
        // level of a walk, so the optimizer computes it once).
        let readable = ceiling > base.rawValue ? min(lastDescriptor, ceiling &- base.rawValue) : 0
        return pa.rawValue &- base.rawValue < readable ? load(inside: pa) : nil
    }
    /// The descriptor at `pa`, which the caller has checked lies in [base, base + size − 8].
    @inlinable @inline(__always) func load(inside pa: PhysicalAddress) -> UInt64 {
        // SAFETY: pa is inside [base, base + size − 8] (checked by every caller), so biased + pa
        // and the 7 bytes after it lie inside storage.
        let p = UnsafeRawPointer(bitPattern: biased &+ UInt(truncatingIfNeeded: pa.rawValue)).unsafelyUnwrapped
        return UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
    }
    @inlinable public func writeDescriptorRun(first: UInt64, step: UInt64, count: Int, at pa: PhysicalAddress) {
        let o = pa.rawValue &- base.rawValue
        precondition(count >= 0 && o <= size && UInt64(count) * 8 <= size - o, "descriptor run outside the table memory")
        if o &+ UInt64(count) * 8 > zeroFrom { zeroFrom = o &+ UInt64(count) * 8 }
        let p = (storage + Int(truncatingIfNeeded: o)).bindMemory(to: UInt64.self, capacity: count)
        var v = first
        for i in 0..<count {
            p[i] = v.littleEndian
            v &+= step
        }
    }
    @inlinable public func isBacked(_ pa: PhysicalAddress) -> Bool {
        pa.rawValue &- base.rawValue < lastDescriptor
    }
    /// Inlined up to the already-zero test: a fresh pool page needs no more.
    @inlinable @inline(__always) public func zero(at pa: PhysicalAddress, bytes: UInt64) {
        let o = pa.rawValue &- base.rawValue
        precondition(o <= size && bytes <= size &- o, "zero outside the table memory")
        if o < zeroFrom { zero(offset: o, bytes: bytes) }
    }
    @usableFromInline func zero(offset o: UInt64, bytes: UInt64) {
        (storage + Int(o)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(min(bytes, zeroFrom - o)))
        if o + bytes >= zeroFrom { zeroFrom = o }
    }
    /// The raw little-endian bytes (the image `harness stage2 build` writes).
    public var bytes: [UInt8] {
        Array(UnsafeRawBufferPointer(start: storage, count: Int(size)))
    }
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage, count: Int(size)))
    }
}
