import Foundation
import Testing

@testable import Reporting

@Suite struct GlobTests {
    static let names = [
        "demand-paging/4k", "demand-paging/16k", "demand-paging/64k", "demand-paging/2m-block",
        "permission/write-ro", "translation/l0", "translation/l3", "vmid-isolation", "e2h0/demand-paging/4k",
    ]

    static func select(_ p: String) throws -> [String] {
        let g = try GlobPattern(p)
        return names.filter { g.matches($0) }
    }

    @Test(
        arguments: [
            ("demand-paging/4k", ["demand-paging/4k"]),
            ("demand-paging/*", ["demand-paging/4k", "demand-paging/16k", "demand-paging/64k", "demand-paging/2m-block"]),
            ("demand*", ["demand-paging/4k", "demand-paging/16k", "demand-paging/64k", "demand-paging/2m-block"]),
            ("*/4k", ["demand-paging/4k", "e2h0/demand-paging/4k"]),
            ("*demand-paging/4k", ["demand-paging/4k", "e2h0/demand-paging/4k"]),
            ("demand-paging/?k", ["demand-paging/4k"]),
            ("demand-paging/??k", ["demand-paging/16k", "demand-paging/64k"]),
            ("translation/l[0-2]", ["translation/l0"]),
            ("translation/l[!0-2]", ["translation/l3"]),
            ("translation/l[^0]", ["translation/l3"]),
            ("demand-paging/[16]*k", ["demand-paging/16k", "demand-paging/64k"]),  // '1' or '6' first
            ("demand-paging/[1]*k", ["demand-paging/16k"]),
            ("*", names),
            ("**", names),
            ("", []),
            ("vmid", []),  // whole-name match, not substring
            ("*isolation", ["vmid-isolation"]),
            ("permission/write-r[o]", ["permission/write-ro"]),
            ("*-*-*", ["demand-paging/2m-block"]),
        ] as [(String, [String])])
    func selects(pattern: String, expected: [String]) throws {
        #expect(try Self.select(pattern) == expected)
    }

    @Test func setsAndEscapes() throws {
        #expect(try GlobPattern("[]]").matches("]"))
        #expect(try GlobPattern("[!]]").matches("a") && !GlobPattern("[!]]").matches("]"))
        #expect(try GlobPattern("[a-]").matches("-") && GlobPattern("[a-]").matches("a"))
        #expect(try GlobPattern("\\*").matches("*") && !GlobPattern("\\*").matches("x"))
        #expect(try GlobPattern("a\\?").matches("a?") && !GlobPattern("a\\?").matches("ab"))
        #expect(try GlobPattern("[\\]]").matches("]"))
        #expect(try GlobPattern("?").matches("é") && !GlobPattern("?").matches(""))
        #expect(try GlobPattern("demand-paging/4k").isLiteral && !GlobPattern("d*").isLiteral)
    }

    @Test(arguments: [
        ("demand-paging/[4", "the '[' at position 15 is never closed with ']'"),
        ("[", "the '[' at position 1 is never closed with ']'"),
        ("[]", "the '[' at position 1 is never closed with ']'"),
        ("abc\\", "a trailing '\\' escapes nothing"),
        ("[z-a]", "the range 'z-a' is reversed"),
    ])
    func malformedPatternsAreRejected(pattern: String, problem: String) {
        #expect(throws: GlobPattern.ParseError(pattern: pattern, problem: problem)) { try GlobPattern(pattern) }
        #expect(
            GlobPattern.ParseError(pattern: pattern, problem: problem).description == "invalid --filter pattern '\(pattern)': \(problem)")
    }

    @Test func pathologicalPatternIsFast() throws {
        // Exponential backtracking would never finish this; the matcher is O(n·m).
        let g = try GlobPattern(String(repeating: "*a", count: 30) + "b")
        #expect(!g.matches(String(repeating: "a", count: 2000)))
    }

    /// Differential test against the C library's fnmatch(3) (glibc, flags 0: `*` crosses `/`,
    /// backslash escapes), over seeded random patterns and names on a small alphabet.
    @Test func agreesWithFnmatch() throws {
        var rng = Xoshiro256StarStar(seed: 7)
        let nameAlphabet = Array("ab-/4k]")
        let patAtoms = ["a", "b", "-", "/", "4", "k", "*", "?", "[ab]", "[!a]", "[a-k]", "[]a]", "[-4]", "\\*", "\\a", "[!/]"]
        var checked = 0
        for _ in 0..<3000 {
            var pattern = ""
            for _ in 0..<Int(rng.next(below: 6)) { pattern += patAtoms[Int(rng.next(below: UInt64(patAtoms.count)))] }
            var name = ""
            for _ in 0..<Int(rng.next(below: 7)) { name.append(nameAlphabet[Int(rng.next(below: UInt64(nameAlphabet.count)))]) }
            let ours = try GlobPattern(pattern).matches(name)
            let libc = fnmatch(pattern, name, 0) == 0
            #expect(ours == libc, "pattern '\(pattern)' name '\(name)': ours \(ours), fnmatch \(libc)")
            checked += 1
        }
        #expect(checked == 3000)
    }
}
