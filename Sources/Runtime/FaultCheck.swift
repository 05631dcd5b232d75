import AArch64
import GuestProtocol
import Stage2

/// Compares one stage-2 fault a vCPU reported with its expectation, field by field. The
/// single-vCPU runner and the multi-vCPU tests use the same check, so every field one compares
/// the other compares too. References (Arm ARM DDI 0487): ESR_EL2 and its Data/Instruction
/// Abort ISS encodings, FAR_EL2 and HPFAR_EL2 in D24.2; the fault's type and level from the
/// pseudocode AArch64.S2Translate / AArch64.S2Walk. Fields the architecture leaves UNKNOWN
/// are logged by `UnpinnedFields`, not checked here.
public enum FaultCheck {
    /// The mismatches (empty: as expected). `payload`: where the op interpreter's code is;
    /// `walk`: the harness's software walk of the tables the vCPU runs under (nil: not compared).
    public static func mismatches(
        _ m: MailboxMessage, report: FaultReport, against want: ExpectedFault,
        payload: Range<UInt64>, walk: ((IPA, Stage2Access) -> Stage2WalkResult)?, who: String = ""
    ) -> [String] {
        var bad: [String] = []
        let at = "\(who)fault for op \(want.opIndex) (\(want))"
        if m.opIndex != want.opIndex { bad.append("\(at): reported for op \(m.opIndex.map(String.init) ?? "none")") }
        // EC 0x24 Data Abort / 0x20 Instruction Abort "from a lower Exception level": the
        // nested guest runs at EL1, below the (virtual) EL2 that takes the abort.
        let wantEC: ExceptionClass = want.access == .fetch ? .instructionAbortLowerEL : .dataAbortLowerEL
        if report.esr.exceptionClass != wantEC {
            bad.append("\(at): EC 0x\(String(report.esr.ecBits, radix: 16)), expected 0x\(String(wantEC.rawValue, radix: 16))")
        }
        if let s = report.status {
            if s.kind != want.kind || s.level != want.level {
                bad.append(
                    "\(at): \(s.kind) fault at level \(s.level.map(String.init) ?? "-"), expected \(want.kind) at level \(want.level)")
            }
        } else {
            bad.append("\(at): not an abort")
        }
        if case let .data(bytes, write, register, sf) = want.access, let d = report.esr.dataAbort {
            // ISV = 1 with SAS/SRT/SF describing the access: a stage-2 abort on a single
            // general-purpose-register load/store without writeback (ISS.ISV; the payload's
            // ops are exactly such instructions: ldr/str x11/x12/w11/w12, [x10]).
            if d.wnr != write { bad.append("\(at): WnR=\(d.wnr ? 1 : 0)") }
            if !d.isv {
                bad.append("\(at): ISV=0, the syndrome should describe the load/store")
            } else {
                if d.accessBytes != bytes { bad.append("\(at): SAS says \(d.accessBytes) bytes") }
                if Int(d.srt) != register { bad.append("\(at): SRT=\(d.srt), expected \(register)") }
                if d.sf != sf { bad.append("\(at): SF=\(d.sf ? 1 : 0)") }
            }
            // S1PTW = 0: with SCTLR_EL1.M = 0 there is no stage-1 walk to fault on.
            if d.s1ptw { bad.append("\(at): S1PTW set with the nested stage 1 off") }
            if d.fnv { bad.append("\(at): FnV set (FAR not valid)") }
        }
        if let i = report.esr.instructionAbort, want.access == .fetch {
            if i.fnv { bad.append("\(at): FnV set (FAR not valid)") }
            if i.s1ptw { bad.append("\(at): S1PTW set with the nested stage 1 off") }
            // Preferred return address of a synchronous abort is the faulting instruction
            // (Arm ARM D1, "Preferred exception return address"); for a fetch, its address.
            if m.elr != want.address { bad.append("\(at): ELR_EL2 \(hex(m.elr)), expected the fetched address") }
        } else if !payload.contains(m.elr) {
            bad.append("\(at): ELR_EL2 \(hex(m.elr)) is outside the op interpreter")
        }
        if m.far != want.address { bad.append("\(at): FAR_EL2 \(hex(m.far)), expected \(hex(want.address))") }
        // HPFAR_EL2.FIPA holds IPA[51:12] for stage-2 Translation, Access flag and Address size
        // faults and faults on a stage-1 walk; UNKNOWN for a permission fault (hpfarValid false).
        if want.hpfarValid, report.ipa?.rawValue != want.address {
            bad.append(
                "\(at): HPFAR_EL2 \(hex(m.hpfar)) + FAR[11:0] names \(report.ipa.map { "\($0)" } ?? "nothing"), expected \(hex(want.address))"
            )
        }
        // SPSR_EL2.M[3:0] = 0b0101 (EL1h): the state the nested guest's op interpreter runs in.
        if m.spsr & 0xF != 0b0101 { bad.append("\(at): SPSR_EL2.M = \(m.spsr & 0xF), expected EL1h (0b0101)") }
        // The harness's software walk of the same tables must agree with the hardware.
        guard want.checkSoftwareWalk, let walk else { return bad }
        let access: Stage2Access =
            switch want.access {
            case .fetch: .fetch
            case .data(_, let w, _, _): w ? .write : .read
            }
        switch walk(IPA(want.address), access) {
        case .translation(let t):
            bad.append("\(at): the software walk translates it (to \(t.outputAddress)) but the hardware faulted")
        case .fault(let f):
            if f.statusCode != report.status?.code {
                bad.append("\(at): software walk says \(f), hardware FSC 0x\(String(report.status?.code ?? 0, radix: 16))")
            }
        }
        return bad
    }
}
