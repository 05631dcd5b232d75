import AArch64

/// One line of a dump: a table entry, a reserved entry, or a run of leaf entries of one table
/// whose output addresses follow on and whose attributes are identical.
public struct Stage2DumpEntry: Equatable, Sendable {
    public enum Kind: String, Sendable { case table, block, page, reserved }
    public var kind: Kind
    public var level: Int
    /// Depth below the root (for indentation).
    public var depth: Int
    public var index: Int
    public var count: Int
    public var ipa: UInt64
    /// Bytes of IPA space the line covers.
    public var size: UInt64
    /// Table: next-level table address. Leaf: output address of `ipa`.
    public var address: UInt64
    public var descriptor: UInt64
    public var attributes: Stage2Attributes?
    /// For a table entry: whether its address is backed by the memory (else the walk aborts).
    public var backed: Bool
}

/// Dumps the tables reachable from `parameters.root`.
public struct Stage2Dump {
    public let parameters: Stage2WalkParameters
    public private(set) var entries: [Stage2DumpEntry] = []
    /// True when `limit` entries were visited and the dump stopped (e.g. a table graph with cycles).
    public private(set) var truncated = false

    public init<M: TableMemory>(parameters: Stage2WalkParameters, memory: M, limit: Int = 1_000_000) {
        self.parameters = parameters
        guard parameters.consistent else { return }
        var visited = 0
        let root = Stage2Geometry(uncheckedGranule: parameters.granule, ipaBits: parameters.ipaBits, startLevel: parameters.startLevel)
        dumpTable(
            parameters.root.rawValue, level: parameters.startLevel, ipa: 0, entryCount: root.rootEntries,
            memory: memory, visited: &visited, limit: limit)
    }

    private mutating func dumpTable<M: TableMemory>(
        _ table: UInt64, level: Int, ipa: UInt64, entryCount: Int, memory: M,
        visited: inout Int, limit: Int
    ) {
        let g = parameters.granule
        let shift = g.entryShift(atLevel: level)
        let size: UInt64 = 1 << UInt64(shift)
        let format = parameters.addressFormat
        let mask = format.fieldMask(g)
        let depth = level - parameters.startLevel
        var run: Stage2DumpEntry? = nil
        func flushRun(_ e: inout [Stage2DumpEntry], _ r: inout Stage2DumpEntry?) {
            if let x = r { e.append(x) }
            r = nil
        }
        for i in 0..<entryCount {
            visited += 1
            if visited > limit {
                truncated = true
                break
            }
            let at = PhysicalAddress(table + UInt64(i) * 8)
            guard memory.isBacked(at) else { break }
            let d = memory.readDescriptor(at: at)
            let a = ipa + UInt64(i) << UInt64(shift)
            guard Stage2Descriptor.isValid(d) else {
                flushRun(&entries, &run)
                continue
            }
            if Stage2Descriptor.isTable(d, level: level) {
                flushRun(&entries, &run)
                let next = format.address(d, g)
                let backed = memory.isBacked(PhysicalAddress(next))
                entries.append(
                    Stage2DumpEntry(
                        kind: .table, level: level, depth: depth, index: i, count: 1, ipa: a, size: size,
                        address: next, descriptor: d, attributes: nil, backed: backed))
                if backed {
                    dumpTable(
                        next, level: level + 1, ipa: a, entryCount: g.entriesPerTable, memory: memory, visited: &visited, limit: limit)
                }
                if truncated { return }
                continue
            }
            let legal = level == 3 ? Stage2Descriptor.hasTableOrPageBit(d) : format.blockAllowed(g, atLevel: level)
            guard legal else {
                flushRun(&entries, &run)
                entries.append(
                    Stage2DumpEntry(
                        kind: .reserved, level: level, depth: depth, index: i, count: 1, ipa: a, size: size,
                        address: 0, descriptor: d, attributes: nil, backed: true))
                continue
            }
            let oa = format.address(d, g) & ~(size - 1)
            if var r = run, r.descriptor & ~mask == d & ~mask, r.address + r.size == oa {
                r.count += 1
                r.size += size
                run = r
                continue
            }
            flushRun(&entries, &run)
            run = Stage2DumpEntry(
                kind: level == 3 ? .page : .block, level: level, depth: depth, index: i, count: 1, ipa: a,
                size: size, address: oa, descriptor: d, attributes: Stage2Attributes(descriptor: d, format: format), backed: true)
        }
        flushRun(&entries, &run)
    }

    /// Human-readable tree, one line per table entry or run.
    public func text(vtcr: UInt64, vttbr: UInt64) -> String {
        let p = parameters
        let geometry = Stage2Geometry(uncheckedGranule: p.granule, ipaBits: p.ipaBits, startLevel: p.startLevel)
        var out = VTCR(rawValue: vtcr).description + "\n"
        // With a 52-bit output size and format, BADDR[51:48] is in VTTBR_EL2[5:2].
        let wide = p.addressFormat != .bits48 && p.effectiveOutputBits == 52
        out += VTTBR(rawValue: vttbr, vmid16: VTCR(rawValue: vtcr).vs, wideBase: wide).description + "\n"
        guard p.consistent else { return out + "(no walk: start level inconsistent with T0SZ)\n" }
        out +=
            "root @\(hex(p.root.rawValue)): level \(p.startLevel), \(geometry.concatenatedTables) table\(geometry.concatenatedTables == 1 ? "" : "s") (\(geometry.rootEntries) entries), \(p.granule) granule\n"
        for e in entries {
            let indent = String(repeating: "  ", count: e.depth + 1)
            let idx = e.count == 1 ? "L\(e.level)[\(e.index)]" : "L\(e.level)[\(e.index)..\(e.index + e.count - 1)]"
            let range = "IPA \(hex(e.ipa))-\(hex(e.ipa + e.size - 1))"
            switch e.kind {
            case .table:
                out += "\(indent)\(idx) \(range) table @\(hex(e.address))\(e.backed ? "" : " (unbacked: walks abort)")\n"
            case .reserved:
                out += "\(indent)\(idx) \(range) reserved descriptor \(hex(e.descriptor)) (translation fault)\n"
            case .block, .page:
                let unit = sizeName(e.size / UInt64(e.count))
                let n = e.count == 1 ? "\(unit) \(e.kind.rawValue)" : "\(e.count) × \(unit) \(e.kind.rawValue)s"
                out += "\(indent)\(idx) \(range) → PA \(hex(e.address))-\(hex(e.address + e.size - 1)) \(n) \(e.attributes!)\n"
            }
        }
        if truncated { out += "(dump truncated)\n" }
        return out
    }

    /// Tables in the (concatenated) root.
    public var rootTables: Int {
        let p = parameters
        return Stage2Geometry(uncheckedGranule: p.granule, ipaBits: p.ipaBits, startLevel: p.startLevel).concatenatedTables
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

extension Stage2Permissions {
    /// "rwx" subset letters; partial execute as "x1" (EL1 only) or "x0" (EL0 only).
    public var letters: String {
        var s = ""
        if contains(.read) { s += "r" }
        if contains(.write) { s += "w" }
        switch (contains(.executeEL1), contains(.executeEL0)) {
        case (true, true): s += "x"
        case (true, false): s += "x1"
        case (false, true): s += "x0"
        case (false, false): break
        }
        return s
    }
}
extension Stage2MemoryType {
    public var jsonName: String {
        switch self {
        case .normal: "normal"
        case .deviceNGnRE: "device"
        case .deviceNGnRnE: "device-nGnRnE"
        case .memAttr(let v): "memattr-0x" + String(v, radix: 16)
        }
    }
}
extension Stage2Shareability {
    public var jsonName: String {
        switch self {
        case .nonShareable: "non"
        case .reserved: "reserved"
        case .outerShareable: "outer"
        case .innerShareable: "inner"
        }
    }
}

extension Stage2Tables {
    public func dumpEntries() -> Stage2Dump { Stage2Dump(parameters: walkParameters, memory: memory) }
    public func dump() -> String { dumpEntries().text(vtcr: vtcr, vttbr: vttbr) }
}
