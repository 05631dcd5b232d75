import Stage2
import Stage2Spec

/// One IPA of `stage2 walk --json`: the translation, or the fault with its status code.
struct Stage2WalkRecord: Encodable {
    var ipa: String
    var pa: String?
    var level: Int
    var size: String?
    var perm: String?
    var memory: String?
    var shareability: String?
    var af: Bool?
    var contiguous: Bool?
    var descriptor: String?
    var fault: String?
    var fsc: String?
    var access: String?

    init(ipa: UInt64, _ t: Stage2Translation) {
        let a = t.attributes
        self.ipa = stage2Hex(ipa)
        (pa, level, size) = (stage2Hex(t.outputAddress.rawValue), t.level, stage2Hex(t.blockSize))
        (perm, memory, shareability) = (a.permissions.letters, a.memory.jsonName, a.shareability.jsonName)
        (af, contiguous, descriptor) = (a.accessFlag, a.contiguous, stage2Hex(t.descriptor))
    }

    init(ipa: UInt64, _ f: Stage2Fault, access: String) {
        self.ipa = stage2Hex(ipa)
        fault =
            switch f.kind {
            case .translation: "translation"
            case .addressSize: "addressSize"
            case .accessFlag: "accessFlag"
            case .permission: "permission"
            case .externalAbortOnWalk: "externalAbortOnWalk"
            }
        (level, fsc, self.access) = (f.level, stage2Hex(UInt64(f.statusCode)), access)
    }
}
