/// The 6-bit fault status code of a data or instruction abort (ESR_ELx.ISS.DFSC / IFSC,
/// bits [5:0]), decoded into a kind and, where the code carries one, the translation level.
/// Source: Arm ARM DDI 0487, D24.2 ESR_EL2, "ISS encoding for an exception from a Data Abort",
/// field DFSC, and the IFSC table of the Instruction Abort encoding. The two tables differ:
/// tag check (0x11), alignment (0x21) and the IMPLEMENTATION DEFINED codes (0x34, 0x35) exist
/// only in DFSC. Level -1 codes exist with FEAT_LPA2, level -2 codes with FEAT_D128; level-0
/// access-flag and permission codes with FEAT_LPA2; parity/ECC codes only without FEAT_RAS.
public struct FaultStatus: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case addressSize = "address size"
        case translation
        case accessFlag = "access flag"
        case permission
        case synchronousExternal = "synchronous external abort"
        case synchronousExternalOnWalk = "synchronous external abort on table walk"
        case tagCheck = "tag check"
        case parityOrECC = "parity/ECC error"
        case parityOrECCOnWalk = "parity/ECC error on table walk"
        case alignment
        case granuleProtectionOnWalk = "granule protection on table walk"
        case granuleProtection = "granule protection"
        case tlbConflict = "TLB conflict"
        case unsupportedAtomicUpdate = "unsupported atomic hardware update"

        /// The MMU faults a stage of translation raises itself (translation, address size,
        /// access flag, permission): the only kinds a "stage-2 fault" can be.
        public var isTranslationStageFault: Bool {
            self == .translation || self == .addressSize || self == .accessFlag || self == .permission
        }
        case implementationDefinedLockdown = "IMPLEMENTATION DEFINED (lockdown)"
        case implementationDefinedAtomic = "IMPLEMENTATION DEFINED (unsupported exclusive/atomic)"
        case reserved
    }

    public let code: UInt8
    public let kind: Kind
    /// Translation level the fault was detected at, when the code names one.
    public let level: Int?

    /// Whether the code was read from an instruction abort's IFSC (else a data abort's DFSC).
    public let isInstructionFetch: Bool

    public init(code raw: UInt8, instructionFetch: Bool = false) {
        let code = raw & 0x3F
        self.code = code
        self.isInstructionFetch = instructionFetch
        let low2 = Int(code & 0x3)
        switch code {
        case 0x00...0x03: (kind, level) = (.addressSize, low2)
        case 0x04...0x07: (kind, level) = (.translation, low2)
        case 0x08...0x0B: (kind, level) = (.accessFlag, low2)
        case 0x0C...0x0F: (kind, level) = (.permission, low2)
        case 0x10: (kind, level) = (.synchronousExternal, nil)
        case 0x11 where !instructionFetch: (kind, level) = (.tagCheck, nil)
        case 0x12: (kind, level) = (.synchronousExternalOnWalk, -2)
        case 0x13: (kind, level) = (.synchronousExternalOnWalk, -1)
        case 0x14...0x17: (kind, level) = (.synchronousExternalOnWalk, low2)
        case 0x18: (kind, level) = (.parityOrECC, nil)
        case 0x1B: (kind, level) = (.parityOrECCOnWalk, -1)
        case 0x1C...0x1F: (kind, level) = (.parityOrECCOnWalk, low2)
        case 0x21 where !instructionFetch: (kind, level) = (.alignment, nil)
        case 0x22: (kind, level) = (.granuleProtectionOnWalk, -2)
        case 0x23: (kind, level) = (.granuleProtectionOnWalk, -1)
        case 0x24...0x27: (kind, level) = (.granuleProtectionOnWalk, low2)
        case 0x28: (kind, level) = (.granuleProtection, nil)
        case 0x29: (kind, level) = (.addressSize, -1)
        case 0x2A: (kind, level) = (.translation, -2)
        case 0x2B: (kind, level) = (.translation, -1)
        case 0x2C: (kind, level) = (.addressSize, -2)
        case 0x30: (kind, level) = (.tlbConflict, nil)
        case 0x31: (kind, level) = (.unsupportedAtomicUpdate, nil)
        case 0x34 where !instructionFetch: (kind, level) = (.implementationDefinedLockdown, nil)
        case 0x35 where !instructionFetch: (kind, level) = (.implementationDefinedAtomic, nil)
        default: (kind, level) = (.reserved, nil)
        }
    }

    /// The code for a kind at a level, the inverse of `init(code:)` for the
    /// level-carrying kinds (address size, translation, access flag, permission, SEA/ECC on walk).
    public static func code(_ kind: Kind, level: Int, instructionFetch: Bool = false) -> UInt8? {
        for c in UInt8(0)...0x3F {
            let s = FaultStatus(code: c, instructionFetch: instructionFetch)
            if s.kind == kind && s.level == level { return c }
        }
        return nil
    }

    /// "translation fault, level 3", "alignment fault", "granule protection fault on table walk,
    /// level -2", "reserved fault status code" — the Arm ARM's names.
    public var longDescription: String {
        let base: String
        switch kind {
        case .reserved: return "reserved \(isInstructionFetch ? "IFSC" : "DFSC") value"
        case .synchronousExternal, .synchronousExternalOnWalk, .parityOrECC, .parityOrECCOnWalk, .tlbConflict: base = kind.rawValue
        case .implementationDefinedLockdown: base = "IMPLEMENTATION DEFINED fault (lockdown)"
        case .implementationDefinedAtomic: base = "IMPLEMENTATION DEFINED fault (unsupported exclusive or atomic access)"
        case .granuleProtectionOnWalk: base = "granule protection fault on table walk"
        case .tagCheck: base = "synchronous tag check fault"
        default: base = kind.rawValue + " fault"
        }
        return level.map { base + ", level \($0)" } ?? base
    }

    /// "translation L3", "access flag L1", "alignment", "reserved 0x3e".
    public var description: String {
        if kind == .reserved { return "reserved FSC 0x" + hex2(code) }
        if let level { return "\(kind.rawValue) L\(level)" }
        return kind.rawValue
    }
}

@inline(__always) func hex2(_ v: UInt8) -> String {
    let s = String(v, radix: 16)
    return s.count < 2 ? "0" + s : s
}
