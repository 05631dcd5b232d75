import AArch64
import KVM

/// The identification registers of an HAS_EL2 vCPU as this host's KVM presents them (for the
/// log directory's SUMMARY): a throwaway VM with one vCPU, read with KVM_GET_ONE_REG.
public enum VCPUIdentity {
    public static let registers: [SystemRegister] = [
        .MIDR_EL1, .ID_AA64PFR0_EL1, .ID_AA64MMFR0_EL1, .ID_AA64MMFR1_EL1, .ID_AA64MMFR2_EL1,
    ]

    /// (register name, value) per register, or the reason none could be read.
    public static func read(kvmPath: String = KVMSystem.defaultPath, e2h0: Bool = false) -> Result<[(String, UInt64)], any Error> {
        do {
            let map = try MemoryMap(
                MemoryMap.gicRegions(vcpus: 1) + [
                    MemoryRegion(name: "ram", base: PhysicalAddress(0x4000_0000), size: 0x10_0000, kind: .ram)
                ])
            let machine = try Machine(MachineConfiguration(map: map, mode: .el2(e2h0: e2h0), kvmPath: kvmPath))
            var out: [(String, UInt64)] = []
            for r in registers { out.append((r.name, try machine.get(r))) }
            return .success(out)
        } catch {
            return .failure(error)
        }
    }
}
