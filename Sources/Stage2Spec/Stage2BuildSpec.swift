import Stage2

/// The `harness stage2 build` spec, validated.
public struct Stage2BuildSpec {
    public enum Op: Sendable {
        case map(ipa: UInt64, pa: UInt64, size: UInt64, attributes: Stage2Attributes)
        case unmap(ipa: UInt64, size: UInt64)
        case protectPermissions(ipa: UInt64, size: UInt64, permissions: Stage2Permissions)
        case protectAttributes(ipa: UInt64, size: UInt64, attributes: Stage2Attributes)
    }
    public var granule: Granule
    public var ipaBits: Int
    public var vmid: UInt16
    public var tableBase: UInt64
    public var tableBytes: UInt64
    public var blocks: Bool
    public var startLevel: Int?
    public var outputBits: Int?
    /// VTCR_EL2.DS = 1: FEAT_LPA2's descriptor format (4k/16k, with outputBits 52).
    public var lpa2: Bool
    public var ops: [Op]

    /// Largest pool the tool accepts (it is held in host memory and written out).
    public static let maximumTableBytes: UInt64 = 1 << 30
    static let topKeys = ["granule", "ipaBits", "vmid", "tableBase", "tableBytes", "blocks", "ops", "startLevel", "outputBits", "lpa2"]

    public init(json bytes: [UInt8]) throws {
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw SpecError(field: "", problem: error.description) }
        guard case .object(let top) = root else {
            throw SpecError(field: "", problem: "the spec must be a JSON object, not \(root.typeName)")
        }
        for (k, _) in top where !Self.topKeys.contains(k) {
            throw SpecError(
                field: JSONParser.isPlainKey(k) ? k : "",
                problem: "unknown key \(JSONParser.quoted(k)) (known: \(Self.topKeys.joined(separator: ", ")))")
        }
        func field(_ k: String) -> JSONValue? { top.first { $0.0 == k }?.1 }
        func require(_ k: String) throws -> JSONValue {
            guard let v = field(k) else { throw SpecError(field: k, problem: "missing") }
            return v
        }

        guard case .string(let g) = try require("granule") else {
            throw SpecError(field: "granule", problem: "must be a string: \"4k\", \"16k\" or \"64k\"")
        }
        guard let granule = Granule(specName: g) else {
            throw SpecError(field: "granule", problem: "\(JSONParser.quoted(g)) is not one of \"4k\", \"16k\", \"64k\"")
        }
        self.granule = granule

        ipaBits = try Self.integer(try require("ipaBits"), "ipaBits", 32...48)
        vmid = UInt16(try field("vmid").map { try Self.integer($0, "vmid", 0...255) } ?? 0)
        blocks =
            try field("blocks").map { v -> Bool in
                guard case .bool(let b) = v else { throw SpecError(field: "blocks", problem: "must be true or false, not \(v.typeName)") }
                return b
            } ?? true
        startLevel = try field("startLevel").map { try Self.integer($0, "startLevel", 0...3) }
        outputBits = try field("outputBits").map { v in
            let b = try Self.integer(v, "outputBits", 32...52)
            guard PhysicalAddressSize.encoding(bits: b) != nil else {
                throw SpecError(field: "outputBits", problem: "\(b) is not a VTCR_EL2.PS size (32, 36, 40, 42, 44, 48, 52)")
            }
            return b
        }
        lpa2 =
            try field("lpa2").map { v -> Bool in
                guard case .bool(let b) = v else { throw SpecError(field: "lpa2", problem: "must be true or false, not \(v.typeName)") }
                return b
            } ?? false
        if lpa2 && granule == .k64 {
            throw SpecError(field: "lpa2", problem: "VTCR_EL2.DS (FEAT_LPA2) applies to the 4k and 16k granules only")
        }
        if outputBits == 52 && granule != .k64 && !lpa2 {
            throw SpecError(field: "outputBits", problem: "52 bits with the \(granule) granule needs \"lpa2\": true (VTCR_EL2.DS)")
        }
        let widest = outputBits ?? (lpa2 ? 52 : 48)
        if let l = startLevel {
            guard Stage2Geometry.isValidStartLevel(l, granule: granule),
                Stage2Geometry.isConsistent(granule: granule, ipaBits: ipaBits, startLevel: l)
            else {
                throw SpecError(
                    field: "startLevel",
                    problem:
                        "level \(l) is not valid for a \(granule) granule with a \(ipaBits)-bit IPA (AArch64.S2InvalidSL/S2InconsistentSL)")
            }
        }
        let outputLimit: UInt64 = 1 << UInt64(widest)

        tableBase = try Self.address(try require("tableBase"), "tableBase")
        guard tableBase % granule.bytes == 0 else {
            throw SpecError(field: "tableBase", problem: "\(stage2Hex(tableBase)) is not aligned to the \(granule) granule")
        }
        tableBytes = try Self.address(try require("tableBytes"), "tableBytes")
        guard tableBytes != 0 else { throw SpecError(field: "tableBytes", problem: "is zero") }
        guard tableBytes % granule.bytes == 0 else {
            throw SpecError(field: "tableBytes", problem: "\(stage2Hex(tableBytes)) is not a multiple of the \(granule) granule")
        }
        guard tableBytes <= Self.maximumTableBytes else {
            throw SpecError(
                field: "tableBytes", problem: "\(stage2Hex(tableBytes)) exceeds this tool's limit of \(stage2Hex(Self.maximumTableBytes))")
        }
        guard tableBase <= outputLimit - tableBytes else {
            throw SpecError(
                field: "tableBase",
                problem: "the pool \(stage2Hex(tableBase))+\(stage2Hex(tableBytes)) ends beyond the \(widest)-bit output size")
        }

        guard case .array(let items) = try require("ops") else { throw SpecError(field: "ops", problem: "must be an array") }
        let ipaLimit: UInt64 = 1 << UInt64(ipaBits)
        var ops: [Op] = []
        for (n, item) in items.enumerated() {
            let name = "ops[\(n)]"
            guard case .object(let o) = item else { throw SpecError(field: name, problem: "must be an object, not \(item.typeName)") }
            func f(_ k: String) -> JSONValue? { o.first { $0.0 == k }?.1 }
            func req(_ k: String) throws -> JSONValue {
                guard let v = f(k) else { throw SpecError(field: "\(name).\(k)", problem: "missing") }
                return v
            }
            guard case .string(let kind) = try req("op") else {
                throw SpecError(field: "\(name).op", problem: "must be \"map\", \"unmap\" or \"protect\"")
            }
            let allowed: [String]
            switch kind {
            case "map": allowed = ["op", "ipa", "pa", "size", "perm", "memory", "af", "contiguous"]
            case "unmap": allowed = ["op", "ipa", "size"]
            case "protect": allowed = ["op", "ipa", "size", "perm", "memory", "af"]
            default:
                throw SpecError(field: "\(name).op", problem: "\(JSONParser.quoted(kind)) is not one of \"map\", \"unmap\", \"protect\"")
            }
            for (k, _) in o where !allowed.contains(k) {
                throw SpecError(
                    field: JSONParser.isPlainKey(k) ? "\(name).\(k)" : name,
                    problem: "unknown key \(JSONParser.quoted(k)) for \"\(kind)\" (known: \(allowed.joined(separator: ", ")))")
            }
            let ipa = try Self.address(try req("ipa"), "\(name).ipa")
            let size = try Self.address(try req("size"), "\(name).size")
            guard size != 0 else { throw SpecError(field: "\(name).size", problem: "is zero") }
            guard size % granule.bytes == 0 else {
                throw SpecError(field: "\(name).size", problem: "\(stage2Hex(size)) is not a multiple of the \(granule) granule")
            }
            guard ipa % granule.bytes == 0 else {
                throw SpecError(field: "\(name).ipa", problem: "\(stage2Hex(ipa)) is not aligned to the \(granule) granule")
            }
            guard ipa < ipaLimit, size <= ipaLimit - ipa else {
                throw SpecError(
                    field: "\(name).ipa", problem: "\(stage2Hex(ipa))+\(stage2Hex(size)) is beyond the \(ipaBits)-bit IPA space")
            }
            func permissions() throws -> Stage2Permissions {
                guard case .string(let letters) = try req("perm") else {
                    throw SpecError(field: "\(name).perm", problem: "must be a string of the letters r, w, x")
                }
                guard let p = Stage2Permissions(letters: letters) else {
                    throw SpecError(
                        field: "\(name).perm",
                        problem: "\(JSONParser.quoted(letters)) is not a subset of \"rwx\" (each letter at most once)")
                }
                return p
            }
            func memory() throws -> Stage2MemoryType {
                guard let v = f("memory") else { return .normal }
                guard case .string(let m) = v else { throw SpecError(field: "\(name).memory", problem: "must be \"normal\" or \"device\"") }
                switch m {
                case "normal": return .normal
                case "device", "device-nGnRE": return .deviceNGnRE
                case "device-nGnRnE": return .deviceNGnRnE
                default:
                    throw SpecError(
                        field: "\(name).memory", problem: "\(JSONParser.quoted(m)) is not \"normal\" or \"device\" (or \"device-nGnRnE\")")
                }
            }
            func flag(_ k: String, _ d: Bool) throws -> Bool {
                guard let v = f(k) else { return d }
                guard case .bool(let b) = v else { throw SpecError(field: "\(name).\(k)", problem: "must be true or false") }
                return b
            }
            switch kind {
            case "map":
                let pa = try Self.address(try req("pa"), "\(name).pa")
                guard pa % granule.bytes == 0 else {
                    throw SpecError(field: "\(name).pa", problem: "\(stage2Hex(pa)) is not aligned to the \(granule) granule")
                }
                guard pa < outputLimit, size <= outputLimit - pa else {
                    throw SpecError(field: "\(name).pa", problem: "\(stage2Hex(pa))+\(stage2Hex(size)) is beyond \(widest) bits")
                }
                let a = Stage2Attributes(
                    permissions: try permissions(), memory: try memory(), accessFlag: try flag("af", true),
                    contiguous: try flag("contiguous", false))
                ops.append(.map(ipa: ipa, pa: pa, size: size, attributes: a))
            case "unmap":
                ops.append(.unmap(ipa: ipa, size: size))
            default:
                let p = try permissions()
                if f("memory") != nil || f("af") != nil {
                    ops.append(
                        .protectAttributes(
                            ipa: ipa, size: size,
                            attributes: Stage2Attributes(
                                permissions: p, memory: try memory(), accessFlag: try flag("af", true))))
                } else {
                    ops.append(.protectPermissions(ipa: ipa, size: size, permissions: p))
                }
            }
        }
        self.ops = ops
    }

    static func integer(_ v: JSONValue, _ field: String, _ range: ClosedRange<Int>) throws -> Int {
        guard case .number(let text) = v, isDecimalInteger(text), let n = Int(text) else {
            let got = if case .number(let t) = v { JSONParser.cut(t) } else { v.typeName }
            throw SpecError(field: field, problem: "must be an integer in \(range.lowerBound)...\(range.upperBound), not \(got)")
        }
        guard range.contains(n) else { throw SpecError(field: field, problem: "\(n) is outside \(range.lowerBound)...\(range.upperBound)") }
        return n
    }

    /// A 64-bit address or size: "0x…" hex string or a non-negative JSON integer.
    static func address(_ v: JSONValue, _ field: String) throws -> UInt64 {
        switch v {
        case .string(let s):
            let digits = s.utf8.dropFirst(2)
            guard s.hasPrefix("0x") || s.hasPrefix("0X"), !digits.isEmpty,
                digits.allSatisfy({
                    UInt8(ascii: "0") <= $0 && $0 <= UInt8(ascii: "9") || UInt8(ascii: "a") <= $0 && $0 <= UInt8(ascii: "f")
                        || UInt8(ascii: "A") <= $0 && $0 <= UInt8(ascii: "F")
                })
            else {
                throw SpecError(
                    field: field, problem: "\(JSONParser.quoted(s)) is not a hex number like \"0x1000\" (0x and hex digits only)")
            }
            guard let n = UInt64(String(decoding: digits, as: UTF8.self), radix: 16) else {
                throw SpecError(field: field, problem: "\(JSONParser.quoted(s)) does not fit in 64 bits")
            }
            return n
        case .number(let text):
            guard isDecimalInteger(text), !text.hasPrefix("-"), let n = UInt64(text) else {
                throw SpecError(field: field, problem: "\(JSONParser.cut(text)) is not a non-negative 64-bit integer")
            }
            return n
        default:
            throw SpecError(field: field, problem: "must be a hex string like \"0x1000\", not \(v.typeName)")
        }
    }
}

/// A JSON number without fraction or exponent (the reader has checked the rest of the grammar).
private func isDecimalInteger(_ text: String) -> Bool {
    text.utf8.allSatisfy { $0 == UInt8(ascii: "-") || (UInt8(ascii: "0") <= $0 && $0 <= UInt8(ascii: "9")) }
}

public func stage2Hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
