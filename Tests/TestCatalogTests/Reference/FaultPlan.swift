import AArch64
import GuestProtocol
import Stage2

@testable import Runtime
@testable import TestCatalog

/// The Swift builder the stage-2 fault tests were written with before they became files
/// (reference for ConversionTests). A small builder for event-driven scenarios: allocates backing pages from the data pool,
/// plants values, appends ops with their expected results, and keeps a byte model of what
/// memory must hold afterwards. Everything it records is data in the `Scenario`.
struct FaultPlan {
    var scenario: Scenario
    let layout: SessionLayout
    var nextPA: UInt64
    var model: [UInt64: UInt8] = [:]  // PA → byte
    var code: [UInt64: UInt16] = [:]  // PA → the immediate of the code planted there

    init(granule: Granule, ipaBits: Int, layout: SessionLayout = .standard) {
        scenario = Scenario(granule: granule, ipaBits: ipaBits, ops: [])
        self.layout = layout
        nextPA = layout.dataPool.rawValue
        if ipaBits > 40 { scenario.vmIPABits = ipaBits }
    }

    var page: UInt64 { scenario.granule.bytes }

    /// `size` bytes of the data pool, `align`-aligned.
    mutating func allocate(_ size: UInt64, align: UInt64? = nil) throws -> PhysicalAddress {
        let a = align ?? size
        let pa = (nextPA + a - 1) & ~(a - 1)
        guard pa + size <= layout.dataPool.rawValue + layout.dataPoolSize else {
            // The scenario asked for more than the layout gives it: our mistake, not the host's.
            throw SessionError.layout(
                "the session's data pool (0x\(String(layout.dataPoolSize, radix: 16)) bytes) cannot hold 0x\(String(size, radix: 16)) bytes aligned to 0x\(String(a, radix: 16)); give the scenario ExtraRAM"
            )
        }
        nextPA = pa + size
        return PhysicalAddress(pa)
    }

    /// `size` bytes aligned to `size` for a block: from the data pool when it fits, otherwise
    /// a RAM region of its own above the session's RAM (`Scenario.extraRAM`).
    mutating func allocateBlock(_ size: UInt64) throws -> PhysicalAddress {
        let pa = (nextPA + size - 1) & ~(size - 1)
        if pa + size <= layout.dataPool.rawValue + layout.dataPoolSize { return try allocate(size) }
        let ramEnd = layout.ramBase.rawValue + layout.ramSize
        let above = scenario.extraRAM.map { $0.base.rawValue + $0.size }.max() ?? ramEnd
        let base = (max(above, ramEnd) + size - 1) & ~(size - 1)
        scenario.extraRAM.append(ExtraRAM(name: "block-\(scenario.extraRAM.count)", base: PhysicalAddress(base), size: size))
        return PhysicalAddress(base)
    }

    /// Maps `size` bytes at `ipa` before the run, backed by fresh pool memory.
    @discardableResult
    mutating func mapInitially(_ ipa: UInt64, size: UInt64, _ attributes: Stage2Attributes) throws -> PhysicalAddress {
        let pa = try allocate(size)
        scenario.initialMappings.append(Stage2Mapping(ipa: IPA(ipa), pa: pa, size: size, attributes: attributes))
        return pa
    }

    mutating func plant(_ pa: PhysicalAddress, _ value: UInt64, bytes: Int) {
        let b = (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
        scenario.planted.append((pa, b))
        for (i, x) in b.enumerated() { model[pa.rawValue + UInt64(i)] = x }
    }

    /// A load of `bytes` at `ipa` (backed at `pa`): plants a value naming the op unless the
    /// model already holds bytes there; the expected result is what the model says.
    @discardableResult
    mutating func load(_ bytes: Int, ipa: UInt64, pa: PhysicalAddress) -> Int {
        let index = scenario.ops.count
        if (0..<bytes).contains(where: { model[pa.rawValue + UInt64($0)] == nil }) {
            plant(pa, 0xA500_0000_0000_0000 | UInt64(index) << 40 | (ipa & 0xFF_FFFF_FFFF), bytes: bytes)
        }
        let v = (0..<bytes).reduce(UInt64(0)) { $0 | UInt64(model[pa.rawValue + UInt64($1)]!) << (8 * UInt64($1)) }
        scenario.ops.append(.load(bytes, at: ipa))
        scenario.expectedResults[index] = v
        return index
    }

    @discardableResult
    mutating func store(_ bytes: Int, _ value: UInt64, ipa: UInt64, pa: PhysicalAddress) -> Int {
        let index = scenario.ops.count
        for i in 0..<bytes { model[pa.rawValue + UInt64(i)] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        scenario.ops.append(.store(bytes, value, at: ipa))
        scenario.expectedResults[index] = 0
        return index
    }

    /// Plants `movz x0, #imm; ret` at `ipa` (backed at `pa`) and executes it.
    @discardableResult
    mutating func exec(ipa: UInt64, pa: PhysicalAddress) -> Int {
        let index = scenario.ops.count
        let imm: UInt16
        if let planted = code[pa.rawValue] {
            imm = planted  // executing the same code again
        } else {
            imm = UInt16(0x6A00 + index)
            let bytes = DemandPaging.plantedCode(returning: imm)
            scenario.planted.append((pa, bytes))
            for (i, x) in bytes.enumerated() { model[pa.rawValue + UInt64(i)] = x }
            code[pa.rawValue] = imm
        }
        scenario.ops.append(.exec(at: ipa))
        scenario.expectedResults[index] = UInt64(imm)
        return index
    }

    /// The fault an op raises, with the access its syndrome must describe.
    func fault(op index: Int, _ kind: FaultStatus.Kind, level: Int, address: UInt64? = nil) -> ExpectedFault {
        let op = scenario.ops[index]
        let access: ExpectedAccess =
            op.kind == .exec
            ? .fetch
            : .data(
                bytes: op.kind.accessBytes!, write: op.kind.isStore, register: op.kind.transferRegister!,
                sixtyFourBit: op.kind.accessBytes == 8)
        return ExpectedFault(opIndex: index, address: address ?? op.address, access: access, kind: kind, level: level)
    }

    mutating func expect(
        _ kind: ExpectedEvent.Kind, _ reactions: [ExpectedEvent.Reaction] = [],
        resume: ExpectedEvent.Resume = .retry
    ) {
        scenario.events.append(ExpectedEvent(kind, reactions: reactions, resume: resume))
    }

    /// Finishes: expected memory = the model (every byte planted or stored).
    func finished(notes: [String]) -> Scenario {
        var s = scenario
        s.expectedMemory = model.keys.sorted().map { (PhysicalAddress($0), [model[$0]!]) }
        s.notes = notes
        return s
    }
}
