import AArch64
import GuestProtocol
import Runtime
import Stage2

/// Dirty logging of the nested guest's writes, as data. The test's pages live in their own
/// memslot (created with KVM_MEM_LOG_DIRTY_PAGES), so nothing but the nested guest writes
/// there: the payload's message page, the stage-2 tables and the op results are in the RAM
/// memslot, and writes the host makes through its own mapping never enter the log. So
/// "exactly" is exact: the log must equal the set of pages written, page for page.
public enum DirtyLog {
    public static let regionName = "dirty-log"
    /// Guest-physical base of the logged memslot (clear of RAM 0x4000_0000-0x43FF_FFFF, the
    /// doorbell and the vGIC frames).
    public static let regionBase: UInt64 = 0x5000_0000
    public static let pageCount = 8
    /// The IPA the nested guest sees the region at (stage 2 maps it from the start).
    public static let ipaBase: UInt64 = 0x80_0000_0000

    /// Where the logged pages live.
    public enum Slot: Sendable, Equatable {
        /// A memslot of their own, created with the flag (only the nested guest writes there).
        case own
        /// The session's RAM memslot, with KVM_MEM_LOG_DIRTY_PAGES turned on after HELLO: the
        /// log must then also hold exactly the pages the payload writes on each exit — the
        /// message page, the vEL2 stack page and the op-results page.
        case ram
    }

    public struct Plan: Sendable {
        public var scenario: Scenario
        public var slot: Slot
        /// Memslot (region) name and the guest-physical base of the test's pages.
        public var regionName: String
        public var regionBase: UInt64
        /// Page bases (host pages) besides the test's pages that must be in the log at each
        /// read: what the payload itself writes (`.ram` only).
        public var payloadPages: [UInt64]
        public var pageSize: UInt64
        /// The HVC op after which the host reads the log the first time.
        public var checkpointOp: Int
        /// Page indexes the log must hold at the checkpoint and at DONE.
        public var dirtyAtCheckpoint: [Int]
        public var dirtyAtDone: [Int]
        /// Bytes the host plants after creating the memslot (PA, bytes).
        public var planted: [(PhysicalAddress, [UInt8])]
        public var regionSize: UInt64 { pageSize * UInt64(pageCount) }
    }

    static func bytes(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    /// `pageSize` = the host page size (the dirty log's granularity).
    public static func plan(pageSize: UInt64, slot: Slot = .own, layout: SessionLayout = .standard) throws -> Plan {
        let regionBase = slot == .own ? Self.regionBase : layout.dataPool.rawValue
        guard [0x1000, 0x4000, 0x10000].contains(pageSize) else {
            throw SessionError.layout("host page size 0x\(String(pageSize, radix: 16)) is not 4, 16 or 64 KiB")
        }
        func ipa(_ page: Int, _ offset: UInt64) -> UInt64 { ipaBase + UInt64(page) * pageSize + offset }
        func pa(_ page: Int, _ offset: UInt64) -> PhysicalAddress { PhysicalAddress(regionBase + UInt64(page) * pageSize + offset) }
        guard regionBase % pageSize == 0 else {
            throw SessionError.layout("logged pages at 0x\(String(regionBase, radix: 16)) are not host-page aligned")
        }
        let v0: UInt64 = 0xD1D1_0000_0000_0008
        let v0b: UInt64 = 0xD1D1_0000_0000_0010
        let p1: UInt64 = 0x9191_0000_0000_0001
        let p3: UInt64 = 0x9393_9393
        let p6: UInt64 = 0x9696_0000_0000_0006
        let v5: UInt64 = 0x5555_AAAA
        let v7: UInt64 = 0x7777_0000_0000_0007
        // Stage 1 is off in the nested guest: Device memory, so every access is aligned.
        let ops: [GuestOp] = [
            .store(8, v0, at: ipa(0, 0x8)),  // 0 page 0 written
            GuestOp(.load64, address: ipa(1, 0x10)),  // 1 page 1 read only
            .store(1, 0x5A, at: ipa(2, 0x123)),  // 2 page 2 written
            GuestOp(.load32, address: ipa(3, 0x40)),  // 3 page 3 read (written only later)
            .store(4, v5, at: ipa(5, pageSize - 4)),  // 4 page 5 written (its last word)
            .store(8, v0b, at: ipa(0, 0x10)),  // 5 page 0 again
            GuestOp(.hvc, value: 0x0D17),  // 6 checkpoint: the host reads the log
            GuestOp(.load64, address: ipa(0, 0x8)),  // 7 page 0 read only now
            .store(2, 0xBEEF, at: ipa(3, 0x42)),  // 8 page 3 written
            .store(8, v7, at: ipa(7, 0)),  // 9 page 7 written
            GuestOp(.load8, address: ipa(2, 0x123)),  // 10 page 2 read only now
            GuestOp(.load64, address: ipa(6, 0x18)),  // 11 page 6 read only
        ]
        var s = Scenario(granule: .k4, ipaBits: 40, ops: ops)
        s.initialMappings = [
            Stage2Mapping(
                ipa: IPA(ipaBase), pa: PhysicalAddress(regionBase), size: pageSize * UInt64(pageCount),
                attributes: Stage2Attributes(permissions: [.read, .write]))
        ]
        let planted: [(PhysicalAddress, [UInt8])] = [(pa(1, 0x10), bytes(p1, 8)), (pa(3, 0x40), bytes(p3, 4)), (pa(6, 0x18), bytes(p6, 8))]
        // The host answers the checkpoint HVC with x0 = the number of dirty pages it saw.
        s.expectedResults = [0: 0, 1: p1, 2: 0, 3: p3, 4: 0, 5: 0, 6: 3, 7: v0, 8: 0, 9: 0, 10: 0x5A, 11: p6]
        s.expectedMemory = [
            (pa(0, 0x8), bytes(v0, 8)), (pa(0, 0x10), bytes(v0b, 8)), (pa(2, 0x123), [0x5A]),
            (pa(3, 0x40), bytes(p3 & 0xFFFF, 2) + bytes(0xBEEF, 2)), (pa(5, pageSize - 4), bytes(v5, 4)),
            (pa(7, 0), bytes(v7, 8)),
        ]
        // What the payload writes on every exit: the message (vEL2 fills it), the vEL2 stack
        // (the exception frame and the monitor's calls, all in the page below its top) and
        // the op results (the interpreter at EL1). Host writes (planting, replies, stage-2
        // tables) go through the host mapping and never enter the log.
        var payload: [UInt64] = []
        if slot == .ram {
            payload = Set(
                [layout.message.rawValue, layout.el2StackTop.rawValue - 1, layout.results.rawValue]
                    .map { $0 & ~(pageSize - 1) }
            ).sorted()
        }
        s.notes = [
            slot == .own
                ? "\(pageCount) pages of 0x\(String(pageSize, radix: 16)) bytes in their own memslot with KVM_MEM_LOG_DIRTY_PAGES at 0x\(String(regionBase, radix: 16)), IPA 0x\(String(ipaBase, radix: 16))"
                : "\(pageCount) pages of 0x\(String(pageSize, radix: 16)) bytes in the RAM memslot at 0x\(String(regionBase, radix: 16)) (IPA 0x\(String(ipaBase, radix: 16))), dirty logging turned on after HELLO; payload pages \(payload.map { "0x" + String($0, radix: 16) })",
            "log at the HVC checkpoint must be test pages {0, 2, 5}\(slot == .ram ? " + the payload pages" : ""); at DONE {3, 7}\(slot == .ram ? " + the payload pages" : ""); then empty",
        ]
        return Plan(
            scenario: s, slot: slot, regionName: slot == .own ? regionName : "ram", regionBase: regionBase,
            payloadPages: payload, pageSize: pageSize, checkpointOp: 6,
            dirtyAtCheckpoint: [0, 2, 5], dirtyAtDone: [3, 7], planted: planted)
    }
}
