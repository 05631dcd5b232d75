/// An integer written in a scenario file: a JSON number or a string with an arithmetic
/// expression over numbers and names (`"base + 2*page + 0x30"`).
///
/// Grammar: sum := product (('+' | '-') product)*; product := atom (('*' | '/' | '<<' | '>>') atom)*;
/// atom := number | name | '(' sum ')'. Numbers are decimal, `0x` hex or `0b` binary, with
/// optional `_` separators. `*`, `/`, `<<` and `>>` bind equally tightly, left to right. Every
/// result is an unsigned 64-bit value; overflow, a negative result, division by zero or an
/// unknown name is an error.
public struct Expression: Decodable, Sendable, Equatable, CustomStringConvertible {
    public var text: String

    public init(_ text: String) { self.text = text }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(UInt64.self) {
            text = String(n)
        } else if let s = try? c.decode(String.self) {
            text = s
        } else {
            throw DecodingError.typeMismatch(
                Expression.self,
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "expected a non-negative integer or a string with an expression (e.g. \"base + 0x10\")"))
        }
    }

    public var description: String { text }

    /// The value with `names` bound; throws a message naming what is wrong.
    public func evaluate(_ names: [String: UInt64]) throws(ExpressionError) -> UInt64 {
        var parser = Parser(text: Array(text.unicodeScalars), names: names)
        let v = try parser.sum()
        parser.skipSpaces()
        guard parser.at == parser.text.count else {
            throw ExpressionError("unexpected '\(String(String.UnicodeScalarView(parser.text[parser.at...])))' in \"\(text)\"")
        }
        return v
    }

    private struct Parser {
        let text: [Unicode.Scalar]
        let names: [String: UInt64]
        var at = 0

        mutating func skipSpaces() { while at < text.count, text[at] == " " { at += 1 } }
        mutating func take(_ s: String) -> Bool {
            skipSpaces()
            let want = Array(s.unicodeScalars)
            guard at + want.count <= text.count, Array(text[at..<at + want.count]) == want else { return false }
            at += want.count
            return true
        }
        var source: String { String(String.UnicodeScalarView(text)) }

        mutating func sum() throws(ExpressionError) -> UInt64 {
            var v = try product()
            while true {
                if take("+") {
                    let (r, o) = v.addingReportingOverflow(try product())
                    if o { throw ExpressionError("\"\(source)\" overflows 64 bits") }
                    v = r
                } else if take("-") {
                    let (r, o) = v.subtractingReportingOverflow(try product())
                    if o { throw ExpressionError("\"\(source)\" goes below zero") }
                    v = r
                } else {
                    return v
                }
            }
        }
        mutating func product() throws(ExpressionError) -> UInt64 {
            var v = try atom()
            while true {
                if take("*") {
                    let (r, o) = v.multipliedReportingOverflow(by: try atom())
                    if o { throw ExpressionError("\"\(source)\" overflows 64 bits") }
                    v = r
                } else if take("/") {
                    let d = try atom()
                    if d == 0 { throw ExpressionError("division by zero in \"\(source)\"") }
                    v /= d
                } else if take(">>") {
                    let s = try atom()
                    v = s >= 64 ? 0 : v >> s
                } else if take("<<") {
                    let s = try atom()
                    if s >= 64 || (s > 0 && v >> (64 - s) != 0) { throw ExpressionError("\"\(source)\" overflows 64 bits") }
                    v <<= s
                } else {
                    return v
                }
            }
        }
        mutating func atom() throws(ExpressionError) -> UInt64 {
            skipSpaces()
            if take("(") {
                let v = try sum()
                guard take(")") else { throw ExpressionError("missing ')' in \"\(source)\"") }
                return v
            }
            let start = at
            while at < text.count, text[at].properties.isAlphabetic || ("0"..."9").contains(text[at]) || text[at] == "_" {
                at += 1
            }
            let word = String(String.UnicodeScalarView(text[start..<at]))
            guard let first = word.unicodeScalars.first else {
                throw ExpressionError(
                    at < text.count ? "unexpected '\(text[at])' in \"\(source)\"" : "\"\(source)\" ends where a number or name was expected"
                )
            }
            if ("0"..."9").contains(first) {
                let digits = String(word.filter { $0 != "_" })
                let parsed: UInt64?
                if digits.hasPrefix("0x") {
                    parsed = UInt64(digits.dropFirst(2), radix: 16)
                } else if digits.hasPrefix("0b") {
                    parsed = UInt64(digits.dropFirst(2), radix: 2)
                } else {
                    parsed = UInt64(digits, radix: 10)
                }
                guard let parsed else { throw ExpressionError("'\(word)' is not a number (decimal, 0x hex or 0b binary, at most 64 bits)") }
                return parsed
            }
            guard let v = names[word] else {
                throw ExpressionError("unknown name '\(word)' in \"\(source)\"; known: " + names.keys.sorted().joined(separator: ", "))
            }
            return v
        }
    }
}
