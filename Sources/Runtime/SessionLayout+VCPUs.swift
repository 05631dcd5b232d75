import AArch64
import GuestProtocol

extension SessionLayout {
    /// The most vCPUs a scenario may run (`vcpus` in a scenario file): each takes a 256 KiB
    /// slice of the nested region for its op list, results and nested stack.
    public static let maxVCPUs = 4

    /// vCPU `k`'s layout in a VM of `n` vCPUs: per-vCPU config block, message page and vEL2
    /// stack 64 KiB apart; op list, results and nested stack in 256 KiB slices of the
    /// identity-mapped nested region; each vCPU after the first gets a 4 MiB table pool of its
    /// own at the end of the data pool, which shrinks by as much.
    public static func forVCPU(_ k: Int, of n: Int) -> SessionLayout {
        var s = standard
        let kk = UInt64(k)
        s.config = standard.config.advanced(by: kk * 0x1_0000)
        s.message = standard.message.advanced(by: kk * 0x1_0000)
        s.el2StackTop = standard.el2StackTop.advanced(by: kk * 0x1_0000)
        s.ops = standard.ops.advanced(by: kk * 0x4_0000)
        s.results = standard.results.advanced(by: kk * 0x4_0000)
        s.nestedStackTop = s.results.advanced(by: 0x4_0000)
        s.dataPoolSize = standard.dataPoolSize - UInt64(n - 1) * 0x40_0000
        if k > 0 {
            s.tablePool = standard.dataPool.advanced(by: s.dataPoolSize + (kk - 1) * 0x40_0000)
            s.tablePoolSize = 0x40_0000
        }
        return s
    }

    /// A page every vCPU can address (`scratch` in scenario files: flags, watch records): in
    /// the identity-mapped nested region, past vCPU 0's results (its op list holds at most
    /// `maxOpsPerVCPU` ops) and 64 KiB below its nested stack top.
    public static var scratch: PhysicalAddress { standard.results.advanced(by: 0x2_0000) }

    /// The ops one vCPU's list may hold when several run: its results must stay below `scratch`.
    public static var maxOpsPerVCPU: Int { 0x2_0000 / GuestABI.resultSize }
}
