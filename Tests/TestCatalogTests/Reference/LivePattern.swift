import AArch64
import GuestProtocol
import Stage2

/// The 64-bit pattern a test plants at the start of a page: distinct per tag, never 0.
@inline(__always) public func livePattern(_ tag: UInt64) -> UInt64 { 0x5AA5_0000_0000_0000 | tag << 16 | 0xC0DE }

public func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
