import AArch64
import GuestProtocol
import Stage2

@testable import Runtime
@testable import TestCatalog

/// The Swift plan catalog/two-level-demand-paging.json was converted from (the reference
/// ConversionTests compare with). Two-level demand paging, as data: the nested guest's IPAs are demand-mapped at stage 2 by
/// the host (vEL2 sees a translation fault), and the guest-physical pages those IPAs map to
/// are themselves unbacked at L0 until first touched: the retried access finds no memslot and
/// exits as KVM_EXIT_MMIO; the host adds a memslot there, completes the exit without running
/// the guest (KVM_RUN with immediate_exit) and moves the PC back one instruction, so the load
/// or store runs again — now against real memory.
public enum TwoLevel {
    public static let lazyBase: UInt64 = 0x6000_0000
    /// Touches are 64 KiB apart, so each lies in its own host page whatever the host page size (≤ 64 KiB).
    public static let stride: UInt64 = 0x1_0000
    public static let ipaBase: UInt64 = 0x80_0000_0000

    public enum Event: Sendable, Equatable, CustomStringConvertible {
        case stage2Fault(Stage2FaultExpectation)
        /// KVM_EXIT_MMIO for the guest-physical address with no memslot.
        case hostFault(opIndex: Int, address: UInt64, bytes: Int, write: Bool, data: UInt64)
        public var description: String {
            switch self {
            case .stage2Fault(let f): f.description
            case let .hostFault(op, a, n, w, d):
                "op \(op): KVM_EXIT_MMIO \(w ? "write" : "read") of \(n) bytes at unbacked PA 0x\(String(a, radix: 16))"
                    + (w ? " data 0x\(String(d, radix: 16))" : "")
            }
        }
    }

    public struct Plan: Sendable {
        public var scenario: Scenario
        public var events: [Event]
        /// IPA page → PA (the stage-2 demand map).
        public var backing: [UInt64: PhysicalAddress]
        /// Bytes to write into each lazily added host page when it is added (PA, bytes).
        public var plantOnAdd: [(PhysicalAddress, [UInt8])]
    }

    static func bytes(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    public static func plan(layout: SessionLayout = .standard) throws -> Plan {
        func ipa(_ k: Int, _ off: UInt64) -> UInt64 { ipaBase + UInt64(k) * stride + off }
        func pa(_ k: Int, _ off: UInt64) -> UInt64 { lazyBase + UInt64(k) * stride + off }
        let v0: UInt64 = 0x2222_0000_0000_0008
        let p1: UInt64 = 0x1111_0000_0000_0010
        let v2: UInt64 = 0x2020_2020
        let ops: [GuestOp] = [
            .store(8, v0, at: ipa(0, 0x8)),
            GuestOp(.load64, address: ipa(1, 0x10)),
            .store(4, v2, at: ipa(2, 0x20)),
            GuestOp(.load64, address: ipa(0, 0x8)),
            GuestOp(.load32, address: ipa(2, 0x20)),
            GuestOp(.load64, address: ipa(1, 0x10)),
        ]
        var s = Scenario(granule: .k4, ipaBits: 40, ops: ops)
        var mapped: [(start: UInt64, size: UInt64)] = [
            (layout.payload.rawValue, layout.payloadWindow),
            (layout.nested.rawValue, layout.nestedSize),
        ]
        var events: [Event] = []
        var backing: [UInt64: PhysicalAddress] = [:]
        for (k, op) in ops.prefix(3).enumerated() {
            let n = op.kind.accessBytes!
            let write = op.kind.isStore
            guard let level = Stage2FaultModel.translationFaultLevel(ipa: op.address, mapped: mapped, granule: .k4, startLevel: 1) else {
                throw SessionError.layout("IPA 0x\(String(op.address, radix: 16)) would not fault")
            }
            let access = ExpectedAccess.data(bytes: n, write: write, register: op.kind.transferRegister!, sixtyFourBit: n == 8)
            events.append(
                .stage2Fault(
                    Stage2FaultExpectation(
                        opIndex: k, far: op.address, ipa: op.address, s1ptw: false,
                        kind: .translation, level: level, access: access)))
            let page = op.address & ~0xFFF
            backing[page] = PhysicalAddress(pa(k, page - ipa(k, 0)))
            mapped.append((page, 0x1000))
            // The retried access reaches the stage-2 output address, which L0 does not back.
            events.append(
                .hostFault(
                    opIndex: k, address: pa(k, op.address - ipa(k, 0)), bytes: n, write: write,
                    data: write ? op.value & (n == 8 ? ~0 : (1 << UInt64(8 * n)) - 1) : 0))
        }
        s.expectedResults = [0: 0, 1: p1, 2: 0, 3: v0, 4: v2, 5: p1]
        s.expectedMemory = [
            (PhysicalAddress(pa(0, 0x8)), bytes(v0, 8)), (PhysicalAddress(pa(1, 0x10)), bytes(p1, 8)),
            (PhysicalAddress(pa(2, 0x20)), bytes(v2, 4)),
        ]
        s.notes = [
            "IPAs 0x\(String(ipaBase, radix: 16)) + k*64K demand-mapped at stage 2 onto PAs 0x\(String(lazyBase, radix: 16)) + k*64K that L0 backs only on first touch",
            "3 pages: 3 stage-2 faults to vEL2, 3 KVM_EXIT_MMIO to the host, 3 memslots added",
        ]
        return Plan(scenario: s, events: events, backing: backing, plantOnAdd: [(PhysicalAddress(pa(1, 0x10)), bytes(p1, 8))])
    }
}
