import AArch64
import GuestProtocol

/// Syndrome fields the architecture leaves UNKNOWN (or that hardware may report either way) for
/// a given fault: logged with the reason, never asserted, so a run shows what this host does
/// without a verdict depending on it.
enum UnpinnedFields {
    /// Log lines for one stage-2 fault (`s1ptw`: the fault is on the stage-1 walk).
    static func lines(esr: UInt64, hpfar: UInt64, kind: FaultStatus.Kind, s1ptw: Bool, opIndex: Int?) -> [String] {
        let e = ESR(esr)
        let at = "op \(opIndex.map(String.init) ?? "?")"
        var out: [String] = []
        if s1ptw, let d = e.dataAbort {
            // The walker's descriptor read (or its hardware Access-flag/dirty update) is what
            // faulted at stage 2; WnR reports the instruction's access, not the walker's, and
            // Linux treats every S1PTW fault as a write without reading it (commit 60e21a0ef54c,
            // kvm_vcpu_dabt_iswrite). Arm ARM D24.2 ESR_EL2, Data Abort ISS: WnR, S1PTW.
            out.append(
                "\(at): WnR=\(d.wnr ? 1 : 0) on a stage-2 fault during the stage-1 walk: logged, not checked (WnR describes the instruction, not the walker's access; Arm ARM D24.2 ESR_EL2 ISS.WnR with S1PTW=1)"
            )
        }
        if kind == .permission && !s1ptw {
            // Arm ARM D24.2 HPFAR_EL2: FIPA is valid for Translation, Access flag and Address
            // size faults at stage 2 and for faults on a stage-1 walk; otherwise UNKNOWN.
            out.append(
                "\(at): HPFAR_EL2 0x\(String(hpfar, radix: 16)) on a stage-2 permission fault: logged, not checked (UNKNOWN for a permission fault outside a stage-1 walk; Arm ARM D24.2 HPFAR_EL2)"
            )
        }
        return out
    }
}
