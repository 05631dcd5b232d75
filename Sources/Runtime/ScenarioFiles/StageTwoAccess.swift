import Stage2

/// The words scenario files use for stage-2 attributes.
enum StageTwoAccess {
    /// "r", "w" and "x" letters in this order, each at most once; "" is no access. "x" is
    /// executable at EL1 and EL0 (XN = 0b00); "x1" only at EL1 (XN = 0b11, FEAT_XNX) and "x0"
    /// only at EL0 (XN = 0b01, FEAT_XNX); without an x the page is never executable (0b10).
    /// Arm ARM D8.4 (stage 2 access permissions and execute-never).
    static func permissions(_ s: String) -> Stage2Permissions? {
        var rest = Substring(s)
        var p: Stage2Permissions = []
        if rest.hasPrefix("r") {
            p.insert(.read)
            rest = rest.dropFirst()
        }
        if rest.hasPrefix("w") {
            p.insert(.write)
            rest = rest.dropFirst()
        }
        switch rest {
        case "": break
        case "x": p.formUnion(.execute)
        case "x1": p.insert(.executeEL1)
        case "x0": p.insert(.executeEL0)
        default: return nil
        }
        return p
    }

    static func expected(_ s: String) -> String {
        "access '\(s)'; expected the letters r, w, x in that order (\"rwx\", \"rw\", \"r\", \"\"), or x1/x0 for execute at EL1/EL0 only"
    }

    static func memoryType(_ s: String) -> Stage2MemoryType? {
        switch s {
        case "normal": .normal
        case "device-nGnRE": .deviceNGnRE
        case "device-nGnRnE": .deviceNGnRnE
        default: nil
        }
    }

    /// `access` (default "rwx") and `memory` (default "normal") of a mapping or region, each
    /// checked against what the builder understands.
    static func decode<K: CodingKey>(_ c: KeyedDecodingContainer<K>, access: K, memory: K) throws -> (String, String) {
        let a = try c.decodeIfPresent(String.self, forKey: access) ?? "rwx"
        guard permissions(a) != nil else {
            throw DecodingError.dataCorruptedError(forKey: access, in: c, debugDescription: expected(a))
        }
        let m = try c.decodeIfPresent(String.self, forKey: memory) ?? "normal"
        guard memoryType(m) != nil else {
            throw DecodingError.dataCorruptedError(
                forKey: memory, in: c,
                debugDescription: "memory '\(m)'; expected \"normal\", \"device-nGnRE\" or \"device-nGnRnE\"")
        }
        return (a, m)
    }
}
