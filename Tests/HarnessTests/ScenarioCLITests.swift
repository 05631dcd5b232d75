import Foundation
import Testing

/// `harness new`, `harness check` and `harness run FILE` as a user runs them, without a VM.
@Suite struct ScenarioCLITests {
    @Test func newWritesASkeletonThatChecksAndRefusesToOverwrite() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("my-test.json").path
        let made = try RunCLITests.run(["new", "my-test", "--path", path])
        #expect(made.status == 0, "\(made.stderr)")
        let checked = try RunCLITests.run(["check", path])
        #expect(checked.status == 0 && checked.stdout.contains("\(path): ok: my-test, 1 variant"), "\(checked)")
        let again = try RunCLITests.run(["new", "my-test", "--path", path])
        #expect(again.status == 64 && again.stderr.contains("exists"), "\(again)")
        let badName = try RunCLITests.run(["new", "My Test"])
        #expect(badName.status == 64, "\(badName)")
    }

    @Test func checkNamesTheFileThePathAndTheFieldAndExitsOne() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.json").path
        _ = try RunCLITests.run(["new", "good", "--path", good])
        let text = try String(contentsOfFile: good, encoding: .utf8)
        let bad = dir.appendingPathComponent("bad.json").path
        try text.replacing(#""level": "derive""#, with: #""levle": "derive""#).write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try RunCLITests.run(["check", good, bad])
        #expect(r.status == 1)
        #expect(r.stdout.contains("\(good): ok"))
        #expect(r.stdout.contains("\(bad): $.ops[2].raises[0].levle: unknown key 'levle'"), "\(r.stdout)")
        // A file that loads but cannot be built (a demandMap of a region mapped whole) fails too.
        let unbuilt = dir.appendingPathComponent("unbuilt.json").path
        try text.replacing(#"{"demandMap": "lazy"}"#, with: #"{"demandMap": "data"}"#).write(
            toFile: unbuilt, atomically: true, encoding: .utf8)
        let u = try RunCLITests.run(["check", unbuilt])
        #expect(u.status == 1 && u.stdout.contains("\(unbuilt): $.ops[2].raises[0].host[0].demandMap: region 'data' has no 'unit'"), "\(u)")
        let missing = try RunCLITests.run(["check", dir.appendingPathComponent("none.json").path])
        #expect(missing.status == 1 && missing.stdout.contains("cannot open"), "\(missing)")
    }

    /// Every variant is built for 4K, 16K and 64K host pages and every error is printed with the
    /// file, the variant and what failed: a dirty-logged region of 8 4K pages (whole 4K and 16K
    /// host pages, not 64K) and a region the session's data pool cannot hold (an error that is
    /// not the file loader's own type). A variant without either stays clean.
    @Test func checkBuildsEveryVariantForEveryHostPageSizeAndPrintsEveryError() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.json").path
        _ = try RunCLITests.run(["new", "good", "--path", good])
        let text = try String(contentsOfFile: good, encoding: .utf8)
        let variants = #"""
              "variants": [
                {"name": "4k", "summary": "fine"},
                {"name": "logged", "summary": "8 4K pages logged",
                 "memory": [{"name": "data", "ipa": "base", "size": "8 * 0x1000", "access": "rw", "pa": "0x5000_0000", "dirtyLog": "ownSlot"},
                            {"name": "lazy", "ipa": "base + block", "size": "block", "unit": "page"}]},
                {"name": "huge", "summary": "more than the pool",
                 "memory": [{"name": "data", "ipa": "base", "size": "0x4000000 + page", "access": "rw"},
                            {"name": "lazy", "ipa": "base + block", "size": "block", "unit": "page"}]}
              ]
            """#
        let start = try #require(text.range(of: #""variants": ["#))
        let bad = dir.appendingPathComponent("bad.json").path
        try (String(text[..<start.lowerBound]) + variants + "\n}\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try RunCLITests.run(["check", bad])
        #expect(r.status == 1, "\(r)")
        #expect(
            r.stdout.contains(
                "\(bad): $.variants[1].memory[0].dirtyLog: a dirty-logged region must start and end on a host page (0x10000 bytes): PA 0x50000000, size 0x8000 (with 64 KiB host pages)"
            ), "\(r.stdout)")
        #expect(
            r.stdout.contains(
                "\(bad): $.variants[2]: variant 'huge': layout: the session's data pool (0x3800000 bytes) cannot hold 0x4001000 bytes"),
            "\(r.stdout)")
        #expect(!r.stdout.contains("variants[0]") && !r.stdout.contains(": ok:"), "\(r.stdout)")
        // Without the two bad variants the same file is clean.
        let fixed = dir.appendingPathComponent("fixed.json").path
        try (String(text[..<start.lowerBound]) + #""variants": [{"name": "4k", "summary": "fine"}]"# + "\n}\n").write(
            toFile: fixed, atomically: true, encoding: .utf8)
        let f = try RunCLITests.run(["check", fixed])
        #expect(f.status == 0 && f.stdout == "\(fixed): ok: good, 1 variant\n", "\(f)")
    }

    @Test func runWithABadFileRunsNothingAndWritesNoReport() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.json").path
        try #"{"format": 1, "name": "x"}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        let report = dir.appendingPathComponent("report.tap").path
        let r = try RunCLITests.run(["run", bad, "--format", "tap", "--output", report])
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("bad.json: $.summary: missing required key 'summary'"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: report))
    }

    @Test func runRunsTheFilesTestsLikeBuiltInOnes() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("mine.json").path
        _ = try RunCLITests.run(["new", "mine", "--path", file])
        let listed = try RunCLITests.run(["run", file, "--list"])
        #expect(listed.status == 0 && listed.stdout.contains("  mine/4k  "), "\(listed)")
        let r = try RunCLITests.run(["run", file, "--format", "tap"])
        if RunCLITests.onX86 {
            // No arm64 KVM here: the file's variant is reported as skipped with the reason, exit 77.
            #expect(r.status == 77, "\(r)")
            #expect(r.stdout.contains("ok 1 - mine_4k # SKIP"), "\(r.stdout)")
        }
    }

    @Test func theCatalogTableIsTheCommittedDocsCatalog() throws {
        let r = try RunCLITests.run(["--list", "--markdown"])
        #expect(r.status == 0)
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/catalog.md")
        let committed = try String(contentsOf: docs, encoding: .utf8)
        #expect(
            r.stdout == committed, "docs/catalog.md is stale: regenerate it with `swift run harness --list --markdown > docs/catalog.md`")
    }
}
