import Reporting

/// A JSON reader that follows RFC 8259 exactly and adds the two things a spec needs that
/// `JSONDecoder` does not give: duplicate keys are an error (JSONDecoder keeps one of them
/// silently; `JSONParserTests` shows it), and numbers stay source text (exact 64-bit integers).
/// Linear in the input: duplicate keys are found with a hash set per object.
public struct JSONParser {
    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var offset: Int
        public var description: String { "invalid JSON at byte \(offset): \(message)" }
    }

    /// Objects and arrays nested deeper than this are refused (the reader recurses).
    public static let maximumDepth = 64

    private let bytes: [UInt8]
    private var i = 0
    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    public static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        var p = JSONParser(bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.bytes.count else { throw p.fail("trailing characters after the value") }
        return v
    }

    private var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    /// RFC 8259 §2: ws = space, tab, line feed, carriage return.
    private mutating func skipSpace() {
        while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    private func fail(_ m: String) -> Failure { Failure(message: m, offset: i) }

    private func describeCurrent() -> String {
        guard let c = current else { return "the end of the input" }
        return c >= 0x21 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x" + String(c, radix: 16)
    }

    private mutating func expect(_ c: UInt8, _ what: String) throws(Failure) {
        guard current == c else { throw fail("expected \(what), found \(describeCurrent())") }
        i += 1
    }

    private mutating func value(depth: Int) throws(Failure) -> JSONValue {
        guard depth < Self.maximumDepth else { throw fail("nested deeper than \(Self.maximumDepth) levels") }
        guard let c = current else { throw fail("unexpected end of input, expected a value") }
        switch c {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(String, JSONValue)] = []
            var seen = Set<String>()
            skipSpace()
            if current == UInt8(ascii: "}") {
                i += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard current == UInt8(ascii: "\"") else { throw fail("expected a key string, found \(describeCurrent())") }
                let keyOffset = i
                let key = try string()
                guard seen.insert(key).inserted else {
                    throw Failure(message: "duplicate key \(Self.quoted(key))", offset: keyOffset)
                }
                skipSpace()
                try expect(UInt8(ascii: ":"), "':'")
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                if current == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                try expect(UInt8(ascii: "}"), "',' or '}'")
                return .object(members)
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if current == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                if current == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                try expect(UInt8(ascii: "]"), "',' or ']'")
                return .array(items)
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("expected a value, found \(describeCurrent())")
        }
    }

    private mutating func literal(_ word: String) throws(Failure) {
        let n = word.utf8.count
        guard i + n <= bytes.count, bytes[i..<i + n].elementsEqual(word.utf8) else { throw fail("expected \(word)") }
        i += n
    }

    private static func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

    /// RFC 8259 §6: number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ).
    /// No leading '+', no leading zeros, digits on both sides of '.', a digit after 'e'.
    private mutating func number() throws(Failure) -> String {
        let start = i
        if current == UInt8(ascii: "-") { i += 1 }
        guard Self.isDigit(current) else { throw fail("expected a digit in the number") }
        if current == UInt8(ascii: "0") {
            i += 1
            if Self.isDigit(current) { throw fail("leading zero in a number") }
        } else {
            while Self.isDigit(current) { i += 1 }
        }
        if current == UInt8(ascii: ".") {
            i += 1
            guard Self.isDigit(current) else { throw fail("expected a digit after '.'") }
            while Self.isDigit(current) { i += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            i += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { i += 1 }
            guard Self.isDigit(current) else { throw fail("expected a digit in the exponent") }
            while Self.isDigit(current) { i += 1 }
        }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    /// Exactly four hex digits (RFC 8259 §7: \u followed by four HEXDIG).
    private mutating func hex4() throws(Failure) -> UInt16 {
        var v: UInt16 = 0
        for _ in 0..<4 {
            guard let c = current else { throw fail("\\u escape needs four hex digits") }
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw fail("\\u escape needs four hex digits, found \(describeCurrent())")
            }
            v = v << 4 | UInt16(d)
            i += 1
        }
        return v
    }

    /// A string: unescaped bytes must be valid UTF-8 and not controls; a \u escape of a UTF-16
    /// surrogate must be a high/low pair (a lone surrogate is no Unicode scalar).
    private mutating func string() throws(Failure) -> String {
        let open = i
        i += 1
        var out: [UInt8] = []
        var runStart = i
        while let c = current {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                out.append(contentsOf: bytes[runStart..<i])
                if c == UInt8(ascii: "\"") {
                    i += 1
                    guard let s = String(validating: out, as: UTF8.self) else {
                        throw Failure(message: "string is not valid UTF-8", offset: open)
                    }
                    return s
                }
                i += 1
                guard let e = current else { break }
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let unit = try hex4()
                    var scalar: UInt32 = UInt32(unit)
                    if (0xD800...0xDBFF).contains(unit) {
                        guard current == UInt8(ascii: "\\"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "u") else {
                            throw fail("\\u escape of a high surrogate not followed by a low one")
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw fail("\\u escape of a high surrogate not followed by a low one")
                        }
                        scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(unit) {
                        throw fail("\\u escape of a lone low surrogate")
                    }
                    out.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
                default:
                    i -= 1
                    throw fail("invalid escape \\\(describeCurrent())")
                }
                runStart = i
                continue
            }
            if c < 0x20 { throw fail("control character 0x\(String(c, radix: 16)) in a string (escape it)") }
            i += 1
        }
        throw Failure(message: "unterminated string", offset: open)
    }

    /// A key or string for an error message: quoted, controls escaped, cut at 64 characters.
    static func quoted(_ s: String) -> String {
        "\"" + Escape.terminal(Self.cut(s)) + "\""
    }

    /// A key that can stand in a field path as it is (`ops[0].perm`): letters, digits, '_', at most 64.
    static func isPlainKey(_ k: String) -> Bool {
        !k.isEmpty && k.utf8.count <= 64
            && k.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F }
    }

    public static func cut(_ s: String, _ limit: Int = 64) -> String {
        s.count <= limit ? s : String(s.prefix(limit)) + "… (\(s.utf8.count) bytes)"
    }
}
