/// A shell-style pattern for `--filter GLOB` over test names such as `demand-paging/4k`.
///
/// - `*` matches any run of characters, including none and including `/` (so
///   `demand*` selects every demand-paging variant), like fnmatch(3) without FNM_PATHNAME;
/// - `?` matches exactly one character;
/// - `[abc]`, `[a-z]`, `[!a-z]` or `[^a-z]` match one character in (or not in) the set; a `]`
///   right after `[`, `[!` or `[^` is literal, as is a `-` first or last;
/// - `\c` matches `c` literally.
///
/// Matching is over Unicode scalars and case-sensitive. A malformed pattern (an unclosed `[`,
/// a trailing `\`, a reversed range such as `[z-a]`) is rejected with an error naming the
/// problem instead of silently matching nothing.
public struct GlobPattern: Sendable, Equatable, CustomStringConvertible {
    enum Token: Sendable, Equatable {
        case literal(Unicode.Scalar)
        case any  // ?
        case star  // *
        case set(negated: Bool, items: [ClosedRange<UInt32>])
    }

    public let description: String
    let tokens: [Token]

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let pattern: String
        public let problem: String
        public var description: String { "invalid --filter pattern '\(pattern)': \(problem)" }
    }

    public init(_ pattern: String) throws(ParseError) {
        description = pattern
        let s = Array(pattern.unicodeScalars)
        var tokens: [Token] = []
        var i = 0
        while i < s.count {
            let c = s[i]
            switch c {
            case "*":
                if tokens.last != .star { tokens.append(.star) }
                i += 1
            case "?":
                tokens.append(.any)
                i += 1
            case "\\":
                guard i + 1 < s.count else { throw ParseError(pattern: pattern, problem: "a trailing '\\' escapes nothing") }
                tokens.append(.literal(s[i + 1]))
                i += 2
            case "[":
                var j = i + 1
                var negated = false
                if j < s.count, s[j] == "!" || s[j] == "^" {
                    negated = true
                    j += 1
                }
                var items: [ClosedRange<UInt32>] = []
                var first = true
                var closed = false
                while j < s.count {
                    var c = s[j]
                    if c == "]" && !first {
                        closed = true
                        j += 1
                        break
                    }
                    first = false
                    if c == "\\" {
                        guard j + 1 < s.count else { break }
                        j += 1
                        c = s[j]
                    }
                    // A range a-b (a '-' just before ']' is literal).
                    if j + 2 < s.count, s[j + 1] == "-", s[j + 2] != "]" {
                        var hi = s[j + 2]
                        var k = j + 2
                        if hi == "\\" {
                            guard k + 1 < s.count else { break }
                            k += 1
                            hi = s[k]
                        }
                        guard c.value <= hi.value else {
                            throw ParseError(pattern: pattern, problem: "the range '\(c)-\(hi)' is reversed")
                        }
                        items.append(c.value...hi.value)
                        j = k + 1
                    } else {
                        items.append(c.value...c.value)
                        j += 1
                    }
                }
                guard closed else {
                    throw ParseError(pattern: pattern, problem: "the '[' at position \(i + 1) is never closed with ']'")
                }
                tokens.append(.set(negated: negated, items: items))
                i = j
            default:
                tokens.append(.literal(c))
                i += 1
            }
        }
        self.tokens = tokens
    }

    /// Whether the whole of `name` matches (not a substring search).
    public func matches(_ name: String) -> Bool {
        let text = Array(name.unicodeScalars)
        // Iterative wildcard matching with one backtrack point (the last `*`): linear in
        // practice, O(n·m) worst case, never exponential.
        var t = 0
        var p = 0
        var starP = -1
        var starT = 0
        while t < text.count {
            if p < tokens.count {
                switch tokens[p] {
                case .star:
                    starP = p
                    starT = t
                    p += 1
                    continue
                case .any:
                    t += 1
                    p += 1
                    continue
                case .literal(let c) where c == text[t]:
                    t += 1
                    p += 1
                    continue
                case .set(let negated, let items):
                    let v = text[t].value
                    if items.contains(where: { $0.contains(v) }) != negated {
                        t += 1
                        p += 1
                        continue
                    }
                default:
                    break
                }
            }
            guard starP >= 0 else { return false }
            p = starP + 1
            starT += 1
            t = starT
        }
        while p < tokens.count, tokens[p] == .star { p += 1 }
        return p == tokens.count
    }

    /// True when the pattern has no wildcard (so it can name exactly one test).
    public var isLiteral: Bool {
        tokens.allSatisfy { if case .literal = $0 { true } else { false } }
    }
}
