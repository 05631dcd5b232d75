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
    /// Unmap explicitly, with the break's TLB maintenance under a chosen VTTBR and operations.
    case unmapping(UnmapSpec)
    /// Fails the test unless the harness's walk of the tables does not translate `ipa`.
    case expectUnmapped(UnmappedCheckSpec)
    /// Concurrent vCPUs: records that this vCPU's host reached this point (events with
    /// `after` this name may happen only once it has).
    case mark(String)
    /// Concurrent vCPUs: waits until every other vCPU's `watch` op has made its first read.
    case waitForWatchers
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
    /// A new VNCR_EL2 (FEAT_NV2) the payload writes at vEL2 before it resumes the nested guest.
    case setVNCR(Expression)
    /// Replace the descriptor for `ipa` at `level` (raw, saved for `restoreDescriptors`).
    case swapDescriptor(ipa: Expression, level: Int, value: Expression)
    case restoreDescriptors
    /// VTCR_EL2 = the tables' own VTCR with SL0 and/or T0SZ replaced.
    case patchVTCR(sl0: Expression?, t0sz: Expression?, ps: Expression?, tg0: Expression?)
    case restoreVTCR
    /// Extra TLB maintenance in the reply.
    case tlbi([TLBISpec])
    /// Reads the dirty log (KVM_GET_DIRTY_LOG, which clears it) of a `dirtyLog` region: it must
    /// hold exactly these host pages of the region (and, for a "ramSlot" region, the payload's).
    case expectDirty(DirtyPagesSpec)
    /// KVM_MEM_LOG_DIRTY_PAGES on (true) or off (false) for the session's RAM memslot.
    case dirtyLogging(Bool)
    /// Fails unless KVM_GET_DIRTY_LOG of the RAM memslot lists the host page of each address
    /// (the call also clears the log).
    case expectDirtyAt([Expression])
    /// New host memory (zero-filled, other physical pages) behind a guest-physical range in place
    /// of the old, which is unmapped; then the host's writes.
    case replaceBacking(ReplaceBackingSpec)
    /// The nested guest's stage-1 descriptor for `va` at `level`, in guest memory after the run
    /// (an `atDone` check).
    case expectStage1Descriptor(va: Expression, level: Int, set: Expression, clear: Expression)

    enum CodingKeys: String, CodingKey, CaseIterable {
        case demandMap, map, unmap, protect, editDescriptor, answer, setX0, setVTTBR, setVTTBRBits, setVNCR
        case swapDescriptor, restoreDescriptors, patchVTCR, restoreVTCR, tlbi, resumeUnder, expectTranslation, expectDescriptor,
            backWithMemory, expectDirty, dirtyLogging, expectDirtyAt, replaceBacking, expectStage1Descriptor
        case expectUnmapped, mark, waitForWatchers
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try decoder.discriminator(among: CodingKeys.allCases, what: "a host step") {
        case .demandMap: self = .demandMap(region: try c.decode(String.self, forKey: .demandMap))
        case .map:
            if let region = try? c.decode(String.self, forKey: .map) {
                self = .map(region: region)
            } else {
                self = .mapping(try c.decode(MappingSpec.self, forKey: .map))
            }
        case .resumeUnder: self = .resumeUnder(try c.decode(VTTBRSpec.self, forKey: .resumeUnder))
        case .expectTranslation: self = .expectTranslation(try c.decode(TranslationCheckSpec.self, forKey: .expectTranslation))
        case .expectDescriptor:
            let e = try c.decode(DescriptorEditSpec.self, forKey: .expectDescriptor)
            guard let level = e.level, e.value == nil, e.set != nil || e.clear != nil else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: c.codingPath + [CodingKeys.expectDescriptor],
                        debugDescription: "expectDescriptor needs 'ipa', 'level' and 'set' and/or 'clear' (no 'value')"))
            }
            self = .expectDescriptor(ipa: e.ipa, level: level, set: e.set ?? Expression("0"), clear: e.clear ?? Expression("0"))
        case .backWithMemory: self = .backWithMemory(try c.decode(BackingSpec.self, forKey: .backWithMemory))
        case .unmap:
            if let region = try? c.decode(String.self, forKey: .unmap) {
                self = .unmap(region: region)
            } else {
                self = .unmapping(try c.decode(UnmapSpec.self, forKey: .unmap))
            }
        case .expectUnmapped: self = .expectUnmapped(try c.decode(UnmappedCheckSpec.self, forKey: .expectUnmapped))
        case .mark: self = .mark(try c.decode(String.self, forKey: .mark))
        case .waitForWatchers:
            guard try c.decode(Bool.self, forKey: .waitForWatchers) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .waitForWatchers, in: c, debugDescription: "waitForWatchers takes true (leave the step out otherwise)")
            }
            self = .waitForWatchers
        case .protect:
            let p = try c.decode(ProtectSpec.self, forKey: .protect)
            self = .protect(region: p.region, ipa: p.ipa, size: p.size, access: p.access)
        case .editDescriptor:
            let e = try c.decode(DescriptorEditSpec.self, forKey: .editDescriptor)
            guard let level = e.level else {
                throw DecodingError.keyNotFound(
                    DescriptorEditSpec.CodingKeys.level,
                    DecodingError.Context(
                        codingPath: c.codingPath + [CodingKeys.editDescriptor], debugDescription: "editDescriptor needs 'level'"))
            }
            self = .editDescriptor(ipa: e.ipa, level: level, set: e.set ?? Expression("0"), clear: e.clear ?? Expression("0"))
        case .answer: self = .answer(try c.decode(Expression.self, forKey: .answer))
        case .setX0: self = .setX0(try c.decode(Expression.self, forKey: .setX0))
        case .setVTTBR: self = .setVTTBR(try c.decode(Expression.self, forKey: .setVTTBR))
        case .setVTTBRBits: self = .setVTTBRBits(try c.decode(Expression.self, forKey: .setVTTBRBits))
        case .setVNCR: self = .setVNCR(try c.decode(Expression.self, forKey: .setVNCR))
        case .swapDescriptor:
            let e = try c.decode(DescriptorEditSpec.self, forKey: .swapDescriptor)
            guard let level = e.level, let value = e.value else {
                throw DecodingError.keyNotFound(
                    DescriptorEditSpec.CodingKeys.value,
                    DecodingError.Context(
                        codingPath: c.codingPath + [CodingKeys.swapDescriptor], debugDescription: "swapDescriptor needs 'level' and 'value'"
                    ))
            }
            self = .swapDescriptor(ipa: e.ipa, level: level, value: value)
        case .restoreDescriptors:
            _ = try c.decode(Bool.self, forKey: .restoreDescriptors)
            self = .restoreDescriptors
        case .patchVTCR:
            let v = try c.decode(VTCRPatchSpec.self, forKey: .patchVTCR)
            self = .patchVTCR(sl0: v.sl0, t0sz: v.t0sz, ps: v.ps, tg0: v.tg0)
        case .restoreVTCR:
            _ = try c.decode(Bool.self, forKey: .restoreVTCR)
            self = .restoreVTCR
        case .tlbi: self = .tlbi(try c.decode([TLBISpec].self, forKey: .tlbi))
        case .expectDirty: self = .expectDirty(try c.decode(DirtyPagesSpec.self, forKey: .expectDirty))
        case .dirtyLogging: self = .dirtyLogging(try c.decode(Bool.self, forKey: .dirtyLogging))
        case .expectDirtyAt: self = .expectDirtyAt(try c.decode([Expression].self, forKey: .expectDirtyAt))
        case .replaceBacking: self = .replaceBacking(try c.decode(ReplaceBackingSpec.self, forKey: .replaceBacking))
        case .expectStage1Descriptor:
            let e = try c.decode(Stage1DescriptorCheckSpec.self, forKey: .expectStage1Descriptor)
            self = .expectStage1Descriptor(va: e.va, level: e.level, set: e.set ?? Expression("0"), clear: e.clear ?? Expression("0"))
        }
    }
}
