import Stage2

/// `stage2 build` without its I/O: a spec's bytes in, the pool image and its registers out,
/// or the message naming what is wrong. Shared by the command and the hostile-input fuzzer.
public struct Stage2Build {
    public struct Failure: Error { public var message: String }

    public let memory: ByteBufferTableMemory
    /// VTCR_EL2 and VTTBR_EL2 for the built tables.
    public let vtcr: UInt64
    public let vttbr: UInt64

    public init(spec bytes: [UInt8]) throws(Failure) {
        let s: Stage2BuildSpec
        do { s = try Stage2BuildSpec(json: bytes) } catch { throw Failure(message: "\(error)") }
        let memory = ByteBufferTableMemory(base: PhysicalAddress(s.tableBase), size: s.tableBytes)
        var tables: Stage2Tables<ByteBufferTableMemory>
        do {
            tables = try Stage2Tables(
                configuration: Stage2Configuration(
                    granule: s.granule, ipaBits: s.ipaBits, vmid: s.vmid,
                    startLevel: s.startLevel, outputBits: s.outputBits, blocks: s.blocks, lpa2: s.lpa2),
                memory: memory, poolBase: PhysicalAddress(s.tableBase), poolBytes: s.tableBytes)
        } catch .poolExhausted {
            throw Failure(message: "tableBytes: pool of \(stage2Hex(s.tableBytes)) bytes is too small for the root table")
        } catch {
            throw Failure(message: "\(error)")
        }
        var tlb = UninstalledTLB()
        for (n, op) in s.ops.enumerated() {
            do {
                switch op {
                case let .map(ipa, pa, size, attributes):
                    try tables.map(ipa: IPA(ipa), pa: PhysicalAddress(pa), size: size, attributes: attributes, tlb: &tlb)
                case let .unmap(ipa, size):
                    try tables.unmap(ipa: IPA(ipa), size: size, tlb: &tlb)
                case let .protectPermissions(ipa, size, permissions):
                    try tables.protect(ipa: IPA(ipa), size: size, permissions: permissions, tlb: &tlb)
                case let .protectAttributes(ipa, size, attributes):
                    try tables.protect(ipa: IPA(ipa), size: size, attributes: attributes, tlb: &tlb)
                }
            } catch let .poolExhausted(needed, available) {
                throw Failure(
                    message:
                        "tableBytes: pool too small: ops[\(n)] needs \(needed) more table page\(needed == 1 ? "" : "s"), \(available) free")
            } catch {
                throw Failure(message: "ops[\(n)]: \(error)")
            }
        }
        self.memory = memory
        vtcr = tables.vtcr
        vttbr = tables.vttbr
    }
}
