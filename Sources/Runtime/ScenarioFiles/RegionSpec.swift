/// A named range of the nested guest's IPA space and the memory behind it.
///
/// - mapped (default): stage 2 maps it before the guest starts.
/// - `"mapped": false`: backed but not mapped; a host step (`map`, `demand-map`) maps it.
/// - `"unit"`: backed lazily, one unit (page or block) at a time, in the order the ops first
///   touch them (for sparse ranges too large to back whole); never mapped up front.
/// - `"dirtyLog"`: the guest's writes to it are logged (KVM_MEM_LOG_DIRTY_PAGES) and checked
///   with `expectDirty`: `"ownSlot"` (with `pa`: a memslot of its own at that address, created
///   with the flag; only the nested guest writes there) or `"ramSlot"` (pool memory; logging
///   is turned on for the RAM memslot after HELLO, so the payload's own pages are logged too).
/// - `"pa"`: a fixed physical address instead of memory from the data pool (e.g. a PA no
///   memslot backs, for MMIO); such memory is not modelled (loads need a `result`).
/// - `"backAt"`: RAM of its own at this guest-physical address (a memslot of its own, e.g.
///   above 2^48 for a 52-bit output address); modelled like pool memory. The VM's IPA size
///   (`vmIPABits`) must reach it.
public struct RegionSpec: Decodable, Sendable {
    public var name: String
    public var ipa: Expression
    public var size: Expression
    public var access: String
    public var memory: String
    public var accessFlag: Bool
    public var mapped: Bool
    public var unit: Expression?
    public var pa: Expression?
    public var align: Expression?
    public var backAt: Expression?
    /// nil, "ownSlot" or "ramSlot".
    public var dirtyLog: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, ipa, size, access, memory, accessFlag, mapped, unit, pa, align, dirtyLog, backAt
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic,
            name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" })
        else {
            throw DecodingError.dataCorruptedError(
                forKey: .name, in: c,
                debugDescription:
                    "'\(name)' cannot name a region; expected a letter, then letters, digits or '_' (it is used in expressions)")
        }
        ipa = try c.decode(Expression.self, forKey: .ipa)
        size = try c.decode(Expression.self, forKey: .size)
        (access, memory) = try StageTwoAccess.decode(c, access: .access, memory: .memory)
        accessFlag = try c.decodeIfPresent(Bool.self, forKey: .accessFlag) ?? true
        mapped = try c.decodeIfPresent(Bool.self, forKey: .mapped) ?? true
        unit = try c.decodeIfPresent(Expression.self, forKey: .unit)
        pa = try c.decodeIfPresent(Expression.self, forKey: .pa)
        align = try c.decodeIfPresent(Expression.self, forKey: .align)
        backAt = try c.decodeIfPresent(Expression.self, forKey: .backAt)
        if backAt != nil && (unit != nil || pa != nil || align != nil) {
            throw DecodingError.dataCorruptedError(
                forKey: .backAt, in: c, debugDescription: "'backAt' places the region's memory itself; leave out 'unit', 'pa' and 'align'")
        }
        dirtyLog = try c.decodeIfPresent(String.self, forKey: .dirtyLog)
        switch dirtyLog {
        case nil: break
        case "ownSlot" where pa != nil && unit == nil: break
        case "ramSlot" where pa == nil && unit == nil: break
        case "ownSlot", "ramSlot":
            throw DecodingError.dataCorruptedError(
                forKey: .dirtyLog, in: c,
                debugDescription:
                    "dirtyLog \"ownSlot\" needs 'pa' (where its memslot goes), \"ramSlot\" takes pool memory (no 'pa'); neither takes 'unit'"
            )
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .dirtyLog, in: c, debugDescription: "dirtyLog '\(dirtyLog!)'; expected \"ownSlot\" or \"ramSlot\"")
        }
        if unit != nil && (c.contains(.mapped) || pa != nil) {
            throw DecodingError.dataCorruptedError(
                forKey: .unit, in: c,
                debugDescription: "a region backed unit by unit is never mapped up front and has no fixed pa; leave out 'mapped' and 'pa'")
        }
    }
}
