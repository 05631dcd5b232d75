/// A trap as the guest hypervisor saw it — ESR_EL2, FAR_EL2 and (optionally) HPFAR_EL2 —
/// rendered raw and decoded. `oneLine` is the harness's fault-line format:
/// `stage-2 fault: translation L3, read (64-bit into x11), IPA 0x50000000 (HPFAR 0x8000000000500000) FAR 0x50000000 ESR 0x93cb8007 [DABT_LOW IL ISV SAS=3 SRT=11 SF DFSC=0x07]`
public struct FaultReport: Hashable, Sendable {
    public let esr: ESR
    public let far: UInt64?
    public let hpfar: HPFAR?

    public init(esr: UInt64, far: UInt64? = nil, hpfar: UInt64? = nil) {
        self.esr = ESR(esr)
        self.far = far
        self.hpfar = hpfar.map(HPFAR.init)
    }

    /// The faulting status, for aborts.
    public var status: FaultStatus? { esr.dataAbort?.status ?? esr.instructionAbort?.status }

    /// Whether the ISS says this abort came from stage 2 of a stage-1 table walk.
    public var s1ptw: Bool { esr.dataAbort?.s1ptw ?? esr.instructionAbort?.s1ptw ?? false }

    /// The faulting IPA: from HPFAR (page) plus FAR[11:0] when FAR is valid and given.
    /// For a fault on a stage-1 table walk (S1PTW) FAR is the VA of the original access and
    /// says nothing about where in the table page the descriptor was, so only the page is known.
    public var ipa: IPA? {
        guard let hpfar else { return nil }
        if let far, esr.farIsValid, !s1ptw { return hpfar.ipa(far: far) }
        return hpfar.pageIPA
    }

    /// True for an abort routed from a lower EL whose status is a translation-stage MMU fault
    /// (translation, address size, access flag, permission): what stage 2 of the guest's
    /// translation (or of its stage-1 walk) raises. External aborts, granule protection
    /// faults, TLB conflicts and reserved codes are not stage-2 faults, whatever the EL.
    public var isStage2Abort: Bool {
        guard esr.exceptionClass == .dataAbortLowerEL || esr.exceptionClass == .instructionAbortLowerEL,
            let s = status
        else { return false }
        return s.kind.isTranslationStageFault
    }

    /// What the access was: "read (64-bit into x11)", "write (32-bit from w12)", "instruction fetch".
    public var accessDescription: String? {
        if esr.instructionAbort != nil { return "instruction fetch" }
        guard let d = esr.dataAbort else { return nil }
        if d.cm { return "cache maintenance" }
        let dir = d.wnr ? "write" : "read"
        guard let reg = d.registerName else { return dir }
        return "\(dir) (\(d.accessBytes * 8)-bit \(d.wnr ? "from" : "into") \(reg))"
    }

    /// The bracketed flag list: EC mnemonic, then the ISS fields that are set, in bit order.
    public var flags: String {
        var f: [String] = [esr.exceptionClass?.mnemonic ?? "EC=0x" + hex2(esr.ecBits)]
        if esr.il { f.append("IL") }
        if let d = esr.dataAbort {
            if d.isv {
                f.append("ISV")
                f.append("SAS=\(d.sas)")
                if d.sse { f.append("SSE") }
                f.append("SRT=\(d.srt)")
                if d.sf { f.append("SF") }
                if d.ar { f.append("AR") }
            }
            if d.vncr { f.append("VNCR") }
            if d.setOrLST != 0 { f.append("SET=\(d.setOrLST)") }
            if d.fnv { f.append("FnV") }
            if d.ea { f.append("EA") }
            if d.cm { f.append("CM") }
            if d.s1ptw { f.append("S1PTW") }
            if d.wnr { f.append("WnR") }
            f.append("DFSC=0x" + hex2(d.status.code))
            f.append(contentsOf: d.iss2Flags)
        } else if let i = esr.instructionAbort {
            if i.set != 0 { f.append("SET=\(i.set)") }
            if i.fnv { f.append("FnV") }
            if i.ea { f.append("EA") }
            if i.s1ptw { f.append("S1PTW") }
            f.append("IFSC=0x" + hex2(i.status.code))
        } else if let imm = esr.immediate {
            f.append("imm=0x" + String(imm, radix: 16))
        } else if let smc = esr.smcAArch32 {
            if smc.cv {
                f.append("CV")
                f.append("COND=0x" + String(smc.cond, radix: 16))
            }
            if smc.ccKnownPass { f.append("CCKNOWNPASS") }
        } else if let s = esr.systemRegisterTrap {
            f.append(s.encodingName)
            f.append(s.isRead ? "read" : "write")
            f.append("Rt=\(s.rt)")
        } else {
            f.append("ISS=0x" + String(esr.iss, radix: 16))
        }
        return "[" + f.joined(separator: " ") + "]"
    }

    /// One line, raw and decoded.
    public var oneLine: String {
        var head: String
        var parts: [String] = []
        if let status {
            if isStage2Abort {
                head = s1ptw ? "stage-2 fault on stage-1 walk" : "stage-2 fault"
            } else {
                head = esr.exceptionClass?.isDataAbort == true ? "data abort" : "instruction abort"
            }
            head += ": " + status.description
            if let a = accessDescription { head += ", " + a }
        } else if let ec = esr.exceptionClass {
            head = ec.summary
            if let imm = esr.immediate { head += " #0x" + String(imm, radix: 16) }
            if let s = esr.systemRegisterTrap { head += " (\(s.isRead ? "MRS" : "MSR") \(s.encodingName), Rt=\(s.rt))" }
        } else {
            head = "unallocated EC 0x" + hex2(esr.ecBits)
        }
        if let hpfar {
            if let ipa { parts.append("IPA \(ipa) (HPFAR \(hpfar))") } else { parts.append("HPFAR \(hpfar)") }
        }
        if let far {
            parts.append(esr.farIsValid ? "FAR " + hex(far) : "FAR not valid (" + hex(far) + ")")
        }
        parts.append("ESR \(esr)")
        return head + ", " + parts.joined(separator: " ") + " " + flags
    }

    /// A field-by-field explanation, one field per line, for `harness decode`.
    public var explanation: String {
        var out: [String] = []
        out.append("ESR   \(esr)")
        if let ec = esr.exceptionClass {
            out.append("  EC    0x\(hex2(esr.ecBits)) \(ec.mnemonic): \(ec.summary)")
        } else {
            out.append("  EC    0x\(hex2(esr.ecBits)) unallocated exception class")
        }
        out.append("  IL    \(esr.il ? 1 : 0) (\(esr.il ? "32-bit" : "16-bit") instruction)")
        out.append("  ISS   0x\(String(esr.iss, radix: 16))")
        if esr.iss2 != 0 { out.append("  ISS2  0x\(String(esr.iss2, radix: 16))") }
        if esr.res0Bits != 0 { out.append("  warning: RES0 bits [63:56] are set (0x\(String(esr.res0Bits, radix: 16)))") }
        func row(_ name: String, _ value: some BinaryInteger, _ note: String = "") {
            let pad = String(repeating: " ", count: max(1, 6 - name.count))
            out.append("    \(name)\(pad)\(value)" + (note.isEmpty ? "" : "  (\(note))"))
        }
        if let d = esr.dataAbort {
            row("ISV", d.isv ? 1 : 0, d.isv ? "SAS/SSE/SRT/SF/AR valid" : "no instruction syndrome")
            if d.isv {
                row("SAS", d.sas, ["byte", "halfword", "word", "doubleword"][Int(d.sas)] + ", \(d.accessBytes) bytes")
                row("SSE", d.sse ? 1 : 0, d.sse ? "sign-extend" : "")
                row("SRT", d.srt, d.registerName ?? "")
                row("SF", d.sf ? 1 : 0, d.sf ? "64-bit register" : "32-bit register")
                row("AR", d.ar ? 1 : 0, d.ar ? "acquire/release" : "")
            }
            row("VNCR", d.vncr ? 1 : 0, d.vncr ? "fault on EL2's VNCR_EL2 page" : "")
            row("SET", d.setOrLST)
            row("FnV", d.fnv ? 1 : 0, d.fnv ? "FAR not valid" : "FAR valid")
            row("EA", d.ea ? 1 : 0)
            row("CM", d.cm ? 1 : 0, d.cm ? "cache maintenance / AT" : "")
            row("S1PTW", d.s1ptw ? 1 : 0, d.s1ptw ? "stage-2 fault on a stage-1 table walk" : "")
            row("WnR", d.wnr ? 1 : 0, d.wnr ? "write" : "read")
            out.append("    DFSC  0x\(hex2(d.status.code))  (\(d.status.longDescription))")
            if !d.iss2Flags.isEmpty { out.append("    ISS2  " + d.iss2Flags.joined(separator: " ")) }
        } else if let i = esr.instructionAbort {
            row("SET", i.set)
            row("FnV", i.fnv ? 1 : 0, i.fnv ? "FAR not valid" : "FAR valid")
            row("EA", i.ea ? 1 : 0)
            row("S1PTW", i.s1ptw ? 1 : 0, i.s1ptw ? "stage-2 fault on a stage-1 table walk" : "")
            out.append("    IFSC  0x\(hex2(i.status.code))  (\(i.status.longDescription))")
        } else if let imm = esr.immediate {
            out.append("    imm16 0x\(String(imm, radix: 16))")
        } else if let smc = esr.smcAArch32 {
            row("CV", smc.cv ? 1 : 0, smc.cv ? "COND valid" : "COND not valid")
            row("COND", smc.cond)
            row("CCKNOWNPASS", smc.ccKnownPass ? 1 : 0, smc.ccKnownPass ? "passed its condition check" : "")
        } else if let s = esr.systemRegisterTrap {
            out.append(
                "    \(s.isRead ? "MRS" : "MSR") \(s.encodingName) Rt=\(s.rt)  (Op0=\(s.op0) Op1=\(s.op1) CRn=\(s.crn) CRm=\(s.crm) Op2=\(s.op2))"
            )
        }
        if let far {
            out.append("FAR   \(hex(far))  (\(esr.farIsValid ? "valid" : "not valid for this exception"))")
        }
        if let hpfar {
            out.append("HPFAR \(hpfar)")
            out.append(
                "  NS    \(hpfar.ns ? 1 : 0)  (bit 63; \(hpfar.ns ? "Non-secure IPA space" : "Secure IPA space or not implemented"))")
            out.append("  FIPA  0x\(String(hpfar.fipa, radix: 16))  (IPA[55:12] -> page \(hpfar.pageIPA))")
            if hpfar.res0Bits != 0 { out.append("  warning: RES0 bits set (0x\(String(hpfar.res0Bits, radix: 16)))") }
            if let ipa {
                out.append(
                    "  IPA   \(ipa)"
                        + (far != nil && esr.farIsValid && !s1ptw
                            ? "  (FIPA << 12 | FAR[11:0])"
                            : s1ptw
                                ? "  (page of the stage-1 table: FAR is the VA of the original access)"
                                : "  (page only: FAR not given or not valid)"))
            }
            if let s = status, !(s.kind == .translation || s.kind == .accessFlag || s.kind == .addressSize || s1ptw) {
                out.append(
                    "  note: HPFAR_EL2 is architecturally written for stage-2 translation, access-flag and address-size faults and faults on a stage-1 walk; for this fault kind KVM does not rely on it"
                )
            }
        }
        out.append("summary: " + oneLine)
        return out.joined(separator: "\n")
    }
}

@inline(__always) func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
