import Stage2

/// A strict JSON reader for stage-2 specs: objects keep key order and reject duplicate keys;
/// numbers are kept as their source text so integers are checked exactly.
enum JSONValue: Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(x), .array(y)): x == y
        case let (.string(x), .string(y)), let (.number(x), .number(y)): x == y
        case let (.bool(x), .bool(y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    var typeName: String {
        switch self {
        case .object: "an object"; case .array: "an array"; case .string: "a string"
        case .number: "a number"; case .bool: "a boolean"; case .null: "null"
        }
    }
}

struct JSONParseError: Error, CustomStringConvertible {
    var message: String
    var offset: Int
    var description: String { "invalid JSON at byte \(offset): \(message)" }
}

struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var p = JSONParser(bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.bytes.count else { throw JSONParseError(message: "trailing characters", offset: p.i) }
        return v
    }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }
    func fail(_ m: String) -> JSONParseError { JSONParseError(message: m, offset: i) }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 64 else { throw fail("nested too deeply") }
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(String, JSONValue)] = []
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key string") }
                let key = try string()
                if members.contains(where: { $0.0 == key }) { throw fail("duplicate key \"\(key)\"") }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end in object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end in array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            let start = i
            while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
            guard i > start else { throw fail("unexpected character") }
            return .number(String(decoding: bytes[start..<i], as: UTF8.self))
        }
    }

    mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("unexpected literal") }
        i += w.count
    }

    mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
            if c < 0x20 { throw fail("control character in string") }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { break }
                switch bytes[i] {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard i + 4 < bytes.count, let v = UInt32(String(decoding: bytes[i + 1...i + 4], as: UTF8.self), radix: 16),
                          let s = Unicode.Scalar(v) else { throw fail("bad \\u escape") }
                    out.append(contentsOf: Array(String(Character(s)).utf8))
                    i += 4
                default: throw fail("bad escape")
                }
                i += 1
                continue
            }
            out.append(c)
            i += 1
        }
        throw fail("unterminated string")
    }
}

/// A validation failure naming the spec field, e.g. `ops[1].size`.
struct SpecError: Error, CustomStringConvertible {
    var field: String
    var problem: String
    var description: String { field.isEmpty ? problem : "\(field): \(problem)" }
}

/// The `harness stage2 build` spec, validated.
struct Stage2BuildSpec {
    enum Op {
        case map(ipa: UInt64, pa: UInt64, size: UInt64, attributes: Stage2Attributes)
        case unmap(ipa: UInt64, size: UInt64)
        case protectPermissions(ipa: UInt64, size: UInt64, permissions: Stage2Permissions)
        case protectAttributes(ipa: UInt64, size: UInt64, attributes: Stage2Attributes)
    }
    var granule: Granule
    var ipaBits: Int
    var vmid: UInt16
    var tableBase: UInt64
    var tableBytes: UInt64
    var blocks: Bool
    var startLevel: Int?
    var outputBits: Int?
    var ops: [Op]

    /// Largest pool the tool accepts (it is held in host memory and written out).
    static let maximumTableBytes: UInt64 = 1 << 30
    static let topKeys = ["granule", "ipaBits", "vmid", "tableBase", "tableBytes", "blocks", "ops", "startLevel", "outputBits"]

    init(json bytes: [UInt8]) throws {
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw SpecError(field: "", problem: "\(error)") }
        guard case .object(let top) = root else { throw SpecError(field: "", problem: "the spec must be a JSON object, not \(root.typeName)") }
        for (k, _) in top where !Self.topKeys.contains(k) {
            throw SpecError(field: k, problem: "unknown key (known: \(Self.topKeys.joined(separator: ", ")))")
        }
        func field(_ k: String) -> JSONValue? { top.first { $0.0 == k }?.1 }
        func require(_ k: String) throws -> JSONValue {
            guard let v = field(k) else { throw SpecError(field: k, problem: "missing") }
            return v
        }

        guard case .string(let g) = try require("granule") else { throw SpecError(field: "granule", problem: "must be a string: \"4k\", \"16k\" or \"64k\"") }
        guard let granule = Granule(specName: g) else { throw SpecError(field: "granule", problem: "\"\(g)\" is not one of \"4k\", \"16k\", \"64k\"") }
        self.granule = granule

        ipaBits = try Self.integer(try require("ipaBits"), "ipaBits", 32...48)
        vmid = UInt16(try field("vmid").map { try Self.integer($0, "vmid", 0...255) } ?? 0)
        blocks = try field("blocks").map { v -> Bool in
            guard case .bool(let b) = v else { throw SpecError(field: "blocks", problem: "must be true or false, not \(v.typeName)") }
            return b
        } ?? true
        startLevel = try field("startLevel").map { try Self.integer($0, "startLevel", 0...3) }
        outputBits = try field("outputBits").map { v in
            let b = try Self.integer(v, "outputBits", 32...48)
            guard PhysicalAddressSize.encoding(bits: b) != nil else {
                throw SpecError(field: "outputBits", problem: "\(b) is not a VTCR_EL2.PS size (32, 36, 40, 42, 44, 48)")
            }
            return b
        }
        if let l = startLevel {
            guard Stage2Geometry.isValidStartLevel(l, granule: granule),
                  Stage2Geometry.isConsistent(granule: granule, ipaBits: ipaBits, startLevel: l) else {
                throw SpecError(field: "startLevel", problem: "level \(l) is not valid for a \(granule) granule with a \(ipaBits)-bit IPA (AArch64.S2InvalidSL/S2InconsistentSL)")
            }
        }
        let outputLimit: UInt64 = 1 << UInt64(outputBits ?? 48)

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
            throw SpecError(field: "tableBytes", problem: "\(stage2Hex(tableBytes)) exceeds this tool's limit of \(stage2Hex(Self.maximumTableBytes))")
        }
        guard tableBase <= outputLimit - tableBytes else {
            throw SpecError(field: "tableBase", problem: "the pool \(stage2Hex(tableBase))+\(stage2Hex(tableBytes)) ends beyond the \(outputBits ?? 48)-bit output size")
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
            guard case .string(let kind) = try req("op") else { throw SpecError(field: "\(name).op", problem: "must be \"map\", \"unmap\" or \"protect\"") }
            let allowed: [String]
            switch kind {
            case "map": allowed = ["op", "ipa", "pa", "size", "perm", "memory", "af", "contiguous"]
            case "unmap": allowed = ["op", "ipa", "size"]
            case "protect": allowed = ["op", "ipa", "size", "perm", "memory", "af"]
            default: throw SpecError(field: "\(name).op", problem: "\"\(kind)\" is not one of \"map\", \"unmap\", \"protect\"")
            }
            for (k, _) in o where !allowed.contains(k) {
                throw SpecError(field: "\(name).\(k)", problem: "unknown key for \"\(kind)\" (known: \(allowed.joined(separator: ", ")))")
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
                throw SpecError(field: "\(name).ipa", problem: "\(stage2Hex(ipa))+\(stage2Hex(size)) is beyond the \(ipaBits)-bit IPA space")
            }
            func permissions() throws -> Stage2Permissions {
                guard case .string(let letters) = try req("perm") else {
                    throw SpecError(field: "\(name).perm", problem: "must be a string of the letters r, w, x")
                }
                guard let p = Stage2Permissions(letters: letters) else {
                    throw SpecError(field: "\(name).perm", problem: "\"\(letters)\" is not a subset of \"rwx\" (each letter at most once)")
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
                default: throw SpecError(field: "\(name).memory", problem: "\"\(m)\" is not \"normal\" or \"device\" (or \"device-nGnRnE\")")
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
                    throw SpecError(field: "\(name).pa", problem: "\(stage2Hex(pa))+\(stage2Hex(size)) is beyond \(outputBits ?? 48) bits")
                }
                let a = Stage2Attributes(permissions: try permissions(), memory: try memory(), accessFlag: try flag("af", true),
                                         contiguous: try flag("contiguous", false))
                ops.append(.map(ipa: ipa, pa: pa, size: size, attributes: a))
            case "unmap":
                ops.append(.unmap(ipa: ipa, size: size))
            default:
                let p = try permissions()
                if f("memory") != nil || f("af") != nil {
                    ops.append(.protectAttributes(ipa: ipa, size: size, attributes: Stage2Attributes(
                        permissions: p, memory: try memory(), accessFlag: try flag("af", true))))
                } else {
                    ops.append(.protectPermissions(ipa: ipa, size: size, permissions: p))
                }
            }
        }
        self.ops = ops
    }

    static func integer(_ v: JSONValue, _ field: String, _ range: ClosedRange<Int>) throws -> Int {
        guard case .number(let text) = v, let n = Int(text) else {
            let got = if case .number(let t) = v { t } else { v.typeName }
            throw SpecError(field: field, problem: "must be an integer in \(range.lowerBound)...\(range.upperBound), not \(got)")
        }
        guard range.contains(n) else { throw SpecError(field: field, problem: "\(n) is outside \(range.lowerBound)...\(range.upperBound)") }
        return n
    }

    /// A 64-bit address or size: "0x…" hex string or a non-negative JSON integer.
    static func address(_ v: JSONValue, _ field: String) throws -> UInt64 {
        switch v {
        case .string(let s):
            guard s.hasPrefix("0x") || s.hasPrefix("0X"), s.count > 2, let n = UInt64(s.dropFirst(2), radix: 16) else {
                throw SpecError(field: field, problem: "\"\(s)\" is not a hex number like \"0x1000\"")
            }
            return n
        case .number(let text):
            guard let n = UInt64(text) else { throw SpecError(field: field, problem: "\(text) is not a non-negative 64-bit integer") }
            return n
        default:
            throw SpecError(field: field, problem: "must be a hex string like \"0x1000\", not \(v.typeName)")
        }
    }
}

func stage2Hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
