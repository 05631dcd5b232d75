/// The 6-bit fault status code of a data or instruction abort (ESR_ELx.ISS.DFSC / IFSC,
/// bits [5:0]), decoded into a kind and, where the code carries one, the translation level.
/// Source: Arm ARM DDI 0487, D24.2 ESR_EL2, "ISS encoding for an exception from a Data Abort",
/// field DFSC, and the IFSC table of the Instruction Abort encoding. Levels -1 and -2 exist
/// only with FEAT_LPA2 / FEAT_D128; level-0 access-flag and permission codes with FEAT_LPA2.
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
        case granuleProtectionOnWalk = "granule protection fault on table walk"
        case granuleProtection = "granule protection fault"
        case tlbConflict = "TLB conflict"
        case unsupportedAtomicUpdate = "unsupported atomic hardware update"
        case implementationDefinedLockdown = "IMPLEMENTATION DEFINED (lockdown)"
        case implementationDefinedAtomic = "IMPLEMENTATION DEFINED (unsupported exclusive/atomic)"
        case reserved
    }

    public let code: UInt8
    public let kind: Kind
    /// Translation level the fault was detected at, when the code names one.
    public let level: Int?

    public init(code raw: UInt8) {
        let code = raw & 0x3F
        self.code = code
        let low2 = Int(code & 0x3)
        switch code {
        case 0x00...0x03: (kind, level) = (.addressSize, low2)
        case 0x04...0x07: (kind, level) = (.translation, low2)
        case 0x08...0x0B: (kind, level) = (.accessFlag, low2)
        case 0x0C...0x0F: (kind, level) = (.permission, low2)
        case 0x10: (kind, level) = (.synchronousExternal, nil)
        case 0x11: (kind, level) = (.tagCheck, nil)
        case 0x13: (kind, level) = (.synchronousExternalOnWalk, -1)
        case 0x14...0x17: (kind, level) = (.synchronousExternalOnWalk, low2)
        case 0x18: (kind, level) = (.parityOrECC, nil)
        case 0x1B: (kind, level) = (.parityOrECCOnWalk, -1)
        case 0x1C...0x1F: (kind, level) = (.parityOrECCOnWalk, low2)
        case 0x21: (kind, level) = (.alignment, nil)
        case 0x23: (kind, level) = (.granuleProtectionOnWalk, -1)
        case 0x24...0x27: (kind, level) = (.granuleProtectionOnWalk, low2)
        case 0x28: (kind, level) = (.granuleProtection, nil)
        case 0x29: (kind, level) = (.addressSize, -1)
        case 0x2A: (kind, level) = (.translation, -2)
        case 0x2B: (kind, level) = (.translation, -1)
        case 0x2C: (kind, level) = (.addressSize, -2)
        case 0x30: (kind, level) = (.tlbConflict, nil)
        case 0x31: (kind, level) = (.unsupportedAtomicUpdate, nil)
        case 0x34: (kind, level) = (.implementationDefinedLockdown, nil)
        case 0x35: (kind, level) = (.implementationDefinedAtomic, nil)
        default: (kind, level) = (.reserved, nil)
        }
    }

    /// The code for a kind at a level, the inverse of `init(code:)` for the
    /// level-carrying kinds (address size, translation, access flag, permission, SEA/ECC on walk).
    public static func code(_ kind: Kind, level: Int) -> UInt8? {
        for c in UInt8(0)...0x3F {
            let s = FaultStatus(code: c)
            if s.kind == kind && s.level == level { return c }
        }
        return nil
    }

    /// "translation fault, level 3", "alignment fault", "reserved fault status code".
    public var longDescription: String {
        if kind == .reserved { return "reserved fault status code" }
        let base = kind == .synchronousExternal || kind == .synchronousExternalOnWalk || kind.rawValue.hasSuffix("error")
            || kind == .tlbConflict || kind.rawValue.hasPrefix("IMPLEMENTATION") ? kind.rawValue : kind.rawValue + " fault"
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
