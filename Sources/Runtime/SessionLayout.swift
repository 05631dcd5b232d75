import AArch64
import GuestProtocol

/// Where a session puts things in guest-physical memory. One RAM region holds everything;
/// the doorbell page is unbacked so the payload's store to it exits as KVM_EXIT_MMIO.
public struct SessionLayout: Sendable, Equatable {
    public var ramBase: PhysicalAddress
    public var ramSize: UInt64
    /// The payload image (vEL2 code + nested op interpreter), identity-mapped R+X at stage 2.
    public var payload: PhysicalAddress
    public var payloadWindow: UInt64
    /// vEL2-only: the config block, the message page and the vEL2 stack (not mapped at stage 2).
    public var config: PhysicalAddress
    public var message: PhysicalAddress
    public var el2StackTop: PhysicalAddress
    /// The nested guest's op list, results and stack, identity-mapped RW at stage 2.
    public var nested: PhysicalAddress
    public var nestedSize: UInt64
    public var ops: PhysicalAddress
    public var results: PhysicalAddress
    public var nestedStackTop: PhysicalAddress
    /// The stage-2 table pool.
    public var tablePool: PhysicalAddress
    public var tablePoolSize: UInt64
    /// Pages/blocks tests map into the nested guest's IPA space.
    public var dataPool: PhysicalAddress
    public var dataPoolSize: UInt64
    /// Unbacked page the payload rings.
    public var doorbell: PhysicalAddress

    /// 64 MiB of RAM at 0x4000_0000 (KVM's conventional arm64 RAM base, clear of the
    /// vGIC frames at 0x0800_0000 and the doorbell at 0x0A00_0000):
    /// payload 0x4000_0000 (1 MiB), control 0x4010_0000 (1 MiB), nested 0x4020_0000 (2 MiB),
    /// table pool 0x4040_0000 (4 MiB), data 0x4080_0000 (56 MiB). All 2 MiB aligned so
    /// every granule and a 4K-granule 2 MiB block can map them.
    public static let standard: SessionLayout = {
        let ram: UInt64 = 0x4000_0000
        return SessionLayout(
            ramBase: PhysicalAddress(ram), ramSize: 64 << 20,
            payload: PhysicalAddress(ram), payloadWindow: 1 << 20,
            config: PhysicalAddress(ram + 0x10_0000), message: PhysicalAddress(ram + 0x10_1000),
            el2StackTop: PhysicalAddress(ram + 0x11_0000),
            nested: PhysicalAddress(ram + 0x20_0000), nestedSize: 2 << 20,
            ops: PhysicalAddress(ram + 0x20_0000), results: PhysicalAddress(ram + 0x30_0000),
            nestedStackTop: PhysicalAddress(ram + 0x40_0000),
            tablePool: PhysicalAddress(ram + 0x40_0000), tablePoolSize: 4 << 20,
            dataPool: PhysicalAddress(ram + 0x80_0000), dataPoolSize: 56 << 20,
            doorbell: PhysicalAddress(0x0A00_0000))
    }()

    /// The most ops the op area holds (results and ops are 32 bytes each).
    public var maxOps: Int { Int(results.offset(from: ops)) / GuestABI.opSize }

    /// Every region inside RAM and not overlapping; the image fits; alignment for 64K pages.
    public func validate(imageBytes: Int) throws(SessionError) {
        let ramEnd = ramBase.rawValue + ramSize
        func inRAM(_ name: String, _ a: PhysicalAddress, _ size: UInt64) throws(SessionError) {
            guard a.rawValue >= ramBase.rawValue, a.rawValue + size <= ramEnd else {
                throw .layout("\(name) [\(a), +0x\(String(size, radix: 16))) is outside RAM")
            }
        }
        try inRAM("payload", payload, payloadWindow)
        try inRAM("nested region", nested, nestedSize)
        try inRAM("table pool", tablePool, tablePoolSize)
        try inRAM("data pool", dataPool, dataPoolSize)
        try inRAM("message", message, UInt64(GuestABI.messageSize))
        guard UInt64(imageBytes) <= payloadWindow else { throw .layout("payload image (\(imageBytes) bytes) exceeds its window") }
        guard payload.isAligned(to: GuestABI.imageAlignment) else { throw .layout("payload not \(GuestABI.imageAlignment)-aligned") }
        for (n, a) in [("payload", payload), ("nested", nested), ("table pool", tablePool), ("data pool", dataPool)] {
            guard a.isAligned(to: 0x10000) else { throw .layout("\(n) is not 64 KiB aligned") }
        }
        let spans = [
            (payload, payloadWindow), (config, UInt64(0x1000)), (message, UInt64(0x1000)),
            (nested, nestedSize), (tablePool, tablePoolSize), (dataPool, dataPoolSize),
        ]
        for i in spans.indices {
            for j in spans.indices where i < j {
                let (a, s) = spans[i]
                let (b, t) = spans[j]
                if a.rawValue < b.rawValue + t && b.rawValue < a.rawValue + s { throw .layout("regions at \(a) and \(b) overlap") }
            }
        }
        guard doorbell.rawValue + 0x1000 <= ramBase.rawValue || doorbell.rawValue >= ramEnd else {
            throw .layout("doorbell \(doorbell) lies in RAM")
        }
    }
}

/// A session failure: the test fails with this message (never a host crash).
public enum SessionError: Error, CustomStringConvertible {
    case layout(String)
    case protocolViolation(String)
    case unexpected(String)
    case check(String)
    case skip(String)
    public var description: String {
        switch self {
        case .layout(let m): "layout: " + m
        case .protocolViolation(let m): "mailbox: " + m
        case .unexpected(let m): m
        case .check(let m): m
        case .skip(let m): "skipped: " + m
        }
    }
}
