/// A strict reader for KTAP version 1 as Documentation/dev-tools/ktap.rst specifies it, written
/// from the specification (not from the formatter): version lines, `1..N` plans, result lines
/// `ok|not ok <n> <description>[ # <directive> <data>]`, `#` diagnostic lines, nesting by two
/// spaces per level starting at the nested version line and ending before the parent's result
/// line. On top of the specification it requires what the harness promises: descriptions are
/// stable ids (`[A-Za-z0-9_-]+`), every block has a plan, SKIP results are `ok`, TIMEOUT
/// results `not ok`, and nothing but these lines appears. Every deviation is recorded.
struct KTAPReader {
    struct Node: Equatable {
        var number: Int
        var ok: Bool
        var name: String
        var directive: String?
        var data: String?
        /// Diagnostic lines (without `# `) directly before this result line at its level.
        var diagnostics: [String]
        /// The `# Subtest:` name and results of a nested block, nil for a leaf.
        var subtest: String?
        var children: [Node]?
    }

    struct Document {
        var plan: Int?
        var tests: [Node]
        var diagnostics: [String]
        var totals: [String: Int]?
        var problems: [String]
    }

    private var lines: [String]
    private var i = 0
    private var problems: [String] = []

    static let directives: Set<String> = ["SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR"]

    static func read(_ text: String) -> Document {
        var r = KTAPReader(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        var pre: [String] = []
        if r.lines.last == "" { r.lines.removeLast() } else { pre.append("output does not end with a newline") }
        let block = r.block(indent: 0)
        var doc = Document(
            plan: block.plan, tests: block.tests, diagnostics: block.diagnostics, totals: nil,
            problems: pre + r.problems)
        if r.i < r.lines.count { doc.problems.append("line \(r.i + 1) after the end of the top-level block: '\(r.lines[r.i])'") }
        // Totals: the last diagnostic of the top level.
        if let last = block.trailing.last,
            let m = last.wholeMatch(of: /Totals: pass:([0-9]+) fail:([0-9]+) xfail:([0-9]+) xpass:([0-9]+) skip:([0-9]+) error:([0-9]+)/)
        {
            doc.totals = [
                "pass": Int(m.output.1)!, "fail": Int(m.output.2)!, "xfail": Int(m.output.3)!,
                "xpass": Int(m.output.4)!, "skip": Int(m.output.5)!, "error": Int(m.output.6)!,
            ]
        } else {
            doc.problems.append("the last line is not '# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N'")
        }
        return doc
    }

    private struct Block {
        var plan: Int?
        var subtest: String?
        var tests: [Node] = []
        var diagnostics: [String] = []
        /// Diagnostics after the last result line of the block.
        var trailing: [String] = []
    }

    /// Reads one block whose version line is at `lines[i]`, indented by `indent` spaces.
    private mutating func block(indent: Int) -> Block {
        let pad = String(repeating: " ", count: indent)
        var b = Block()
        guard i < lines.count, lines[i] == pad + "KTAP version 1" else {
            problems.append("line \(i + 1): expected '\(pad)KTAP version 1', got '\(i < lines.count ? lines[i] : "end of output")'")
            return b
        }
        i += 1
        var pending: [String] = []
        var pendingChildren: (String?, [Node])? = nil
        while i < lines.count {
            let l = lines[i]
            let lead = l.prefix { $0 == " " }.count
            if lead < indent { break }  // the parent's result line
            if lead > indent {
                if lead == indent + 2, l.dropFirst(lead) == "KTAP version 1" {
                    if pendingChildren != nil {
                        problems.append("line \(i + 1): nested block follows a nested block without a result line")
                    }
                    let child = block(indent: indent + 2)
                    if child.plan == nil { problems.append("nested block '\(child.subtest ?? "?")' has no plan") }
                    pendingChildren = (child.subtest, child.tests)
                    continue
                }
                problems.append("line \(i + 1): indented by \(lead), expected \(indent): '\(l)'")
                i += 1
                continue
            }
            let body = String(l.dropFirst(indent))
            if let m = body.wholeMatch(of: /1\.\.([0-9]+)/) {
                if b.plan != nil || !b.tests.isEmpty || pendingChildren != nil {
                    problems.append("line \(i + 1): plan not directly after the version line and diagnostics")
                }
                b.plan = Int(m.output.1)
            } else if body.hasPrefix("# ") || body == "#" {
                let d = String(body.dropFirst(2))
                if d.hasPrefix("Subtest: ") { b.subtest = String(d.dropFirst("Subtest: ".count)) } else { pending.append(d) }
            } else if let m = body.wholeMatch(of: /(ok|not ok) ([0-9]+) ([^#]*?)(?: # (.*))?/) {
                var n = Node(
                    number: Int(m.output.2)!, ok: m.output.1 == "ok", name: String(m.output.3),
                    directive: nil, data: nil, diagnostics: pending, subtest: nil, children: nil)
                pending = []
                if let after = m.output.4 {
                    let word = after.prefix { $0 != " " }
                    if Self.directives.contains(String(word)) {
                        n.directive = String(word)
                        let rest = after.dropFirst(word.count)
                        n.data = rest.isEmpty ? nil : String(rest.dropFirst())
                    } else {
                        n.data = String(after)
                    }
                }
                if !n.name.wholeMatch(of: /[A-Za-z0-9_-]+/).map({ _ in true }).orFalse {
                    problems.append("line \(i + 1): description '\(n.name)' is not a stable id [A-Za-z0-9_-]+")
                }
                if n.number != b.tests.count + 1 {
                    problems.append("line \(i + 1): test number \(n.number), expected \(b.tests.count + 1)")
                }
                if n.directive == "SKIP" && !n.ok { problems.append("line \(i + 1): SKIP on a 'not ok' line") }
                if n.directive == "TIMEOUT" && n.ok { problems.append("line \(i + 1): TIMEOUT on an 'ok' line") }
                if n.directive == "TODO" { problems.append("line \(i + 1): TODO is not recognised by KTAP") }
                if let (name, children) = pendingChildren {
                    n.subtest = name
                    n.children = children
                    if name != n.name {
                        problems.append("line \(i + 1): result '\(n.name)' closes the block '# Subtest: \(name ?? "(none)")'")
                    }
                    let failed = children.contains { !$0.ok }
                    if failed == n.ok {
                        problems.append(
                            "line \(i + 1): '\(n.name)' is \(n.ok ? "ok" : "not ok") but its subtests \(failed ? "include" : "have no") failures"
                        )
                    }
                    pendingChildren = nil
                }
                b.tests.append(n)
            } else {
                problems.append("line \(i + 1) is not KTAP: '\(l)'")
            }
            i += 1
        }
        if pendingChildren != nil { problems.append("a nested block at indent \(indent + 2) has no result line") }
        if let p = b.plan, p != b.tests.count { problems.append("plan 1..\(p) but \(b.tests.count) results at indent \(indent)") }
        b.diagnostics = pending
        b.trailing = pending
        return b
    }
}

extension Optional where Wrapped == Bool {
    var orFalse: Bool { self ?? false }
}
