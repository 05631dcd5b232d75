/// The bytes of a message page to decode: little-endian loads at byte offsets, bounds-checked
/// by the conformer. `[UInt8]` is one (a copy); `Machine.MappedWindow` reads guest RAM in place.
public protocol MailboxBytes {
    var count: Int { get }
    func load64(at offset: Int) -> UInt64
    func load32(at offset: Int) -> UInt32
}

extension Array: MailboxBytes where Element == UInt8 {
    public func load64(at offset: Int) -> UInt64 { loadLE(UInt64.self, at: offset) }
    public func load32(at offset: Int) -> UInt32 { loadLE(UInt32.self, at: offset) }
}
