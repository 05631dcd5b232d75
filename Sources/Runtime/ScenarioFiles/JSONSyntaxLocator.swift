/// Finds where a JSON text stops being valid, for the error message: Foundation's JSONDecoder
/// says only "The given data was not valid JSON" (no line, no column; ScenarioFileTests shows
/// it), so a file with a missing comma would otherwise be reported without a place. This only
/// scans (RFC 8259 grammar); decoding is JSONDecoder's job.
struct JSONSyntaxLocator {
    let bytes: [UInt8]
    var at = 0

    /// The 1-based line and column of the first syntax error and what was expected there;
    /// nil when the text is valid JSON.
    static func firstError(in bytes: [UInt8]) -> (line: Int, column: Int, expected: String)? {
        var s = JSONSyntaxLocator(bytes: bytes)
        do throws(Problem) {
            try s.value()
            s.space()
            if s.at < bytes.count { throw Problem(expected: "the end of the file after the top-level value") }
            return nil
        } catch {
            var line = 1
            var column = 1
            for b in bytes[..<min(s.at, bytes.count)] {
                if b == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if b & 0xC0 != 0x80 {
                    column += 1
                }
            }
            return (line, column, error.expected)
        }
    }

    struct Problem: Error { var expected: String }

    var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

    mutating func space() {
        while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { at += 1 }
    }

    mutating func expect(_ c: Character, _ what: String) throws(Problem) {
        space()
        guard peek == c.asciiValue else { throw Problem(expected: what) }
        at += 1
    }

    mutating func value() throws(Problem) {
        space()
        switch peek {
        case UInt8(ascii: "{"):
            at += 1
            space()
            if peek == UInt8(ascii: "}") {
                at += 1
                return
            }
            while true {
                space()
                guard peek == UInt8(ascii: "\"") else { throw Problem(expected: "a key in double quotes") }
                try string()
                try expect(":", "':' after the key")
                try value()
                space()
                if peek == UInt8(ascii: ",") {
                    at += 1
                    continue
                }
                try expect("}", "',' or '}' after a value in an object")
                return
            }
        case UInt8(ascii: "["):
            at += 1
            space()
            if peek == UInt8(ascii: "]") {
                at += 1
                return
            }
            while true {
                try value()
                space()
                if peek == UInt8(ascii: ",") {
                    at += 1
                    continue
                }
                try expect("]", "',' or ']' after a value in a list")
                return
            }
        case UInt8(ascii: "\""):
            try string()
        case UInt8(ascii: "t"): try word("true")
        case UInt8(ascii: "f"): try word("false")
        case UInt8(ascii: "n"): try word("null")
        case let c? where c == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c):
            try number()
        default:
            throw Problem(expected: "a value (object, list, string, number, true, false or null)")
        }
    }

    mutating func word(_ w: String) throws(Problem) {
        for c in w.utf8 {
            guard peek == c else { throw Problem(expected: "'\(w)'") }
            at += 1
        }
    }

    mutating func string() throws(Problem) {
        at += 1  // the opening quote
        while let c = peek {
            at += 1
            if c == UInt8(ascii: "\"") { return }
            if c < 0x20 {
                at -= 1
                throw Problem(expected: "no control character inside a string (write \\n or \\t)")
            }
            if c == UInt8(ascii: "\\") {
                guard let e = peek, "\"\\/bfnrtu".utf8.contains(e) else {
                    throw Problem(expected: "an escape: \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX")
                }
                at += 1
                if e == UInt8(ascii: "u") {
                    for _ in 0..<4 {
                        guard let h = peek, "0123456789abcdefABCDEF".utf8.contains(h) else {
                            throw Problem(expected: "four hex digits after \\u")
                        }
                        at += 1
                    }
                }
            }
        }
        throw Problem(expected: "the closing '\"' of the string")
    }

    mutating func number() throws(Problem) {
        func digits() -> Int {
            var n = 0
            while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) {
                at += 1
                n += 1
            }
            return n
        }
        if peek == UInt8(ascii: "-") { at += 1 }
        if peek == UInt8(ascii: "0") { at += 1 } else if digits() == 0 { throw Problem(expected: "a digit") }
        if peek == UInt8(ascii: ".") {
            at += 1
            if digits() == 0 { throw Problem(expected: "a digit after '.'") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            at += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { at += 1 }
            if digits() == 0 { throw Problem(expected: "a digit in the exponent") }
        }
    }
}
