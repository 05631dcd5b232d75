import Foundation
import Testing

@testable import TestCatalog

/// scripts/check-expectations (the CI gate on every variant's outcome) run as CI runs it, on
/// hand-written results: each kind of difference must fail it, the matching run must pass.
/// And the checked-in .ci/expectations covers exactly the catalog.
@Suite struct CheckExpectationsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func run(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [root.appendingPathComponent("scripts/check-expectations").path] + args
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        p.standardOutput = out
        p.standardError = out
        try p.run()
        p.waitUntilExit()
        try out.close()
        return (p.terminationStatus, String(decoding: try Data(contentsOf: outURL), as: UTF8.self))
    }

    static let expectations = """
        # comment
        a/pass  pass
        b/skip  skip the vCPU lacks FEAT_X (ID 0x10)
        c/known xfail
        """

    static func record(_ name: String, _ status: String, _ message: String?) -> String {
        let m = message.map { "\"\($0)\"" } ?? "null"
        return "{\"type\":\"test\",\"name\":\"\(name)\",\"status\":\"\(status)\",\"message\":\(m),\"repetition\":null}"
    }

    static func check(_ results: [String]) throws -> (Int32, String) {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let e = dir.appendingPathComponent("expectations")
        let r = dir.appendingPathComponent("r.json")
        try expectations.write(to: e, atomically: true, encoding: .utf8)
        try (["{\"type\":\"run\"}"] + results + ["{\"type\":\"summary\"}"]).joined(separator: "\n").write(
            to: r, atomically: true, encoding: .utf8)
        return try run([e.path, r.path])
    }

    static let good = [
        record("a/pass", "pass", nil), record("b/skip", "skip", "the vCPU lacks FEAT_X (ID 0x10)"),
        record("c/known", "xfail", "KVM_RUN failed: EFAULT"),
    ]

    @Test func matchingRunPasses() throws {
        let (status, out) = try Self.check(Self.good)
        #expect(status == 0, "\(out)")
        #expect(out.contains("all 3 variants as expected (1 pass, 1 skip, 1 xfail)"))
    }

    @Test(
        arguments: [
            (0, record("a/pass", "skip", "no"), "a/pass: expected pass, got skip: no"),  // a pass became a skip
            (0, record("a/pass", "fail", "FAR_EL2 0x8"), "a/pass: expected pass, got fail: FAR_EL2 0x8"),
            (1, record("b/skip", "skip", "other"), "b/skip: skipped for another reason"),  // a skip for a new reason
            (1, record("b/skip", "pass", nil), "b/skip: expected skip (the vCPU lacks FEAT_X (ID 0x10)), got pass"),
            (2, record("c/known", "xpass", nil), "c/known: expected xfail, got xpass"),  // a known failure now passes
            (2, record("c/known", "fail", "KVM_RUN failed: EINVAL"), "c/known: expected xfail, got fail"),  // fails differently
        ] as [(Int, String, String)])
    func eachDifferenceFails(index: Int, replacement: String, says: String) throws {
        var results = Self.good
        results[index] = replacement
        let (status, out) = try Self.check(results)
        #expect(status == 1 && out.contains("DIFFERS: " + says), "\(out)")
    }

    @Test func missingAndExtraVariantsFail() throws {
        let (s1, o1) = try Self.check(Array(Self.good.dropFirst()))
        #expect(s1 == 1 && o1.contains("a/pass: expected pass, but it did not run"), "\(o1)")
        let (s2, o2) = try Self.check(Self.good + [Self.record("d/new", "pass", nil)])
        #expect(s2 == 1 && o2.contains("d/new: ran (pass) but is not in"), "\(o2)")
    }

    /// The checked-in file lists every catalog variant once, and a variant is expected to
    /// xfail only if it carries a known-failure record.
    @Test func checkedInFileCoversTheCatalog() throws {
        let (status, out) = try Self.run(["--names", "pass", Self.root.appendingPathComponent(".ci/expectations").path])
        #expect(status == 0)
        let text = try String(contentsOf: Self.root.appendingPathComponent(".ci/expectations"), encoding: .utf8)
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        let listed = lines.map { String($0.split(separator: " ")[0]) }
        let catalog = Catalog.tests.flatMap { t in t.variants.map { "\(t.name)/\($0.name)" } }
        #expect(Set(listed) == Set(catalog) && listed.count == catalog.count, "\(out)")
        let withRecords = Set(Catalog.tests.flatMap { t in t.variants.filter { !$0.knownFailures.isEmpty }.map { "\(t.name)/\($0.name)" } })
        let xfail = lines.filter { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first == "xfail" }
            .map { String($0.split(separator: " ")[0]) }
        #expect(!xfail.isEmpty && Set(xfail).isSubset(of: withRecords))
    }
}
