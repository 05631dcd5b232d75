import AArch64
import GuestProtocol

/// A bounds-checked view of `count` bytes of guest RAM through its host mapping: little-endian
/// loads and stores at byte offsets without a copy (the message page, the table pool). It keeps
/// the `GuestMemory` that owns the mapping alive, so it can never outlive the bytes.
public struct MappedWindow: MailboxPage {
    /// Owns the mapping (unmapped only when the last reference goes).
    let owner: GuestMemory
    @usableFromInline let base: UnsafeMutableRawPointer
    public let count: Int

    @inlinable @inline(__always)
    func check(_ offset: Int, _ size: Int) {
        precondition(offset >= 0 && offset <= count &- size, "access at \(offset) outside the \(count)-byte window")
    }

    @inlinable public func load64(at offset: Int) -> UInt64 {
        check(offset, 8)
        // SAFETY: check() keeps [offset, offset + 8) inside the window; the owner keeps it mapped.
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inlinable public func load32(at offset: Int) -> UInt32 {
        check(offset, 4)
        // SAFETY: as in load64.
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable public func store64(_ value: UInt64, at offset: Int) {
        check(offset, 8)
        // SAFETY: as in load64; guest RAM is plain bytes no Swift object aliases.
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }

    @inlinable public func store32(_ value: UInt32, at offset: Int) {
        check(offset, 4)
        // SAFETY: as in store64.
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
}

extension GuestMemory {
    /// A window on `[address, address + count)` when it lies inside one backed region.
    public func window(at address: PhysicalAddress, count: Int) -> MappedWindow? {
        guard count >= 0, let (host, offset) = try? locate(address, UInt64(count)) else { return nil }
        // SAFETY: locate() proved the range lies inside this live mapping.
        return MappedWindow(owner: self, base: host + offset, count: count)
    }
}

extension MappedWindow {
    /// The window's first byte in this process, for C code that reads and writes guest RAM
    /// in place (the exit-loop baseline). Valid while the window's `GuestMemory` is alive.
    public var hostBytes: UnsafeMutablePointer<UInt8> {
        // SAFETY: guest RAM is untyped bytes, so viewing it as UInt8 binds no conflicting type.
        base.assumingMemoryBound(to: UInt8.self)
    }
}
