import Stage2
import Stage2Spec

/// `stage2 dump --json`: the registers, the geometry they give and the dump's entries.
struct Stage2DumpReport: Encodable {
    /// One entry: table entries name their table, leaf runs their output and attributes.
    struct Entry: Encodable {
        var kind: String
        var level: Int
        var index: Int
        var count: Int
        var ipa: String
        var size: String
        var descriptor: String
        var table: String?
        var backed: Bool?
        var pa: String?
        var perm: String?
        var memory: String?
        var shareability: String?
        var af: Bool?
        var contiguous: Bool?

        init(_ e: Stage2DumpEntry) {
            kind = e.kind.rawValue
            (level, index, count) = (e.level, e.index, e.count)
            (ipa, size, descriptor) = (stage2Hex(e.ipa), stage2Hex(e.size), stage2Hex(e.descriptor))
            switch e.kind {
            case .table: (table, backed) = (stage2Hex(e.address), e.backed)
            case .reserved: break
            case .block, .page:
                let a = e.attributes!
                (pa, perm, memory) = (stage2Hex(e.address), a.permissions.letters, a.memory.jsonName)
                (shareability, af, contiguous) = (a.shareability.jsonName, a.accessFlag, a.contiguous)
            }
        }
    }

    var vtcr: String
    var vttbr: String
    var granule: String
    var ipaBits: Int
    var startLevel: Int
    var rootTables: Int
    var root: String
    var outputBits: Int
    var consistent: Bool
    var truncated: Bool
    var entries: [Entry]

    init(_ dump: Stage2Dump, vtcr: UInt64, vttbr: UInt64) {
        let p = dump.parameters
        (self.vtcr, self.vttbr) = (stage2Hex(vtcr), stage2Hex(vttbr))
        (granule, ipaBits, startLevel) = (p.granule.specName, p.ipaBits, p.startLevel)
        rootTables = dump.rootTables
        (root, outputBits, consistent) = (stage2Hex(p.root.rawValue), p.outputBits, p.consistent)
        truncated = dump.truncated
        entries = dump.entries.map(Entry.init)
    }
}
