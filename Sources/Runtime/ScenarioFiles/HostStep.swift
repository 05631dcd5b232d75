/// One thing the host does in answer to an event, before it resumes the guest. Exactly one
/// key says which; steps run in the order written, then the reply (with its TLB
/// maintenance) resumes the guest.
public enum HostStep: Decodable, Sendable {
    /// Map the unit of the faulting address from this region's lazy backing.
    case demandMap(region: String)
    /// Map a region (declared with `"mapped": false`) with its attributes.
    case map(region: String)
    /// Map (or remap) explicitly, in the session's tables or a table set's.
    case mapping(MappingSpec)
    /// The guest resumes under this VTTBR_EL2 (a table set's, with extra bits).
    case resumeUnder(VTTBRSpec)
    /// Fails the test unless the harness's walk gives this translation.
    case expectTranslation(TranslationCheckSpec)
    /// Fails the test unless the raw descriptor for `ipa` at `level` has `set` set and `clear` clear.
    case expectDescriptor(ipa: Expression, level: Int, set: Expression, clear: Expression)
    /// Answers an MMIO exit at an unbacked PA by adding a memslot there and re-running the access.
    case backWithMemory(BackingSpec)
    case unmap(region: String)
    /// Change the permissions of a region, or of `size` bytes at `ipa`.
    case protect(region: String?, ipa: Expression?, size: Expression?, access: String)
    /// Set and clear bits of the descriptor for `ipa` at `level` (raw), then invalidate it.
    case editDescriptor(ipa: Expression, level: Int, set: Expression, clear: Expression)
    /// The value an MMIO read returns.
    case answer(Expression)
    /// x0 of the trapped context (an hvc/smc's return value).
    case setX0(Expression)
    case setVTTBR(Expression)
    /// VTTBR_EL2 = the tables' own VTTBR with these bits set (0 restores it).
    case setVTTBRBits(Expression)
    /// Replace the descriptor for `ipa` at `level` (raw, saved for `restoreDescriptors`).
    case swapDescriptor(ipa: Expression, level: Int, value: Expression)
    case restoreDescriptors
    /// VTCR_EL2 = the tables' own VTCR with SL0 and/or T0SZ replaced.
    case patchVTCR(sl0: Expression?, t0sz: Expression?)
    case restoreVTCR
    /// Extra TLB maintenance in the reply.
    case tlbi([TLBISpec])

    enum CodingKeys: String, CodingKey, CaseIterable {
        case demandMap, map, unmap, protect, editDescriptor, answer, setX0, setVTTBR, setVTTBRBits
        case swapDescriptor, restoreDescriptors, patchVTCR, restoreVTCR, tlbi, resumeUnder, expectTranslation, expectDescriptor, backWithMemory
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try decoder.discriminator(among: CodingKeys.allCases, what: "a host step") {
        case .demandMap: self = .demandMap(region: try c.decode(String.self, forKey: .demandMap))
        case .map:
            if let region = try? c.decode(String.self, forKey: .map) { self = .map(region: region) } else {
                self = .mapping(try c.decode(MappingSpec.self, forKey: .map))
            }
        case .resumeUnder: self = .resumeUnder(try c.decode(VTTBRSpec.self, forKey: .resumeUnder))
        case .expectTranslation: self = .expectTranslation(try c.decode(TranslationCheckSpec.self, forKey: .expectTranslation))
        case .expectDescriptor:
            let e = try c.decode(DescriptorEditSpec.self, forKey: .expectDescriptor)
            guard let level = e.level, e.value == nil, e.set != nil || e.clear != nil else {
                throw DecodingError.dataCorrupted(DecodingError.Context(
                    codingPath: c.codingPath + [CodingKeys.expectDescriptor], debugDescription: "expectDescriptor needs 'ipa', 'level' and 'set' and/or 'clear' (no 'value')"))
            }
            self = .expectDescriptor(ipa: e.ipa, level: level, set: e.set ?? Expression("0"), clear: e.clear ?? Expression("0"))
        case .backWithMemory: self = .backWithMemory(try c.decode(BackingSpec.self, forKey: .backWithMemory))
        case .unmap: self = .unmap(region: try c.decode(String.self, forKey: .unmap))
        case .protect:
            let p = try c.decode(ProtectSpec.self, forKey: .protect)
            self = .protect(region: p.region, ipa: p.ipa, size: p.size, access: p.access)
        case .editDescriptor:
            let e = try c.decode(DescriptorEditSpec.self, forKey: .editDescriptor)
            guard let level = e.level else {
                throw DecodingError.keyNotFound(DescriptorEditSpec.CodingKeys.level, DecodingError.Context(
                    codingPath: c.codingPath + [CodingKeys.editDescriptor], debugDescription: "editDescriptor needs 'level'"))
            }
            self = .editDescriptor(ipa: e.ipa, level: level, set: e.set ?? Expression("0"), clear: e.clear ?? Expression("0"))
        case .answer: self = .answer(try c.decode(Expression.self, forKey: .answer))
        case .setX0: self = .setX0(try c.decode(Expression.self, forKey: .setX0))
        case .setVTTBR: self = .setVTTBR(try c.decode(Expression.self, forKey: .setVTTBR))
        case .setVTTBRBits: self = .setVTTBRBits(try c.decode(Expression.self, forKey: .setVTTBRBits))
        case .swapDescriptor:
            let e = try c.decode(DescriptorEditSpec.self, forKey: .swapDescriptor)
            guard let level = e.level, let value = e.value else {
                throw DecodingError.keyNotFound(DescriptorEditSpec.CodingKeys.value, DecodingError.Context(
                    codingPath: c.codingPath + [CodingKeys.swapDescriptor], debugDescription: "swapDescriptor needs 'level' and 'value'"))
            }
            self = .swapDescriptor(ipa: e.ipa, level: level, value: value)
        case .restoreDescriptors:
            _ = try c.decode(Bool.self, forKey: .restoreDescriptors)
            self = .restoreDescriptors
        case .patchVTCR:
            let v = try c.decode(VTCRPatchSpec.self, forKey: .patchVTCR)
            self = .patchVTCR(sl0: v.sl0, t0sz: v.t0sz)
        case .restoreVTCR:
            _ = try c.decode(Bool.self, forKey: .restoreVTCR)
            self = .restoreVTCR
        case .tlbi: self = .tlbi(try c.decode([TLBISpec].self, forKey: .tlbi))
        }
    }
}

/// `protect`'s object: a region, or an `ipa` and a `size`; and the new access letters.
struct ProtectSpec: Decodable {
    var region: String?
    var ipa: Expression?
    var size: Expression?
    var access: String
    enum CodingKeys: String, CodingKey, CaseIterable { case region, ipa, size, access }
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        region = try c.decodeIfPresent(String.self, forKey: .region)
        ipa = try c.decodeIfPresent(Expression.self, forKey: .ipa)
        size = try c.decodeIfPresent(Expression.self, forKey: .size)
        access = try c.decode(String.self, forKey: .access)
        guard StageTwoAccess.permissions(access) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .access, in: c, debugDescription: StageTwoAccess.expected(access))
        }
        guard (region != nil) != (ipa != nil || size != nil), region != nil || (ipa != nil && size != nil) else {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: decoder.codingPath, debugDescription: "protect needs either 'region', or both 'ipa' and 'size'"))
        }
    }
}

/// `editDescriptor` / `swapDescriptor`'s object.
struct DescriptorEditSpec: Decodable {
    var ipa: Expression
    var level: Int?
    var set: Expression?
    var clear: Expression?
    var value: Expression?
    enum CodingKeys: String, CodingKey, CaseIterable { case ipa, level, set, clear, value }
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipa = try c.decode(Expression.self, forKey: .ipa)
        level = try c.decodeIfPresent(Int.self, forKey: .level)
        if let level, !(0...3).contains(level) {
            throw DecodingError.dataCorruptedError(forKey: .level, in: c, debugDescription: "level \(level); expected 0 to 3")
        }
        set = try c.decodeIfPresent(Expression.self, forKey: .set)
        clear = try c.decodeIfPresent(Expression.self, forKey: .clear)
        value = try c.decodeIfPresent(Expression.self, forKey: .value)
    }
}

/// `patchVTCR`'s object: the fields replaced (VTCR_EL2.SL0 [7:6], T0SZ [5:0]).
struct VTCRPatchSpec: Decodable {
    var sl0: Expression?
    var t0sz: Expression?
    enum CodingKeys: String, CodingKey, CaseIterable { case sl0, t0sz }
    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sl0 = try c.decodeIfPresent(Expression.self, forKey: .sl0)
        t0sz = try c.decodeIfPresent(Expression.self, forKey: .t0sz)
        if sl0 == nil && t0sz == nil {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: decoder.codingPath, debugDescription: "patchVTCR needs 'sl0' and/or 't0sz' (restoreVTCR puts the tables' own VTCR back)"))
        }
    }
}

/// A TLB maintenance operation: a name ("vmalls12e1is", "vmalle1is", "vmalls12e1",
/// "alle1is"), or an object {"op": "ipas2e1is" | "ipas2le1is" | "ipas2e1" | "ripas2e1is",
/// "operand": EXPR}.
public struct TLBISpec: Decodable, Sendable {
    public var op: String
    public var operand: Expression?
    static let plain = ["vmalls12e1is", "vmalle1is", "vmalls12e1", "alle1is"]
    static let withOperand = ["ipas2e1is", "ipas2le1is", "ipas2e1", "ripas2e1is"]
    enum CodingKeys: String, CodingKey, CaseIterable { case op, operand }
    public init(from decoder: any Decoder) throws {
        if let s = try? decoder.singleValueContainer().decode(String.self) {
            guard Self.plain.contains(s) else {
                throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath,
                    debugDescription: "TLBI '\(s)'; expected one of: \(Self.plain.joined(separator: ", ")), or {\"op\": one of \(Self.withOperand.joined(separator: ", ")), \"operand\": ...}"))
            }
            op = s
            return
        }
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        op = try c.decode(String.self, forKey: .op)
        guard Self.withOperand.contains(op) else {
            throw DecodingError.dataCorruptedError(forKey: .op, in: c, debugDescription: "TLBI op '\(op)' with an operand; expected one of: " + Self.withOperand.joined(separator: ", "))
        }
        operand = try c.decode(Expression.self, forKey: .operand)
    }
}

/// `backWithMemory`'s object: what to write into the new memory (`pa` entries) and the largest
/// host page the test's spacing allows (a bigger one would back a neighbour too: skipped).
public struct BackingSpec: Decodable, Sendable {
    public var plant: [PlantSpec]
    public var maxHostPage: Expression
    enum CodingKeys: String, CodingKey, CaseIterable { case plant, maxHostPage }
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        plant = try c.decodeIfPresent([PlantSpec].self, forKey: .plant) ?? []
        maxHostPage = try c.decode(Expression.self, forKey: .maxHostPage)
    }
}
