import AArch64
import GuestProtocol
import Stage2

/// A stage-2 table set besides the session's own (another VMID), in a pool the test owns.
/// It maps what the nested guest needs to run (payload R+X, op/result/stack region RW) the
/// same way the session's tables do.
public final class LiveTables {
    public var tables: Stage2Tables<BackendTableMemory>
    public let name: String

    public init(name: String, session: GuestSession, pool: PhysicalAddress, poolBytes: UInt64, vmid: UInt16) throws {
        self.name = name
        let cfg = session.tables.configuration
        let memory = BackendTableMemory(backend: session.backend, pool: pool.rawValue...(pool.rawValue + poolBytes - 1))
        do {
            tables = try Stage2Tables(
                configuration: Stage2Configuration(
                    granule: cfg.granule, ipaBits: cfg.ipaBits, vmid: vmid,
                    vmid16: cfg.vmid16),
                memory: memory, poolBase: pool, poolBytes: poolBytes)
        } catch { throw SessionError.unexpected("table set \(name): \(error)") }
        let l = session.layout
        try map(IPA(l.payload.rawValue), l.payload, l.payloadWindow, Stage2Attributes(permissions: [.read, .execute]), tlb: nil)
        try map(IPA(l.nested.rawValue), l.nested, l.nestedSize, Stage2Attributes(permissions: [.read, .write]), tlb: nil)
    }

    /// Maps; `tlb` nil: the set is not live (no VTTBR ever held it), a break is a bug.
    public func map(
        _ ipa: IPA, _ pa: PhysicalAddress, _ size: UInt64, _ attributes: Stage2Attributes,
        tlb: VTTBRExitTLB?
    ) throws {
        do {
            if var tlb {
                try tables.map(ipa: ipa, pa: pa, size: size, attributes: attributes, tlb: &tlb)
            } else {
                var none = NotLiveTLB(name: name)
                try tables.map(ipa: ipa, pa: pa, size: size, attributes: attributes, tlb: &none)
            }
        } catch { throw SessionError.unexpected("table set \(name): map \(ipa) -> \(pa): \(error)") }
    }
    public var vttbr: UInt64 { tables.vttbr }
}
