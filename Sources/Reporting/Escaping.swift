/// Escaping of untrusted text (anything derived from the guest, test names, host strings) for
/// each output syntax. All functions are total: any Swift string gives well-formed output.
public enum Escape {
    /// True for the code points XML 1.0 allows in a document (XML 1.0 §2.2 `Char`):
    /// #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
    /// (Surrogates cannot occur in a Swift string.)
    public static func isXMLChar(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x9, 0xA, 0xD: true
        case 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    /// Visible stand-in for a code point that cannot appear in the output: `\x01`, `\uFFFE`.
    static func visible(_ s: Unicode.Scalar) -> String {
        s.value <= 0xFF ? "\\x" + hex(s.value, 2) : "\\u" + hex(s.value, 4)
    }

    static func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    /// XML character data (element content). `&`, `<`, `>` become entities (`>` so that `]]>`
    /// can never appear); code points XML 1.0 forbids (NUL, other C0 controls except tab,
    /// newline and CR, U+FFFE, U+FFFF) cannot be written even as character references, so
    /// they are replaced by a visible `\xNN` / `\uNNNN`. CR is written as `&#13;` so that XML
    /// end-of-line normalisation does not turn it into a newline.
    public static func xmlText(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            switch s {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\r": out += "&#13;"
            default:
                if isXMLChar(s) { out.unicodeScalars.append(s) } else { out += visible(s) }
            }
        }
        return out
    }

    /// An XML attribute value for use between double quotes. Besides `xmlText`'s rules, `"`
    /// and `'` become entities and tab/newline become character references, so attribute-value
    /// normalisation (XML 1.0 §3.3.3) keeps them.
    public static func xmlAttribute(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            switch s {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t": out += "&#9;"
            case "\n": out += "&#10;"
            case "\r": out += "&#13;"
            default:
                if isXMLChar(s) { out.unicodeScalars.append(s) } else { out += visible(s) }
            }
        }
        return out
    }

    /// A YAML double-quoted scalar (YAML 1.2 §7.3.1, also valid YAML 1.1 and TAP's YAMLish):
    /// `"` and `\` escaped, C0 controls, DEL and C1 controls as `\n`, `\t`, `\xNN`, and
    /// U+2028/U+2029/U+FEFF as `\uNNNN` so the value stays on one physical line.
    public static func yamlQuoted(_ text: String) -> String {
        var out = "\""
        for s in text.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                switch s.value {
                case 0..<0x20, 0x7F...0x9F: out += "\\x" + hex(s.value, 2)
                case 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF: out += "\\u" + hex(s.value, 4)
                default: out.unicodeScalars.append(s)
                }
            }
        }
        return out + "\""
    }

    /// Text for a terminal or a plain one-line field: control characters (which could move
    /// the cursor, recolour or retitle the terminal — ESC sequences from a guest), bidi
    /// controls and noncharacters become visible `\xNN`/`\uNNNN`; newlines become `\n` when
    /// `singleLine`.
    public static func terminal(_ text: String, singleLine: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            switch s.value {
            case 0x0A where !singleLine: out.unicodeScalars.append(s)
            case 0x09: out.unicodeScalars.append(s)
            case 0x0A: out += "\\n"
            case 0..<0x20, 0x7F...0x9F: out += visible(s)
            // Line/paragraph separators, bidi embeddings/overrides/isolates (which can make
            // text display in an order other than the bytes'), noncharacters.
            case 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0xFFFE, 0xFFFF: out += visible(s)
            default: out.unicodeScalars.append(s)
            }
        }
        return out
    }

    /// A TAP test description or directive reason: one line, no control characters, and `#`
    /// written as `\#` so it cannot start a directive (TAP 13: "test description ... must not
    /// contain an unescaped #"). A backslash is doubled so `\#` stays unambiguous.
    public static func tapText(_ text: String) -> String {
        var out = ""
        for s in text.unicodeScalars {
            switch s {
            case "\\": out += "\\\\"
            case "#": out += "\\#"
            default: out += terminal(String(s))
            }
        }
        return out
    }
}
