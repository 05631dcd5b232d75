@testable import GuestProtocol

/// A message page in a byte array, answered in place as the session answers guest RAM.
final class BytePage: MailboxPage {
    var bytes: [UInt8]
    init(count: Int) { bytes = [UInt8](repeating: 0, count: count) }
    var count: Int { bytes.count }
    func load64(at offset: Int) -> UInt64 { bytes.loadLE(UInt64.self, at: offset) }
    func load32(at offset: Int) -> UInt32 { bytes.loadLE(UInt32.self, at: offset) }
    func store64(_ value: UInt64, at offset: Int) { bytes.storeLE(value, at: offset) }
    func store32(_ value: UInt32, at offset: Int) { bytes.storeLE(value, at: offset) }
}
