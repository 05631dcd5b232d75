import AArch64
import GuestPayload
import GuestProtocol
import Stage2

/// Turns one variant of a scenario file into the `Scenario` the runner runs: evaluates the
/// expressions, allocates the regions' backing from the session's data pool, plants the
/// values loads must find, derives each op's expected result and the memory afterwards from
/// a byte model of the nested guest's memory, and turns each op's `raises` into the exact
/// event sequence with the host's steps attached.
struct ScenarioBuilder {
    let spec: ScenarioFile
    let variantIndex: Int
    let file: String
    let body: ScenarioBody
    let layout: SessionLayout

    init(spec: ScenarioFile, variant: Int, file: String, layout: SessionLayout = .standard) {
        self.spec = spec
        variantIndex = variant
        self.file = file
        body = spec.defaults.overridden(by: spec.variants[variant].body)
        self.layout = layout
    }

    var variant: VariantSpec { spec.variants[variantIndex] }
    var variantPath: String { "$.variants[\(variantIndex)]" }
    /// Where a body field was written: in the variant when it sets it, else at the top.
    func path(_ field: String, set: Bool) -> String { set ? "\(variantPath).\(field)" : "$.\(field)" }

    func fail(_ path: String, _ message: String) -> ScenarioFileError {
        ScenarioFileError(file: file, path: path, message: message)
    }

    /// The CatalogTest a loaded file runs as.
    static func catalogTest(_ spec: ScenarioFile, file: String) throws(ScenarioFileError) -> CatalogTest {
        var variants: [TestVariant] = []
        for i in spec.variants.indices {
            let b = ScenarioBuilder(spec: spec, variant: i, file: file)
            let requirements = try b.requirements()
            let v = spec.variants[i]
            let budget = (v.budget ?? spec.budget).map { TimeBudget(seconds: $0) } ?? .standard
            variants.append(
                TestVariant(
                    name: v.name, summary: v.summary, requirements: requirements,
                    tags: Set(v.tags.map(TestTag.init(rawValue:))), budget: budget,
                    knownFailures: (b.body.knownFailures ?? []).map(\.record)
                ) { host in
                    try ScenarioBuilder(spec: spec, variant: i, file: file).build(host: host)
                })
        }
        return CatalogTest(name: spec.name, summary: spec.summary, tags: Set(spec.tags.map(TestTag.init(rawValue:))), variants: variants)
    }

    func granule() throws(ScenarioFileError) -> Granule {
        guard let g = body.granule.flatMap(Granule.init(specName:)) else {
            throw fail(variantPath, "no granule: set \"granule\" in the variant or at the top of the file (\"4k\", \"16k\" or \"64k\")")
        }
        return g
    }

    func requirements() throws(ScenarioFileError) -> [Requirement] {
        var r: [Requirement] = [.stage2Granule(try granule())]
        if let b = body.requires?.paBits { r.append(.physicalAddressBits(b)) }
        if let x = body.requires?.xnx { r.append(.xnx(x)) }
        if body.requires?.ttl == true { r.append(.ttl) }
        if body.requires?.vmid16 == true { r.append(.vmid16) }
        if body.requires?.cnp == true { r.append(.cnp) }
        if body.requires?.tlbiRange == true { r.append(.tlbiRange) }
        if body.requires?.hardwareAccessFlag == true { r.append(.hardwareAccessFlag) }
        if body.requires?.lpa2 == true { r.append(.lpa2(try granule())) }
        if body.requires?.stage2FWB == true { r.append(.stage2FWB) }
        if body.requires?.nv2 == true { r.append(.nv2) }
        if body.requires?.lse == true { r.append(.lse) }
        if body.stage1 != nil { r.append(.stage1Granule4K) }
        return r
    }

    // MARK: building

    struct Region {
        var spec: RegionSpec
        var path: String
        var ipa: UInt64
        var size: UInt64
        var attributes: Stage2Attributes
        /// nil for a lazily backed region.
        var pa: UInt64?
        var unit: UInt64?
        /// Whether the byte model covers it (pool memory; not a fixed PA).
        var modelled: Bool
        func contains(_ a: UInt64) -> Bool { a >= ipa && a - ipa < size }
    }

    /// Builds the scenario for a host (`host.vmIPABits` decides whether a big VM is possible).
    func build(host: HostFacts) throws -> Scenario {
        let g = try granule()
        let ipaBits = body.ipaBits ?? 40
        let geometry: Stage2Geometry
        do { geometry = try Stage2Geometry(granule: g, ipaBits: ipaBits) } catch {
            throw fail(path("ipaBits", set: variant.body.ipaBits != nil), "\(g) granule with a \(ipaBits)-bit IPA: \(error)")
        }
        var s = Scenario(granule: g, ipaBits: ipaBits, ops: [])
        let vcpuIDs = try vcpuIDs()
        let vcpuCount = vcpuIDs.reduce(0) { $0 + $1.count }
        // Several vCPUs: vCPU 0's layout (the data pool shrinks by the other vCPUs' table pools).
        let layout = body.vcpus == nil ? self.layout : SessionLayout.forVCPU(0, of: vcpuCount)
        let vmBits = body.vmIPABits ?? (ipaBits > 40 ? ipaBits : nil)
        if let vmBits, vmBits > 40 {
            s.vmIPABits = vmBits
            if host.vmIPABits < vmBits {
                throw SessionError.skip(
                    vmBits > Stage2Geometry.maximumIPABits
                        ? "KVM_CAP_ARM_VM_IPA_SIZE is \(host.vmIPABits) bits; this variant's memory needs a \(vmBits)-bit VM (guest-physical addresses up to 2^\(vmBits))"
                        : "KVM_CAP_ARM_VM_IPA_SIZE is \(host.vmIPABits) bits; a \(vmBits)-bit nested IPA space needs a VM that large")
            }
        }
        s.nonVHE = body.nonVHE ?? false
        s.teardown = body.teardown.flatMap(Scenario.Teardown.init(rawValue:)) ?? .standard

        // Names every expression can use.
        var names: [String: UInt64] = [
            "page": g.bytes, "entries": UInt64(g.entriesPerTable), "ipaLimit": geometry.ipaLimit,
            "startLevel": UInt64(geometry.startLevel), "hvcImm": UInt64(GuestABI.hvcOp),
            "afBit": Stage2Descriptor.afBit, "dataPool": layout.dataPool.rawValue, "hostPage": host.hostPageSize,
            "seed": host.seed,
        ]
        for level in 0...3 where g.entryShift(atLevel: level) < 64 {
            names["span\(level)"] = 1 << UInt64(g.entryShift(atLevel: level))
        }
        names["block"] = names["span2"]
        if body.vcpus != nil {
            names["scratch"] = SessionLayout.scratch.rawValue
            names["vcpuCount"] = UInt64(vcpuCount)
        }
        if let at = Self.payloadInstruction(0xD400_0002 | UInt32(GuestABI.hvcOp) << 5) {
            names["hvcReturn"] = layout.payload.rawValue + at + 4
        }
        let stage1Path = path("stage1", set: variant.body.stage1 != nil)
        if let st = body.stage1 {
            // The register values that turn the nested stage 1 on (Stage1: D24.2 MAIR_EL1,
            // TCR_EL1, SCTLR_EL1), for the nested guest's sysregWrite ops.
            names["s1MAIR"] = Stage1.mair
            names["s1TCR"] = Stage1.tcr(vaBits: st.vaBits, ipaBits: ipaBits, hardwareAccessFlag: st.hardwareAccessFlag)
            names["s1SCTLR"] = Stage1.sctlrMMUOn
            names["payloadBase"] = layout.payload.rawValue
        }
        try bindLets(&names)
        if let h = body.hcrSet { s.hcrSet = try eval(h, names, path("hcrSet", set: variant.body.hcrSet != nil)) }
        if let v = body.vtcrSet { s.vtcrSet = try eval(v, names, path("vtcrSet", set: variant.body.vtcrSet != nil)) }
        s.outputBits = body.outputBits
        s.lpa2 = body.lpa2 ?? false
        if s.lpa2 && g == .k64 {
            throw fail(path("lpa2", set: variant.body.lpa2 != nil), "VTCR_EL2.DS (FEAT_LPA2) applies to the 4k and 16k granules only")
        }
        if s.outputBits == 52 && g != .k64 && !s.lpa2 {
            throw fail(path("outputBits", set: variant.body.outputBits != nil), "52 bits with the \(g) granule needs \"lpa2\": true")
        }
        for (i, w) in (body.idRegisters ?? []).enumerated() {
            let p = "\(path("idRegisters", set: variant.body.idRegisters != nil))[\(i)]"
            s.idRegisterWrites.append(
                IDRegisterWrite(
                    register: w.register, clear: try eval(w.clear, names, "\(p).clear"),
                    set: try eval(w.set, names, "\(p).set")))
        }

        // Regions, in order: the pool is handed out as they are declared.
        var nextPA = layout.dataPool.rawValue
        func allocate(_ size: UInt64, align: UInt64) throws -> UInt64 {
            let a = max(align, 1)
            let pa = (nextPA + a - 1) & ~(a - 1)
            guard pa + size <= layout.dataPool.rawValue + layout.dataPoolSize else {
                // A naturally aligned block the pool cannot hold (a 64K granule's 512 MiB level-2
                // block: OA bits below the block size are RES0, Arm ARM D8.3) gets RAM of its own
                // above the session's; anything else is the file asking for more than the
                // layout gives: a failure, not a skip.
                if a == size && size.nonzeroBitCount == 1 {
                    let ramEnd = layout.ramBase.rawValue + layout.ramSize
                    let above = s.extraRAM.map { $0.base.rawValue + $0.size }.max() ?? ramEnd
                    let base = (max(above, ramEnd) + size - 1) & ~(size - 1)
                    s.extraRAM.append(ExtraRAM(name: "block-\(s.extraRAM.count)", base: PhysicalAddress(base), size: size))
                    return base
                }
                throw SessionError.layout(
                    "the session's data pool (0x\(String(layout.dataPoolSize, radix: 16)) bytes) cannot hold 0x\(String(size, radix: 16)) bytes aligned to 0x\(String(a, radix: 16))"
                )
            }
            nextPA = pa + size
            return pa
        }
        var regions: [Region] = []
        let memoryPath = path("memory", set: variant.body.memory != nil)
        for (i, r) in (body.memory ?? []).enumerated() {
            let p = "\(memoryPath)[\(i)]"
            if names[r.name] != nil || regions.contains(where: { $0.spec.name == r.name }) {
                throw fail("\(p).name", "'\(r.name)' is already a name (a built-in, a let or another region)")
            }
            let ipa = try eval(r.ipa, names, "\(p).ipa")
            let size = try eval(r.size, names, "\(p).size")
            guard size > 0 else { throw fail("\(p).size", "a region needs a size above 0") }
            var attributes = Stage2Attributes(
                permissions: StageTwoAccess.permissions(r.access)!,
                memory: StageTwoAccess.memoryType(r.memory)!)
            attributes.accessFlag = r.accessFlag
            var region = Region(spec: r, path: p, ipa: ipa, size: size, attributes: attributes, pa: nil, unit: nil, modelled: true)
            if let u = r.unit {
                let unit = try eval(u, names, "\(p).unit")
                guard unit >= g.bytes, unit & (unit - 1) == 0 else {
                    throw fail("\(p).unit", "unit 0x\(String(unit, radix: 16)) must be a power of two of at least one \(g) page")
                }
                region.unit = unit
            } else if let fixed = r.pa {
                region.pa = try eval(fixed, names, "\(p).pa")
                // A memslot of its own is fresh memory only the guest writes: modelled.
                region.modelled = r.dirtyLog == "ownSlot"
            } else if let at = r.backAt {
                let base = try eval(at, names, "\(p).backAt")
                guard base % g.bytes == 0, size % g.bytes == 0 else {
                    throw fail("\(p).backAt", "0x\(String(base, radix: 16))+0x\(String(size, radix: 16)) must be whole \(g) pages")
                }
                let vm = s.vmIPABits ?? 40
                if base + size > 1 << UInt64(vm) {
                    throw fail("\(p).backAt", "0x\(String(base, radix: 16)) is beyond the VM's \(vm)-bit IPA space (vmIPABits)")
                }
                region.pa = base
                s.extraRAM.append(ExtraRAM(name: r.name, base: PhysicalAddress(base), size: size))
            } else {
                region.pa = try allocate(size, align: try r.align.map { try eval($0, names, "\(p).align") } ?? size)
            }
            if let kind = r.dirtyLog {
                guard s.dirtyLog == nil else { throw fail("\(p).dirtyLog", "a second dirty-logged region; a scenario logs one") }
                let hp = host.hostPageSize
                guard region.pa! % hp == 0, size % hp == 0 else {
                    throw fail(
                        "\(p).dirtyLog",
                        "a dirty-logged region must start and end on a host page (0x\(String(hp, radix: 16)) bytes): PA 0x\(String(region.pa!, radix: 16)), size 0x\(String(size, radix: 16))"
                    )
                }
                let ram = kind == "ramSlot"
                if !ram { s.extraRAM.append(ExtraRAM(name: r.name, base: PhysicalAddress(region.pa!), size: size, logDirtyPages: true)) }
                // What the payload writes on every exit: the message (vEL2 fills it), the vEL2
                // stack (the exception frame, in the page below its top) and the op results.
                let payload =
                    ram
                    ? Set([layout.message.rawValue, layout.el2StackTop.rawValue - 1, layout.results.rawValue].map { $0 & ~(hp - 1) })
                        .sorted() : []
                s.dirtyLog = DirtyLogPlan(
                    memslot: ram ? "ram" : r.name, ramSlot: ram, base: PhysicalAddress(region.pa!), size: size, pageSize: hp,
                    payloadPages: payload)
            }
            if region.unit == nil && r.mapped {
                s.initialMappings.append(Stage2Mapping(ipa: IPA(ipa), pa: PhysicalAddress(region.pa!), size: size, attributes: attributes))
            }
            names[r.name] = ipa
            regions.append(region)
        }

        // The byte model: PA → byte, and the code planted for exec ops.
        var model: [UInt64: UInt8] = [:]
        var code: [UInt64: UInt16] = [:]
        func plant(_ pa: UInt64, _ bytes: [UInt8]) {
            s.planted.append((PhysicalAddress(pa), bytes))
            for (i, b) in bytes.enumerated() { model[pa + UInt64(i)] = b }
        }
        func modelValue(_ pa: UInt64, _ n: Int) -> UInt64? {
            var v: UInt64 = 0
            for i in 0..<n {
                guard let b = model[pa + UInt64(i)] else { return nil }
                v |= UInt64(b) << (8 * UInt64(i))
            }
            return v
        }
        func store(_ pa: UInt64, _ value: UInt64, _ n: Int) {
            for i in 0..<n { model[pa + UInt64(i)] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        /// The region behind an IPA and the PA that backs it (allocating a lazy unit on
        /// first touch); nil when no region holds it.
        func resolve(_ ipa: UInt64) throws -> (region: Region, pa: UInt64)? {
            guard let k = regions.firstIndex(where: { $0.contains(ipa) }) else { return nil }
            if let unit = regions[k].unit {
                let base = ipa & ~(unit - 1)
                if s.backing[IPA(base)] == nil { s.backing[IPA(base)] = PhysicalAddress(try allocate(unit, align: unit)) }
                return (regions[k], s.backing[IPA(base)]!.rawValue + (ipa - base))
            }
            return (regions[k], regions[k].pa! + (ipa - regions[k].ipa))
        }
        func region(named n: String, _ p: String) throws -> Region {
            guard let r = regions.first(where: { $0.spec.name == n }) else {
                throw fail(p, "no region named '\(n)'; the regions are: " + regions.map(\.spec.name).joined(separator: ", "))
            }
            return r
        }

        /// The (PA, bytes) entries of a plant or expectMemory list.
        func expand(_ list: [PlantSpec], _ listPath: String) throws -> [(UInt64, [UInt8])] {
            var out: [(UInt64, [UInt8])] = []
            for (i, pl) in list.enumerated() {
                let p = "\(listPath)[\(i)]"
                let start: UInt64
                if let at = pl.at {
                    let ipa = try eval(at, names, "\(p).at")
                    guard let (r, pa) = try resolve(ipa), r.modelled else {
                        throw fail(
                            "\(p).at",
                            "no region with pool memory holds 0x\(String(ipa, radix: 16)); give 'pa' for a guest-physical address")
                    }
                    start = pa
                } else {
                    start = try eval(pl.pa!, names, "\(p).pa")
                }
                let v = try eval(pl.value, names, "\(p).value")
                let stride = try pl.stride.map { try eval($0, names, "\(p).stride") } ?? 0
                let step = try pl.step.map { try eval($0, names, "\(p).step") } ?? 0
                for k in 0..<UInt64(pl.count) {
                    let value = v &+ k &* step
                    out.append((start + k * stride, (0..<pl.bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }))
                }
            }
            return out
        }
        for (pa, bytes) in try expand(body.plant ?? [], path("plant", set: variant.body.plant != nil)) { plant(pa, bytes) }

        // Table sets (other VMIDs), built by the runner after HELLO.
        let setsPath = path("tableSets", set: variant.body.tableSets != nil)
        for (i, t) in (body.tableSets ?? []).enumerated() {
            let p = "\(setsPath)[\(i)]"
            if s.tableSets.contains(where: { $0.name == t.name }) { throw fail("\(p).name", "a second table set named '\(t.name)'") }
            if t.name == TableSetVTTBR.session {
                throw fail("\(p).name", "'\(t.name)' names the session's own tables; choose another name")
            }
            var mappings: [Stage2Mapping] = []
            for (k, m) in t.map.enumerated() {
                if m.tables != nil || m.tlbiUnder != nil || m.tlbi != nil {
                    throw fail("\(p).map[\(k)]", "a table set's first mappings are made before it is live: no tables, tlbiUnder or tlbi")
                }
                mappings.append(try mapping(m, "\(p).map[\(k)]"))
            }
            s.tableSets.append(
                TableSetPlan(
                    name: t.name, vmid: UInt16(t.vmid), pool: PhysicalAddress(try eval(t.pool, names, "\(p).pool")),
                    poolBytes: try eval(t.poolBytes, names, "\(p).poolBytes"), mappings: mappings))
        }
        func setName(_ n: String?, _ p: String) throws -> String? {
            guard let n else { return nil }
            guard s.tableSets.contains(where: { $0.name == n }) else {
                throw fail(p, "no table set named '\(n)'; the table sets are: " + s.tableSets.map(\.name).joined(separator: ", "))
            }
            return n
        }
        func tableSetVTTBR(_ v: VTTBRSpec, _ p: String) throws -> TableSetVTTBR {
            let set = v.tables == TableSetVTTBR.session ? v.tables : try setName(v.tables, "\(p).tables")!
            return TableSetVTTBR(set: set, or: try v.or.map { try eval($0, names, "\(p).or") } ?? 0)
        }
        func mapping(_ m: MappingSpec, _ p: String) throws -> Stage2Mapping {
            Stage2Mapping(
                ipa: IPA(try eval(m.ipa, names, "\(p).ipa")), pa: PhysicalAddress(try eval(m.pa, names, "\(p).pa")),
                size: try eval(m.size, names, "\(p).size"),
                attributes: Stage2Attributes(
                    permissions: StageTwoAccess.permissions(m.access)!, memory: StageTwoAccess.memoryType(m.memory)!))
        }
        func tlbiList(_ list: [TLBISpec], _ p: String) throws -> [TLBIOperation] {
            var tlbi: [TLBIOperation] = []
            for (t, op) in list.enumerated() {
                let x = try op.operand.map { try eval($0, names, "\(p)[\(t)].operand") } ?? 0
                let operation: TLBIOperation =
                    switch op.op {
                    case "vmalls12e1is": .vmalls12e1is
                    case "vmalle1is": .vmalle1is
                    case "vmalls12e1": .vmalls12e1
                    case "alle1is": .alle1is
                    case "ipas2e1is": .ipas2e1is(x)
                    case "ipas2le1is": .ipas2le1is(x)
                    case "ipas2e1": .ipas2e1(x)
                    default: .ripas2e1is(x)
                    }
                tlbi.append(operation)
            }
            return tlbi
        }

        func dirtyCheck(_ d: DirtyPagesSpec, _ p: String) throws -> ExpectedEvent.Reaction {
            guard let plan = s.dirtyLog, regions.contains(where: { $0.spec.name == d.region && $0.spec.dirtyLog != nil }) else {
                throw fail("\(p).region", "'\(d.region)' is not a region with \"dirtyLog\"")
            }
            let count = Int(plan.size / plan.pageSize)
            if let bad = d.pages.first(where: { $0 >= count }) {
                throw fail("\(p).pages", "page \(bad) is outside the region's \(count) host pages")
            }
            return .expectDirty(pages: d.pages.sorted(), payload: d.payloadPages)
        }

        var notes: [String] = []
        // The nested guest's stage-1 tables, planted into the regions that hold their IPAs.
        var stage1: Stage1Tables? = nil
        if let st = body.stage1 {
            let root = try eval(st.root, names, "\(stage1Path).root")
            var t: Stage1Tables
            do { t = try Stage1Tables(vaBits: st.vaBits, root: root) } catch { throw fail("\(stage1Path).root", error.description) }
            var place: [Stage1TableKey: UInt64] = [:]
            for (i, tb) in st.tables.enumerated() {
                let tp = "\(stage1Path).tables[\(i)]"
                guard tb.level > t.startLevel else {
                    throw fail(
                        "\(tp).level",
                        "level \(tb.level): a \(st.vaBits)-bit VA space starts at level \(t.startLevel), whose table is 'root'")
                }
                let va = try eval(tb.va, names, "\(tp).va")
                let span: UInt64 = 1 << Stage1.shift(level: tb.level - 1)
                let key = Stage1TableKey(level: tb.level, base: va & ~(span - 1))
                guard place[key] == nil else {
                    throw fail(tp, "a second level-\(tb.level) table for the VAs at 0x\(String(key.base, radix: 16))")
                }
                place[key] = try eval(tb.ipa, names, "\(tp).ipa")
            }
            var missing: [String] = []
            let tableAt: (Int, UInt64) -> UInt64 = { level, base in
                if let ipa = place[Stage1TableKey(level: level, base: base)] { return ipa }
                missing.append("{\"level\": \(level), \"va\": \"0x\(String(base, radix: 16))\"}")
                return 1  // misaligned: the builder stops on it
            }
            func add(_ va: UInt64, _ ipa: UInt64, _ size: UInt64, _ attributes: Stage1.Attributes, _ at: String) throws {
                do { try t.map(va: va, output: ipa, size: size, attributes: attributes, tableAt: tableAt) } catch {
                    throw fail(
                        at, missing.isEmpty ? "\(error)" : "no table placed for " + missing.joined(separator: ", ") + " (\"tables\")")
                }
            }
            // The op interpreter runs with the MMU on too: its code and its op/result region
            // are identity-mapped (2 MiB each).
            try add(layout.payload.rawValue, layout.payload.rawValue, 2 << 20, .normalCode, "\(stage1Path).tables")
            try add(layout.nested.rawValue, layout.nested.rawValue, 2 << 20, .normalData, "\(stage1Path).tables")
            for (i, m) in st.map.enumerated() {
                let mp = "\(stage1Path).map[\(i)]"
                var a: Stage1.Attributes =
                    switch m.access {
                    case "rwx": .normalCode
                    case "r": Stage1.Attributes(ap: 0b10)
                    default: .normalData
                    }
                a.accessFlag = m.accessFlag
                try add(
                    try eval(m.va, names, "\(mp).va"), try eval(m.ipa, names, "\(mp).ipa"), try eval(m.size, names, "\(mp).size"), a, mp)
            }
            for table in t.tables.keys.sorted() {
                guard let (r, pa) = try resolve(table), r.modelled else {
                    throw fail(
                        table == root ? "\(stage1Path).root" : "\(stage1Path).tables",
                        "the stage-1 table at IPA 0x\(String(table, radix: 16)) is in no region with pool memory")
                }
                plant(pa, t.image(of: table))
            }
            stage1 = t
            notes.append(
                "nested stage 1: 4K granule, \(st.vaBits)-bit VA, TTBR0 0x\(String(root, radix: 16)), MAIR_EL1 0x\(String(names["s1MAIR"]!, radix: 16)), TCR_EL1 0x\(String(names["s1TCR"]!, radix: 16)), SCTLR_EL1 0x\(String(names["s1SCTLR"]!, radix: 16))"
            )
        }
        /// With the nested stage 1 on, an op's address is a VA: the IPA its walk gives.
        var stage1On = false
        func ipa(of va: UInt64, _ p: String) throws -> UInt64 {
            guard stage1On, let t = stage1 else { return va }
            guard let (out, _) = t.translate(va) else {
                throw fail(p, "VA 0x\(String(va, radix: 16)) has no stage-1 translation (\"stage1\".\"map\")")
            }
            return out
        }

        // What stage 2 maps so far, for derived fault levels.
        var mapped: [(start: UInt64, size: UInt64)] =
            [
                (layout.payload.rawValue, layout.payloadWindow), (layout.nested.rawValue, layout.nestedSize),
            ] + s.initialMappings.map { ($0.ipa.rawValue, $0.size) }

        // The vCPUs (`vcpus`) or the one op list (`ops`).
        let vcpusPath = path("vcpus", set: variant.body.vcpus != nil)
        let multi = body.vcpus != nil
        let concurrent = body.schedule == "concurrent"
        var marks: [String] = []
        var afters: [(name: String, path: String)] = []
        var watchOps = 0
        var waits = 0
        var currentVCPU = 0
        var watches: [WatchCheck] = []

        /// Builds one op list into `s.ops`, `s.expectedResults`, `s.resultPatterns` and `s.events`.
        func buildOps(_ ops: [OpSpec], _ opsPath: String) throws {
            for (index, o) in ops.enumerated() {
                let p = "\(opsPath)[\(index)]"
                let kind = o.kind
                let address = try o.at.map { try eval($0, names, "\(p).at") } ?? 0
                let value = try o.value.map { try eval($0, names, "\(p).value") } ?? 0
                let aux = try o.aux.map { try eval($0, names, "\(p).aux") } ?? 0
                var watched: (flag: UInt64, record: UInt64, tail: UInt64, old: UInt64, new: UInt64)? = nil
                if let w = o.watch {
                    guard multi && concurrent else {
                        throw fail(
                            "\(p).op", "a watch loops until another vCPU sets its flag: it needs 'vcpus' with \"schedule\": \"concurrent\"")
                    }
                    let tail = try eval(w.tail, names, "\(p).tail")
                    guard (1...1_000_000).contains(tail) else { throw fail("\(p).tail", "tail \(tail); expected 1 to 1000000") }
                    watched = (
                        try eval(w.flag, names, "\(p).flag"), try eval(w.record, names, "\(p).record"), tail,
                        try eval(w.old, names, "\(p).old"), try eval(w.new, names, "\(p).new")
                    )
                    watchOps += 1
                    s.ops.append(GuestOp(kind, address: address, value: watched!.flag, aux: watched!.record, repeatCount: UInt32(tail)))
                    watches.append(
                        WatchCheck(
                            opIndex: index, record: watched!.record, flag: watched!.flag, tail: UInt32(tail), old: watched!.old,
                            new: watched!.new))
                } else {
                    s.ops.append(GuestOp(kind, address: address, value: value, aux: aux, repeatCount: UInt32(o.repeat ?? 1)))
                }
                // An el2Load's address is the guest hypervisor's own (vEL2, MMU off: guest-physical).
                let opIPA = o.at == nil || kind == .el2Load64 ? address : try ipa(of: address, "\(p).at")
                if kind == .el2Load64 {
                    guard address & 7 == 0 else {
                        throw fail(
                            "\(p).at",
                            "an el2Load reads 8 bytes at vEL2, whose MMU is off (Device memory, where an unaligned access faults): 0x\(String(address, radix: 16)) is not 8-byte aligned"
                        )
                    }
                    guard o.result != nil else {
                        throw fail("\(p).result", "an el2Load needs \"result\": the harness does not model what vEL2 reads")
                    }
                }

                // The host's x0 / MMIO answer, if an event of this op sets one.
                var x0: UInt64? = nil
                var answered: UInt64? = nil
                for (e, ev) in o.raises.enumerated() {
                    for (h, step) in ev.host.enumerated() {
                        let hp = "\(p).raises[\(e)].host[\(h)]"
                        if case .setX0(let x) = step { x0 = try eval(x, names, "\(hp).setX0") }
                        if case .answer(let x) = step { answered = try eval(x, names, "\(hp).answer") }
                    }
                }

                // The expected result, from the model unless the file says.
                var result: UInt64? = nil
                let backing = kind == .el2Load64 ? nil : try o.at.flatMap { _ in try resolve(opIPA) }
                switch kind {
                case .exec:
                    guard let (r, pa) = backing, r.modelled else {
                        throw fail(
                            "\(p).at",
                            "an exec needs pool memory at 0x\(String(address, radix: 16)) to plant its code in (a region without 'pa')")
                    }
                    _ = r
                    if let imm = code[pa] {
                        result = UInt64(imm)
                    } else {
                        // `movz x0, #imm; ret`: MOVZ (64-bit) 0xD2800000 | imm16 << 5, Arm ARM C6.2 MOVZ; RET 0xD65F03C0.
                        let imm = UInt16(truncatingIfNeeded: 0x6A00 + index)
                        plant(
                            pa,
                            [0xD280_0000 | UInt32(imm) << 5, 0xD65F_03C0].flatMap { w in
                                (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) }
                            })
                        code[pa] = imm
                        result = UInt64(imm)
                    }
                case .hvc, .smc:
                    result = x0 ?? value
                case .watch64:
                    result = watched!.new  // the last read
                case _ where kind.isLoad:
                    let n = kind.accessBytes!
                    if let (r, pa) = backing, r.modelled {
                        if modelValue(pa, n) == nil {
                            // A value that names the op, so a load from the wrong page cannot pass.
                            let v: UInt64 = 0xA500_0000_0000_0000 | UInt64(index) << 40 | (address & 0xFF_FFFF_FFFF)
                            plant(pa, (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) })
                        }
                        result = modelValue(pa, n)
                    } else if let answered {
                        result = n == 8 ? answered : answered & ((1 << UInt64(8 * n)) - 1)
                    }
                case _ where kind.isStore:
                    let n = kind.accessBytes!
                    if let (r, pa) = backing, r.modelled { store(pa, value, n) }
                    result = 0
                case .ldadd64, .cas64:
                    if let (r, pa) = backing, r.modelled {
                        if modelValue(pa, 8) == nil {
                            plant(
                                pa,
                                (0..<8).map {
                                    UInt8(
                                        truncatingIfNeeded: (0xA500_0000_0000_0000 | UInt64(index) << 40 | (address & 0xFF_FFFF_FFFF))
                                            >> (8 * UInt64($0)))
                                })
                        }
                        // Each repetition is one more atomic: LDADD returns the old value and stores
                        // old + value; CAS stores value when memory equals aux (Arm ARM C6.2 LDADD,
                        // CAS). The result is the last repetition's.
                        for _ in 0..<(o.repeat ?? 1) {
                            let old = modelValue(pa, 8)!
                            if kind == .ldadd64 { store(pa, old &+ value, 8) } else if old == aux { store(pa, value, 8) }
                            result = old
                        }
                    }
                default:
                    break
                }
                switch o.result {
                case .value(let e)?: result = try eval(e, names, "\(p).result")
                case .unchecked?: result = nil
                case let .pattern(values, mask, why)?:
                    s.resultPatterns[index] = ResultPattern(
                        values: try values.enumerated().map { try eval($0.element, names, "\(p).result.oneOf[\($0.offset)]") },
                        mask: try mask.map { try eval($0, names, "\(p).result.mask") } ?? ~0, why: why ?? "")
                    result = nil
                case nil:
                    if result == nil {
                        throw fail(
                            p,
                            "the result of this \(o.op) cannot be derived (no modelled memory at its address); give \"result\": a value, or \"unchecked\""
                        )
                    }
                }
                if let result { s.expectedResults[index] = result }
                if kind == .sysregWrite {
                    try stage1Write(register: aux, value: value, stage1: body.stage1, names: names, on: &stage1On, p)
                }
                // A repeated load checks every repetition in the guest, not just the last one: the
                // payload compares each value with the op's and counts the mismatches.
                if kind.isLoad, (o.repeat ?? 1) > 1, let result {
                    s.ops[index].value = result
                    s.ops[index].checkEveryRepetition = true
                }

                // The events this op raises, with the host's steps.
                for (e, ev) in o.raises.enumerated() {
                    let ep = "\(p).raises[\(e)]"
                    let eventKind: ExpectedEvent.Kind
                    var faultIPA: UInt64? = nil
                    switch ev.kind {
                    case .fault(let k):
                        let at = try ev.address.map { try eval($0, names, "\(ep).address") } ?? address
                        // The IPA stage 2 faults on: the address itself, its stage-1 output, or
                        // (a fault on the stage-1 walk) the descriptor the walk reads at that level.
                        let s2IPA: UInt64
                        if let l = ev.stage1Walk {
                            guard stage1On, let t = stage1 else {
                                throw fail(
                                    "\(ep).stage1Walk",
                                    "the nested stage 1 is off at this op (no sysregWrite of SCTLR_EL1 with M = 1 before it)")
                            }
                            guard let d = t.descriptorIPA(level: l, va: at) else {
                                throw fail("\(ep).stage1Walk", "a walk of VA 0x\(String(at, radix: 16)) reads no level-\(l) descriptor")
                            }
                            s2IPA = d
                        } else {
                            s2IPA = try ipa(of: at, ev.address == nil ? "\(p).at" : "\(ep).address")
                        }
                        let fetch = ev.access.map { $0 == "fetch" } ?? (kind == .exec)
                        let access: ExpectedAccess
                        if fetch {
                            access = .fetch
                        } else {
                            guard let n = kind.accessBytes,
                                let reg = kind.transferRegister ?? (kind == .ldadd64 || kind == .cas64 ? 12 : nil)
                            else {
                                throw fail(
                                    "\(ep).access", "a \(o.op) makes no data access; say \"access\": \"fetch\" for the fetch that faults")
                            }
                            access = .data(bytes: n, write: kind.isStore, register: reg, sixtyFourBit: n == 8)
                        }
                        let faultKind: FaultStatus.Kind =
                            switch k {
                            case "translation": .translation
                            case "accessFlag": .accessFlag
                            case "permission": .permission
                            case "addressSize": .addressSize
                            default: .synchronousExternalOnWalk
                            }
                        let level: Int
                        switch ev.level! {
                        case .level(let n): level = n
                        case .derive:
                            if multi {
                                throw fail(
                                    "\(ep).level", "\"derive\" follows one op list's mappings; with 'vcpus' give the level")
                            }
                            guard faultKind == .translation else {
                                throw fail(
                                    "\(ep).level", "\"derive\" works out translation-fault levels only; give the level of a \(k) fault")
                            }
                            guard
                                let d = Self.translationFaultLevel(ipa: s2IPA, mapped: mapped, granule: g, startLevel: geometry.startLevel)
                            else {
                                throw fail(
                                    "\(ep).level",
                                    "\"derive\": IPA 0x\(String(s2IPA, radix: 16)) is mapped at this point, so no translation fault can happen"
                                )
                            }
                            level = d
                        }
                        var f = ExpectedFault(
                            opIndex: index, address: at, access: access, kind: faultKind, level: level,
                            hpfarValid: ev.hpfar.map { $0 == "checked" } ?? (ev.stage1Walk != nil ? true : nil))
                        f.checkSoftwareWalk = ev.softwareWalk ?? true
                        if stage1On { f.ipa = s2IPA }
                        f.s1ptw = ev.stage1Walk != nil
                        eventKind = .stage2Fault(f)
                        faultIPA = s2IPA
                    case .hvc(let imm), .smc(let imm):
                        let v = try eval(imm, names, "\(ep).\(kind == .smc ? "smc" : "hvc")")
                        guard v <= 0xFFFF else { throw fail(ep, "immediate 0x\(String(v, radix: 16)) does not fit 16 bits") }
                        if case .hvc = ev.kind {
                            eventKind = .hvc(imm: UInt16(v), opIndex: index)
                        } else {
                            eventKind = .smc(imm: UInt16(v), opIndex: index)
                        }
                    case .mmio(let dir):
                        if multi { throw fail("\(ep).mmio", "MMIO events are not supported with 'vcpus'") }
                        let pa: UInt64
                        if let a = ev.address {
                            pa = try eval(a, names, "\(ep).address")
                        } else {
                            guard let (_, b) = backing else {
                                throw fail(ep, "no region holds 0x\(String(address, radix: 16)); give the MMIO \"address\" (a PA)")
                            }
                            pa = b
                        }
                        guard let n = ev.bytes ?? kind.accessBytes else { throw fail(ep, "give the MMIO access size: \"bytes\"") }
                        let write = dir == "write"
                        let data = write ? try ev.data.map { try eval($0, names, "\(ep).data") } ?? value : nil
                        eventKind = .mmio(address: PhysicalAddress(pa), bytes: n, write: write, data: data)
                    case .el1Exception(let ec):
                        let v = try eval(ec, names, "\(ep).el1Exception")
                        guard v <= 0x3F else { throw fail(ep, "EC 0x\(String(v, radix: 16)) is wider than 6 bits") }
                        eventKind = .el1Exception(ec: UInt8(v), opIndex: index)
                    }
                    var reactions: [ExpectedEvent.Reaction] = []
                    for (h, step) in ev.host.enumerated() {
                        let hp = "\(ep).host[\(h)]"
                        switch step {
                        case .demandMap(let name):
                            let r = try region(named: name, "\(hp).demandMap")
                            guard let unit = r.unit else {
                                throw fail(
                                    "\(hp).demandMap",
                                    "region '\(name)' has no 'unit': demandMap maps one unit of a lazily backed region; use map")
                            }
                            guard let at = faultIPA, r.contains(at) else {
                                throw fail("\(hp).demandMap", "demandMap answers a fault inside region '\(name)'")
                            }
                            reactions.append(.demandMap(blockSize: unit, attributes: r.attributes))
                            mapped.append((at & ~(unit - 1), unit))
                        case .map(let name):
                            let r = try region(named: name, "\(hp).map")
                            guard let pa = r.pa else { throw fail("\(hp).map", "region '\(name)' is backed unit by unit; use demandMap") }
                            reactions.append(.map(ipa: IPA(r.ipa), pa: PhysicalAddress(pa), size: r.size, attributes: r.attributes))
                            mapped.append((r.ipa, r.size))
                        case .unmap(let name):
                            let r = try region(named: name, "\(hp).unmap")
                            reactions.append(.unmap(ipa: IPA(r.ipa), size: r.size))
                            mapped.removeAll { $0.start == r.ipa && $0.size == r.size }
                        case let .protect(name, ipa, size, access):
                            var attributes = Stage2Attributes(permissions: StageTwoAccess.permissions(access)!)
                            let (at, n): (UInt64, UInt64)
                            if let name {
                                let r = try region(named: name, "\(hp).protect.region")
                                attributes.memory = r.attributes.memory
                                (at, n) = (r.ipa, r.size)
                            } else {
                                (at, n) = (try eval(ipa!, names, "\(hp).protect.ipa"), try eval(size!, names, "\(hp).protect.size"))
                            }
                            reactions.append(.protect(ipa: IPA(at), size: n, attributes: attributes))
                        case let .editDescriptor(ipa, level, set, clear):
                            reactions.append(
                                .editDescriptor(
                                    ipa: IPA(try eval(ipa, names, "\(hp).editDescriptor.ipa")), level: level,
                                    set: try eval(set, names, "\(hp).editDescriptor.set"),
                                    clear: try eval(clear, names, "\(hp).editDescriptor.clear")))
                        case .answer(let v):
                            guard case .mmio("read") = ev.kind else {
                                throw fail("\(hp).answer", "answer is the value of an MMIO read; this event is not one")
                            }
                            reactions.append(.answerMMIO(try eval(v, names, "\(hp).answer")))
                        case .setX0(let v): reactions.append(.setX0(try eval(v, names, "\(hp).setX0")))
                        case .setVTTBR(let v): reactions.append(.setVTTBR(try eval(v, names, "\(hp).setVTTBR")))
                        case .setVTTBRBits(let v): reactions.append(.setVTTBRBits(try eval(v, names, "\(hp).setVTTBRBits")))
                        case .setVNCR(let v):
                            // VNCR_EL2 bits [11:0] are RES0 (Arm ARM D24.2 VNCR_EL2); the payload's
                            // EL2 MMU is off, so BADDR is a guest-physical address (at most 48 bits).
                            let vncr = try eval(v, names, "\(hp).setVNCR")
                            guard vncr & 0xFFF == 0, vncr >> 48 == 0 else {
                                throw fail(
                                    "\(hp).setVNCR",
                                    "VNCR_EL2 0x\(String(vncr, radix: 16)) is not a 4K-aligned address below 2^48 (bits [11:0] are RES0; vEL2's MMU is off, so BADDR is guest-physical)"
                                )
                            }
                            reactions.append(.setVNCR(vncr))
                        case let .swapDescriptor(ipa, level, value):
                            reactions.append(
                                .swapDescriptor(
                                    ipa: IPA(try eval(ipa, names, "\(hp).swapDescriptor.ipa")), level: level,
                                    value: try eval(value, names, "\(hp).swapDescriptor.value")))
                        case .restoreDescriptors: reactions.append(.restoreDescriptors)
                        case let .patchVTCR(sl0, t0sz, ps, tg0):
                            reactions.append(
                                .patchVTCR(
                                    sl0: try sl0.map { try eval($0, names, "\(hp).patchVTCR.sl0") },
                                    t0sz: try t0sz.map { try eval($0, names, "\(hp).patchVTCR.t0sz") },
                                    ps: try ps.map { try eval($0, names, "\(hp).patchVTCR.ps") },
                                    tg0: try tg0.map { try eval($0, names, "\(hp).patchVTCR.tg0") }))
                        case .restoreVTCR: reactions.append(.patchVTCR(sl0: nil, t0sz: nil))
                        case .tlbi(let list):
                            reactions.append(.tlbi(try tlbiList(list, "\(hp).tlbi")))
                        case .mapping(let m):
                            let mp = "\(hp).map"
                            let set = try setName(m.tables, "\(mp).tables")
                            let under = try m.tlbiUnder.map { try tableSetVTTBR($0, "\(mp).tlbiUnder") }
                            if set == nil, under != nil || m.tlbi != nil {
                                throw fail(
                                    mp,
                                    "tlbiUnder and tlbi apply to a table set's mapping ('tables'); the session's own takes its own TLB maintenance"
                                )
                            }
                            let mm = try mapping(m, mp)
                            reactions.append(
                                .mapIn(
                                    set: set, ipa: mm.ipa, pa: mm.pa, size: mm.size, attributes: mm.attributes,
                                    tlbiUnder: under, tlbi: try m.tlbi.map { try tlbiList($0, "\(mp).tlbi") }))
                            if set == nil { mapped.append((mm.ipa.rawValue, mm.size)) }
                        case .resumeUnder(let v):
                            reactions.append(.resumeUnder(try tableSetVTTBR(v, "\(hp).resumeUnder")))
                        case let .expectDescriptor(ipa, level, set, clear):
                            reactions.append(
                                .expectDescriptor(
                                    ipa: IPA(try eval(ipa, names, "\(hp).expectDescriptor.ipa")), level: level,
                                    set: try eval(set, names, "\(hp).expectDescriptor.set"),
                                    clear: try eval(clear, names, "\(hp).expectDescriptor.clear")))
                        case .backWithMemory(let b):
                            guard case .mmio = ev.kind else { throw fail("\(hp).backWithMemory", "backWithMemory answers an mmio event") }
                            if b.plant.contains(where: { $0.at != nil }) {
                                throw fail("\(hp).backWithMemory.plant", "memory added at run time has no region: give 'pa'")
                            }
                            reactions.append(
                                .backWithMemory(
                                    opIndex: index,
                                    plant: try expand(b.plant, "\(hp).backWithMemory.plant").map { (PhysicalAddress($0.0), $0.1) },
                                    maxHostPage: try eval(b.maxHostPage, names, "\(hp).backWithMemory.maxHostPage")))
                        case .expectDirty(let d):
                            reactions.append(try dirtyCheck(d, "\(hp).expectDirty"))
                        case .dirtyLogging(let on):
                            reactions.append(.dirtyLogging(on))
                        case .expectDirtyAt(let list):
                            reactions.append(
                                .expectDirtyAddresses(
                                    try list.enumerated().map {
                                        PhysicalAddress(try eval($0.element, names, "\(hp).expectDirtyAt[\($0.offset)]"))
                                    }))
                        case .replaceBacking(let r):
                            let rp = "\(hp).replaceBacking"
                            let (pa, n) = (try eval(r.pa, names, "\(rp).pa"), try eval(r.size, names, "\(rp).size"))
                            let pool = layout.dataPool.rawValue
                            guard n > 0, pa >= pool, pa + n <= pool + layout.dataPoolSize else {
                                throw fail(
                                    rp,
                                    "the replaced range must lie inside the data pool (dataPool, 0x\(String(layout.dataPoolSize, radix: 16)) bytes)"
                                )
                            }
                            if r.plant.contains(where: { $0.at != nil }) { throw fail("\(rp).plant", "give 'pa' for what the host writes") }
                            let planted = try expand(r.plant, "\(rp).plant")
                            guard planted.allSatisfy({ $0.0 >= pa && $0.0 + UInt64($0.1.count) <= pa + n }) else {
                                throw fail("\(rp).plant", "every written address must lie inside the replaced range")
                            }
                            // The new memory is zero-filled, then holds what the host writes: so the
                            // model, where it covers a region's pool memory. Elsewhere (memory only
                            // table sets map, whose stores are not modelled) the model forgets the
                            // range, and the file states what it must hold in `expectMemory`.
                            let covered = regions.compactMap { r in r.modelled ? r.pa.map { ($0, $0 + r.size) } : nil }
                            func modelled(_ b: UInt64) -> Bool { covered.contains { b >= $0.0 && b < $0.1 } }
                            // With `copy` the new memory holds the old bytes: the model stays.
                            if !r.copy { for b in pa..<(pa + n) { model[b] = modelled(b) ? 0 : nil } }
                            for (at, bytes) in planted {
                                for (i, b) in bytes.enumerated() where modelled(at + UInt64(i)) { model[at + UInt64(i)] = b }
                            }
                            reactions.append(
                                .replaceBacking(
                                    pa: PhysicalAddress(pa), size: n, copy: r.copy, plant: planted.map { (PhysicalAddress($0.0), $0.1) }))
                        case .expectStage1Descriptor:
                            throw fail(
                                "\(hp).expectStage1Descriptor", "expectStage1Descriptor states memory after the run: put it in \"atDone\"")
                        case .unmapping(let u):
                            let up = "\(hp).unmap"
                            let set = u.tables == TableSetVTTBR.session ? nil : try setName(u.tables, "\(up).tables")
                            let ipa = try eval(u.ipa, names, "\(up).ipa")
                            let size = try eval(u.size, names, "\(up).size")
                            reactions.append(
                                .unmapIn(
                                    set: set, ipa: IPA(ipa), size: size,
                                    tlbiUnder: try u.tlbiUnder.map { try tableSetVTTBR($0, "\(up).tlbiUnder") },
                                    tlbi: try u.tlbi.map { try tlbiList($0, "\(up).tlbi") },
                                    expectTLBI: (u.expectTLBI ?? []).map { n in
                                        TLBIOperation.Code.allCases.first { $0.cName.lowercased() == n }!
                                    }))
                            if set == nil { mapped.removeAll { $0.start >= ipa && $0.start + $0.size <= ipa + size } }
                        case .expectUnmapped(let t):
                            let tp = "\(hp).expectUnmapped"
                            reactions.append(
                                .expectUnmapped(
                                    set: t.tables == TableSetVTTBR.session ? nil : try setName(t.tables, "\(tp).tables"),
                                    ipa: IPA(try eval(t.ipa, names, "\(tp).ipa"))))
                        case .mark(let name):
                            guard multi && concurrent else {
                                throw fail("\(hp).mark", "mark orders concurrent vCPUs: it needs 'vcpus' with \"schedule\": \"concurrent\"")
                            }
                            marks.append(name)
                            reactions.append(.mark(name))
                        case .waitForWatchers:
                            guard multi && concurrent else {
                                throw fail(
                                    "\(hp).waitForWatchers",
                                    "waitForWatchers waits for concurrent vCPUs: it needs 'vcpus' with \"schedule\": \"concurrent\"")
                            }
                            waits += 1
                            reactions.append(.waitForWatchers)
                        case .expectTranslation(let t):
                            let tp = "\(hp).expectTranslation"
                            reactions.append(
                                .expectTranslation(
                                    set: try setName(t.tables, "\(tp).tables"),
                                    ipa: IPA(try eval(t.ipa, names, "\(tp).ipa")),
                                    pa: PhysicalAddress(try eval(t.pa, names, "\(tp).pa")), level: t.level))
                        }
                    }
                    var event = ExpectedEvent(eventKind, reactions: reactions, resume: ev.resume == "skip" ? .skip : .retry)
                    if let to = ev.switchTo {
                        guard multi && !concurrent else {
                            throw fail(
                                "\(ep).switchTo",
                                "switchTo hands the host thread to another vCPU: it needs 'vcpus' with \"schedule\": \"lockstep\"")
                        }
                        guard to >= 0 && to < vcpuCount else {
                            throw fail("\(ep).switchTo", "no vCPU \(to); the vCPUs are 0 to \(vcpuCount - 1)")
                        }
                        guard to != currentVCPU else { throw fail("\(ep).switchTo", "vCPU \(to) is the one raising this event") }
                        event.switchTo = to
                    }
                    for (key, set) in [("times", ev.times != nil), ("after", ev.after != nil)] where set && !(multi && concurrent) {
                        throw fail(
                            "\(ep).\(key)", "'\(key)' is for vCPUs that run at once: it needs 'vcpus' with \"schedule\": \"concurrent\"")
                    }
                    event.repeats = ev.times == "any"
                    if let w = ev.whileFlag {
                        event.whileFlag = (try eval(w.at, names, "\(ep).whileFlag.at"), try eval(w.below, names, "\(ep).whileFlag.below"))
                    }
                    if let a = ev.after {
                        afters.append((a, "\(ep).after"))
                        event.after = a
                    }
                    if multi && concurrent, case .stage2Fault(let f) = eventKind, f.checkSoftwareWalk {
                        throw fail(
                            "\(ep).softwareWalk",
                            "another vCPU may edit the tables while this fault is checked: say \"softwareWalk\": false")
                    }
                    s.events.append(event)
                    if let why = ev.why ?? ev.reference {
                        notes.append("\(event): \(why)" + (ev.why != nil && ev.reference != nil ? " (\(ev.reference!))" : ""))
                    }
                }
            }
        }

        if let entries = body.vcpus {
            if body.ops != nil {
                throw fail(path("ops", set: variant.body.ops != nil), "give 'ops' (one vCPU) or 'vcpus', not both")
            }
            for (key, set) in [
                ("stage1", body.stage1 != nil), ("idRegisters", body.idRegisters != nil), ("atDone", body.atDone != nil),
                ("vmIPABits", s.vmIPABits != nil), ("outputBits", body.outputBits != nil), ("lpa2", body.lpa2 == true),
                ("teardown", body.teardown != nil), ("dirtyLog", s.dirtyLog != nil), ("extraRAM", !s.extraRAM.isEmpty),
            ] where set {
                throw fail(vcpusPath, "'\(key)' is not supported with 'vcpus' (a single-vCPU scenario feature)")
            }
            s.schedule = concurrent ? .concurrent : .lockstep
            for (i, (entry, ids)) in zip(entries, vcpuIDs).enumerated() {
                let ep = "\(vcpusPath)[\(i)]"
                let tables: String?
                if let t = entry.tables, t != TableSetVTTBR.session {
                    tables = try setName(t, "\(ep).tables")
                } else {
                    tables = nil
                }
                guard !entry.ops.isEmpty else { throw fail("\(ep).ops", "a vCPU needs at least one op") }
                guard entry.ops.count <= SessionLayout.maxOpsPerVCPU else {
                    throw fail("\(ep).ops", "\(entry.ops.count) ops; a vCPU's op list holds at most \(SessionLayout.maxOpsPerVCPU)")
                }
                for id in ids {
                    names["self"] = UInt64(id)
                    currentVCPU = id
                    s.ops = []
                    s.expectedResults = [:]
                    s.resultPatterns = [:]
                    s.events = []
                    watches = []
                    try buildOps(entry.ops, "\(ep).ops")
                    s.vcpus.append(
                        VCPUPlan(
                            id: id, tables: tables, ops: s.ops, events: s.events, expectedResults: s.expectedResults,
                            resultPatterns: s.resultPatterns, watches: watches))
                }
            }
            names["self"] = nil
            s.vcpus.sort { $0.id < $1.id }
            s.ops = []
            s.expectedResults = [:]
            s.resultPatterns = [:]
            s.events = []
            for a in afters where !marks.contains(a.name) {
                throw fail(a.path, "no host step {\"mark\": \"\(a.name)\"} sets '\(a.name)'")
            }
            if watchOps > 0 && waits == 0 {
                throw fail(
                    vcpusPath,
                    "a watch op needs a host step {\"waitForWatchers\": true} on the vCPU that changes what it watches, before the change")
            }
        } else {
            if body.schedule != nil {
                throw fail(path("schedule", set: variant.body.schedule != nil), "'schedule' says how several vCPUs run: it needs 'vcpus'")
            }
            let opsPath = path("ops", set: variant.body.ops != nil)
            guard let ops = body.ops, !ops.isEmpty else { throw fail(opsPath, "a variant needs at least one op") }
            guard ops.count <= layout.maxOps else { throw fail(opsPath, "\(ops.count) ops; the op area holds at most \(layout.maxOps)") }
            try buildOps(ops, opsPath)
        }

        for (i, step) in (body.atDone ?? []).enumerated() {
            let p = "\(path("atDone", set: variant.body.atDone != nil))[\(i)]"
            switch step {
            case .expectDirty(let d): s.atDone.append(try dirtyCheck(d, "\(p).expectDirty"))
            case let .expectStage1Descriptor(va, level, set, clear):
                // A state of guest memory after the run: the byte model, which memory must
                // match exactly, holds the descriptor with these bits changed.
                let dp = "\(p).expectStage1Descriptor"
                guard let t = stage1 else { throw fail(dp, "the file has no \"stage1\" tables") }
                let v = try eval(va, names, "\(dp).va")
                guard let d = t.descriptorIPA(level: level, va: v), let (r, pa) = try resolve(d), r.modelled, let old = modelValue(pa, 8)
                else {
                    throw fail(
                        "\(dp).level", "a walk of VA 0x\(String(v, radix: 16)) reads no level-\(level) descriptor the harness planted")
                }
                let new = (old | (try eval(set, names, "\(dp).set"))) & ~(try eval(clear, names, "\(dp).clear"))
                store(pa, new, 8)
                notes.append(
                    "after the run, the stage-1 level-\(level) descriptor for VA 0x\(String(v, radix: 16)) (IPA 0x\(String(d, radix: 16)), PA 0x\(String(pa, radix: 16))) must read 0x\(String(new, radix: 16)) (planted 0x\(String(old, radix: 16)))"
                )
            default: throw fail(p, "atDone takes expectDirty and expectStage1Descriptor steps (checks after DONE)")
            }
        }
        s.expectedMemory = model.keys.sorted().map { (PhysicalAddress($0), [model[$0]!]) }
        s.expectedMemory += try expand(body.expectMemory ?? [], path("expectMemory", set: variant.body.expectMemory != nil))
            .map { (PhysicalAddress($0.0), $0.1) }
        s.notes = [
            multi
                ? geometry.description
                    + ", \(s.vcpus.count) vCPUs (\(s.schedule.rawValue)): "
                    + s.vcpus.map { "vCPU \($0.id) \($0.ops.count) ops, \($0.events.count) expected events" }.joined(separator: "; ")
                : geometry.description + ", \(s.ops.count) ops, \(s.events.count) expected events"
        ]
        for text in [spec.why, spec.reference, variant.why, variant.reference].compactMap({ $0 }) { s.notes.append(text) }
        s.notes += body.notes ?? []
        s.notes += notes
        return s
    }

    /// The vCPU ids of each `vcpus` entry (empty without `vcpus`): given, or the lowest id no
    /// earlier entry takes; together they must be 0 to N - 1, each once.
    func vcpuIDs() throws(ScenarioFileError) -> [[Int]] {
        guard let entries = body.vcpus else { return [] }
        let p = path("vcpus", set: variant.body.vcpus != nil)
        let n = entries.reduce(0) { $0 + ($1.ids?.count ?? 1) }
        guard n <= SessionLayout.maxVCPUs else { throw fail(p, "\(n) vCPUs; at most \(SessionLayout.maxVCPUs)") }
        var taken = Set<Int>()
        var out: [[Int]] = []
        for (i, e) in entries.enumerated() {
            if let ids = e.ids {
                for id in ids {
                    guard id >= 0 && id < n else {
                        throw fail("\(p)[\(i)].ids", "vCPU id \(id); with \(n) vCPUs the ids are 0 to \(n - 1), each once")
                    }
                    guard taken.insert(id).inserted else { throw fail("\(p)[\(i)].ids", "vCPU \(id) is given a second op list") }
                }
                out.append(ids)
            } else {
                out.append([])
            }
        }
        // Entries without ids take the lowest ids no entry names, in order.
        var free = (0..<n).filter { !taken.contains($0) }[...]
        for (i, e) in entries.enumerated() where e.ids == nil {
            guard let id = free.popFirst() else { throw fail("\(p)[\(i)]", "no vCPU id left for this entry") }
            out[i] = [id]
        }
        return out
    }

    /// A sysregWrite of the nested guest's stage-1 registers, with "stage1" tables: SCTLR_EL1.M
    /// (bit 0) turns the builder's VA translation on or off; the other registers must hold what
    /// the tables were built for.
    func stage1Write(
        register: UInt64, value: UInt64, stage1 st: Stage1Spec?, names: [String: UInt64], on: inout Bool, _ p: String
    ) throws(ScenarioFileError) {
        let reg = NestedSystemRegister(rawValue: register)
        // Without "stage1" the file plants its own tables, which must map VA = IPA (at-s12).
        guard let st else { return }
        let root = try eval(st.root, names, "\(path("stage1", set: variant.body.stage1 != nil)).root")
        switch reg {
        case .sctlrEL1?: on = value & 1 != 0
        case .ttbr0EL1? where value & Stage1.addressMask != root:
            throw fail("\(p).value", "TTBR0_EL1 0x\(String(value, radix: 16)) is not the stage-1 root 0x\(String(root, radix: 16))")
        case .tcrEL1? where value != names["s1TCR"]:
            throw fail(
                "\(p).value",
                "TCR_EL1 0x\(String(value, radix: 16)) is not the one the stage-1 tables are built for: s1TCR (0x\(String(names["s1TCR"]!, radix: 16)))"
            )
        case .mairEL1? where value != Stage1.mair:
            throw fail(
                "\(p).value",
                "MAIR_EL1 0x\(String(value, radix: 16)) is not s1MAIR (0x\(String(Stage1.mair, radix: 16))), which the descriptors' AttrIndx assume"
            )
        default: break
        }
    }

    /// Binds the `let` names: each may use the built-in names and other lets (any order).
    func bindLets(_ names: inout [String: UInt64]) throws(ScenarioFileError) {
        var pending = (body.lets ?? [:]).sorted { $0.key < $1.key }
        for (k, _) in pending where names[k] != nil {
            throw fail("\(path("let", set: variant.body.lets?[k] != nil)).\(k)", "'\(k)' is a built-in name; choose another")
        }
        while !pending.isEmpty {
            var progress = false
            var left: [(key: String, value: Expression)] = []
            for (k, e) in pending {
                if let v = try? e.evaluate(names) {
                    names[k] = v
                    progress = true
                } else {
                    left.append((k, e))
                }
            }
            if !progress {
                let (k, e) = left[0]
                let p = "\(path("let", set: variant.body.lets?[k] != nil)).\(k)"
                do { _ = try e.evaluate(names) } catch { throw fail(p, error.description) }
                throw fail(p, "cannot be evaluated (a cycle of lets?)")
            }
            pending = left
        }
    }

    func eval(_ e: Expression, _ names: [String: UInt64], _ path: String) throws(ScenarioFileError) -> UInt64 {
        do { return try e.evaluate(names) } catch { throw fail(path, error.description) }
    }

    /// The level of the translation fault a walk of `ipa` stops at, given the leaf ranges
    /// mapped so far (nil: mapped). At each level from the start level the entry for `ipa`
    /// is valid only if some mapped range intersects the span that entry covers; a range
    /// covering the whole span means the IPA is mapped (block or full table below).
    /// (Arm ARM D8.2 "Translation tables and the translation process"; independent of the
    /// builder's own code so it can check it.)
    static func translationFaultLevel(
        ipa: UInt64, mapped: [(start: UInt64, size: UInt64)],
        granule: Granule, startLevel: Int
    ) -> Int? {
        Stage2FaultModel.translationFaultLevel(ipa: ipa, mapped: mapped, granule: granule, startLevel: startLevel)
    }

    /// The offset of the only occurrence of `insn` in the payload image (nil: none or several).
    static func payloadInstruction(_ insn: UInt32) -> UInt64? {
        let b = PayloadImage.bytes
        var found: UInt64? = nil
        var i = 0
        while i + 4 <= b.count {
            let w = UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
            if w == insn {
                if found != nil { return nil }
                found = UInt64(i)
            }
            i += 4
        }
        return found
    }
}
