import AArch64
import GuestProtocol
import Stage2

/// Stage-1 tables for one TTBR0 (4 KB granule, `vaBits`-bit VAs: 39 → levels 1-3,
/// 48 → levels 0-3). Tables are kept as data (table IPA → index → descriptor); the caller
/// places each table at an IPA of its choice (so a test can put a table where stage 2 does not
/// map), writes the images into guest memory through its own IPA → PA backing, and maps the
/// table IPAs at stage 2 as it sees fit.
public struct Stage1Tables: Sendable {
    public let vaBits: Int
    public let startLevel: Int
    public let root: UInt64
    public private(set) var tables: [UInt64: [Int: UInt64]]
    /// (level, VA span base) → table IPA.
    public private(set) var placement: [Stage1TableKey: UInt64] = [:]

    public init(vaBits: Int, root: UInt64) throws(SessionError) {
        guard (25...48).contains(vaBits) else { throw .layout("stage-1 VA size \(vaBits) is outside 25...48 bits") }
        guard root & 0xFFF == 0 else { throw .layout("stage-1 root table 0x\(String(root, radix: 16)) is not 4 KB aligned") }
        self.vaBits = vaBits
        // Each level resolves 9 bits above the 12-bit page offset (D8.2.x, 4 KB granule).
        startLevel = 3 - (vaBits - 12 - 1) / 9
        self.root = root
        tables = [root: [:]]
        placement[Stage1TableKey(level: startLevel, base: 0)] = root
    }

    /// Maps `size` bytes (4 KiB pages at level 3, or one 2 MiB level-2 / 1 GiB level-1 block
    /// when `size` is that) at `va` to `output`. `tableAt(level, vaBase)` gives the IPA for a
    /// table the mapping needs and that does not exist yet.
    public mutating func map(
        va: UInt64, output: UInt64, size: UInt64, attributes: Stage1.Attributes,
        tableAt: (Int, UInt64) -> UInt64
    ) throws(SessionError) {
        guard va >> UInt64(vaBits) == 0, (va &+ size &- 1) >> UInt64(vaBits) == 0 else {
            throw .layout("VA 0x\(String(va, radix: 16)) + 0x\(String(size, radix: 16)) exceeds the \(vaBits)-bit stage-1 range")
        }
        let leafLevel: Int
        switch size {
        case 1 << 30: leafLevel = 1
        case 2 << 20: leafLevel = 2
        default:
            guard size > 0, size % 0x1000 == 0 else {
                throw .layout("stage-1 mapping size 0x\(String(size, radix: 16)) is not pages or one block")
            }
            leafLevel = 3
        }
        guard leafLevel >= startLevel else { throw .layout("no level-\(leafLevel) blocks with a level-\(startLevel) start") }
        let unit: UInt64 = 1 << Stage1.shift(level: leafLevel)
        guard va % unit == 0, output % unit == 0 else { throw .layout("stage-1 mapping not aligned to 0x\(String(unit, radix: 16))") }
        var offset: UInt64 = 0
        while offset < size {
            let v = va + offset
            var table = root
            for level in startLevel..<leafLevel {
                let i = Stage1.index(of: v, level: level)
                let span: UInt64 = 1 << Stage1.shift(level: level)
                if let d = tables[table]![i] {
                    guard d & 3 == 3 else { throw .layout("VA 0x\(String(v, radix: 16)) is already mapped by a level-\(level) block") }
                    table = d & Stage1.addressMask
                } else {
                    let next = tableAt(level + 1, v & ~(span - 1))
                    guard next & 0xFFF == 0, tables[next] == nil else {
                        throw .layout("stage-1 table IPA 0x\(String(next, radix: 16)) is misaligned or already used")
                    }
                    tables[next] = [:]
                    placement[Stage1TableKey(level: level + 1, base: v & ~(span - 1))] = next
                    tables[table]![i] = Stage1.tableDescriptor(next: next)
                    table = next
                }
            }
            let i = Stage1.index(of: v, level: leafLevel)
            guard tables[table]![i] == nil else { throw .layout("VA 0x\(String(v, radix: 16)) is already mapped") }
            let out = output + offset
            tables[table]![i] =
                leafLevel == 3
                ? Stage1.pageDescriptor(output: out, attributes: attributes)
                : Stage1.blockDescriptor(output: out, attributes: attributes)
            offset += unit
        }
    }

    /// The IPA of the table used at `level` to translate `va` (nil if the walk does not get there).
    public func tableIPA(level: Int, va: UInt64) -> UInt64? {
        var table = root
        for l in startLevel...3 {
            if l == level { return table }
            guard let d = tables[table]?[Stage1.index(of: va, level: l)], d & 3 == 3, l < 3 else { return nil }
            table = d & Stage1.addressMask
        }
        return nil
    }

    /// The IPA of the descriptor a walk of `va` reads at `level`.
    public func descriptorIPA(level: Int, va: UInt64) -> UInt64? {
        tableIPA(level: level, va: va).map { $0 + UInt64(Stage1.index(of: va, level: level)) * 8 }
    }

    /// A software walk (D8.2): the output address and the leaf level, nil on a fault.
    public func translate(_ va: UInt64) -> (output: UInt64, level: Int)? {
        guard va >> UInt64(vaBits) == 0 else { return nil }
        var table = root
        for level in startLevel...3 {
            guard let d = tables[table]?[Stage1.index(of: va, level: level)], d & 1 == 1 else { return nil }
            let isTable = d & 2 != 0 && level < 3
            if !isTable {
                if level < 3 && d & 2 != 0 { return nil }
                if level == 3 && d & 2 == 0 { return nil }  // 0b01 at level 3 is reserved (invalid)
                let mask: UInt64 = (1 << Stage1.shift(level: level)) - 1
                return ((d & Stage1.addressMask & ~mask) | (va & mask), level)
            }
            table = d & Stage1.addressMask
        }
        return nil
    }

    /// The 4 KiB image of one table (little-endian descriptors, zeros elsewhere).
    public func image(of table: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 4096)
        for (i, d) in tables[table] ?? [:] {
            for k in 0..<8 { bytes[i * 8 + k] = UInt8(truncatingIfNeeded: d >> (8 * UInt64(k))) }
        }
        return bytes
    }
}
