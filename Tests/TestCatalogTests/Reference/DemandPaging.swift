import AArch64
import GuestProtocol
import Stage2

@testable import Runtime
@testable import TestCatalog

/// The Swift builder catalog/demand-paging*.json were converted from, kept as the reference
/// ConversionTests compare the files with. The demand-paging scenario: stage 2 starts with only what the nested guest needs to run
/// its op list; the guest reads, writes and executes across a sparse set of IPAs (several
/// pages per granule, crossing last-level and intermediate table boundaries); every first
/// touch of a page (or 2 MiB block) must raise exactly one stage-2 translation fault at the
/// level the tables built so far imply; the host maps it and the guest retries.
public enum DemandPaging {
    /// A touch of the nested guest: op kind, offset from the test's IPA base, value to store.
    struct Touch {
        var kind: OpKind
        var offset: UInt64
        var value: UInt64 = 0
    }

    static func plantedCode(returning imm: UInt16) -> [UInt8] { Stage2FaultModel.plantedCode(returning: imm) }

    /// The IPA base of the test's sparse range: the upper half of the IPA space (clear of the
    /// identity-mapped RAM at 0x4000_0000 for every IPA size from 32 bits up).
    static func base(ipaBits: Int) -> UInt64 { 1 << UInt64(ipaBits - 1) }

    /// Builds the scenario. `blockSize` nil demand-maps granule-sized pages; a size maps
    /// blocks of that size (a 4K-granule 2 MiB block is a level-2 block).
    public static func scenario(
        granule: Granule, ipaBits: Int, blockSize: UInt64? = nil,
        layout: SessionLayout = .standard
    ) throws -> Scenario {
        let geometry = try Stage2Geometry(granule: granule, ipaBits: ipaBits)
        let page = granule.bytes
        let unit = blockSize ?? page
        let entries = UInt64(granule.entriesPerTable)
        let l3Span = page * entries  // what one last-level table maps
        let l2Span = l3Span * entries  // what one level-2 table maps
        let b = base(ipaBits: ipaBits)
        let limit: UInt64 = 1 << UInt64(ipaBits)

        var touches: [Touch]
        if let blockSize {
            touches = [
                Touch(kind: .load64, offset: 0x10),
                Touch(kind: .store64, offset: blockSize - 0x1000 + 0x8, value: 0x0123_4567_89AB_CDEF),
                Touch(kind: .exec, offset: blockSize / 2),
                Touch(kind: .store32, offset: blockSize + 0x20, value: 0xCAFE_F00D),
                Touch(kind: .load32, offset: blockSize + 0x20),
            ]
            if b + l3Span * entries + 4 * blockSize <= limit {
                // l3Span * entries with 4K = 1 GiB: a new level-2 table.
                touches += [
                    Touch(kind: .load64, offset: l2Span + 0x8),
                    Touch(kind: .exec, offset: l2Span + 3 * blockSize + 0x80),
                ]
            }
        } else {
            touches = [
                Touch(kind: .load64, offset: 0x10),
                Touch(kind: .store64, offset: 0x18, value: 0x1122_3344_5566_7788),
                Touch(kind: .store32, offset: page + 0x20, value: 0x99AA_BBCC),
                Touch(kind: .load8, offset: page + 0x20),
                Touch(kind: .exec, offset: 5 * page + 0x40),
                Touch(kind: .ldar64, offset: 3 * page + 0x30),
                Touch(kind: .load16, offset: l3Span - page + 0x2),  // last page of the first L3 table
                Touch(kind: .store8, offset: l3Span + 0x1, value: 0xE7),  // first page of the next one
                Touch(kind: .load32, offset: l3Span + 0x4),
                Touch(kind: .exec, offset: l3Span + 0x100),  // page first mapped by a write
            ]
            if b + l2Span + page <= limit {
                touches += [
                    Touch(kind: .store16, offset: l2Span + 0x6, value: 0xBEEF),
                    Touch(kind: .load64, offset: l2Span + 0x8),
                ]
            } else {
                touches += [
                    Touch(kind: .store16, offset: 2 * l3Span + 0x6, value: 0xBEEF),
                    Touch(kind: .load64, offset: 2 * l3Span + 0x8),
                ]
            }
            touches.append(Touch(kind: .load64, offset: 0x10))  // mapped long ago: no fault
        }

        var scenario = Scenario(granule: granule, ipaBits: ipaBits, ops: [])
        scenario.policy = .demandMap(blockSize: blockSize, attributes: .normalRWX)

        // Backing: each distinct unit gets the next unit-aligned PA of the data pool.
        var nextPA = layout.dataPool.rawValue
        var order: [UInt64] = []
        for t in touches {
            let unitBase = (b + t.offset) & ~(unit - 1)
            if scenario.backing[IPA(unitBase)] == nil {
                nextPA = (nextPA + unit - 1) & ~(unit - 1)
                guard nextPA + unit <= layout.dataPool.rawValue + layout.dataPoolSize else {
                    throw SessionError.layout("data pool too small for \(touches.count) units of 0x\(String(unit, radix: 16))")
                }
                scenario.backing[IPA(unitBase)] = PhysicalAddress(nextPA)
                order.append(unitBase)
                nextPA += unit
            }
        }
        func pa(_ ipa: UInt64) -> PhysicalAddress {
            let unitBase = ipa & ~(unit - 1)
            return scenario.backing[IPA(unitBase)]!.advanced(by: ipa - unitBase)
        }

        // A byte-level model of the nested guest's memory: planted bytes, then each op.
        var model: [UInt64: UInt8] = [:]
        func plant(_ ipa: UInt64, _ bytes: [UInt8]) {
            scenario.planted.append((pa(ipa), bytes))
            for (i, byte) in bytes.enumerated() { model[ipa + UInt64(i)] = byte }
        }
        var mapped: [(start: UInt64, size: UInt64)] = [
            (layout.payload.rawValue, layout.payloadWindow), (layout.nested.rawValue, layout.nestedSize),
        ]
        var faulted = Set<UInt64>()
        for (index, t) in touches.enumerated() {
            let ipa = b + t.offset
            var op: GuestOp
            switch t.kind {
            case .exec:
                let imm = UInt16(0x6A00 + index)
                plant(ipa, plantedCode(returning: imm))
                op = .exec(at: ipa)
                scenario.expectedResults[index] = UInt64(imm)
            default:
                let n = t.kind.accessBytes!
                if t.kind.isStore {
                    op = .store(n, t.value, at: ipa)
                    for i in 0..<n { model[ipa + UInt64(i)] = UInt8(truncatingIfNeeded: t.value >> (8 * UInt64(i))) }
                    scenario.expectedResults[index] = 0
                } else {
                    op = GuestOp(t.kind, address: ipa)
                    if (0..<n).contains(where: { model[ipa + UInt64($0)] == nil }) {
                        // Plant a value that names the touch, so a wrong page can't pass.
                        let v: UInt64 = 0xA500_0000_0000_0000 | UInt64(index) << 40 | (ipa & 0xFF_FFFF_FFFF)
                        plant(ipa, (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) })
                    }
                    scenario.expectedResults[index] = (0..<n).reduce(0) { $0 | UInt64(model[ipa + UInt64($1)]!) << (8 * UInt64($1)) }
                }
            }
            scenario.ops.append(op)

            let unitBase = ipa & ~(unit - 1)
            if !faulted.contains(unitBase) {
                faulted.insert(unitBase)
                guard
                    let level = translationFaultLevel(
                        ipa: ipa, mapped: mapped, granule: granule,
                        startLevel: geometry.startLevel)
                else {
                    throw SessionError.layout("touch of 0x\(String(ipa, radix: 16)) would not fault: it overlaps the identity maps")
                }
                let access: ExpectedAccess =
                    t.kind == .exec
                    ? .fetch
                    : .data(
                        bytes: t.kind.accessBytes!, write: t.kind.isStore,
                        register: t.kind.transferRegister!, sixtyFourBit: t.kind.accessBytes == 8)
                scenario.expectedFaults.append(
                    ExpectedFault(
                        opIndex: index, address: ipa, access: access,
                        kind: .translation, level: level))
                mapped.append((unitBase, unit))
            }
        }
        scenario.expectedMemory = model.keys.sorted().map { (pa($0), [model[$0]!]) }
        scenario.notes = [
            "\(granule) granule, \(ipaBits)-bit IPA, start level \(geometry.startLevel)"
                + (geometry.concatenatedTables > 1 ? " (\(geometry.concatenatedTables) concatenated tables)" : "")
                + ", demand-mapping \(blockSize == nil ? "pages" : "0x\(String(unit, radix: 16))-byte blocks")",
            "\(touches.count) ops touch \(order.count) distinct \(blockSize == nil ? "pages" : "blocks") from IPA 0x\(String(b, radix: 16))",
        ]
        return scenario
    }

    public static func translationFaultLevel(
        ipa: UInt64, mapped: [(start: UInt64, size: UInt64)],
        granule: Granule, startLevel: Int
    ) -> Int? {
        Stage2FaultModel.translationFaultLevel(ipa: ipa, mapped: mapped, granule: granule, startLevel: startLevel)
    }
}
