import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The runner (`harness --list/--test/--filter/--all/--repeat/--seed/--format/--output`) run
/// as a subprocess, as a user or CI would. On a host that cannot run nested tests (this x86_64
/// build machine) every selected test must come out SKIPPED with the reason, exit 77.
@Suite struct RunCLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }
    struct CLIError: Error { var message: String }

    static func harnessPath() throws -> String {
        // NVH_TEST_HARNESS runs the CLI tests against another build (e.g. an older one, to see a test fail there).
        if let other = ProcessInfo.processInfo.environment["NVH_TEST_HARNESS"], !other.isEmpty { return other }
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("harness").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw CLIError(message: "harness executable not found near \(exe)")
    }

    /// `harness ARGUMENTS` with the hang guard of `Subprocess` (killed after 300 s: a hang fails
    /// the test instead of stopping the test run).
    static func run(_ arguments: [String]) throws -> Run {
        let r = try Subprocess.run(arguments)
        if r.timedOut {
            throw CLIError(message: "harness \(arguments.joined(separator: " ")) did not end within 300 s (killed)")
        }
        return Run(status: r.status, stdout: r.stdoutText, stderr: r.stderr)
    }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("runcli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// The full names `--list` prints (variant lines are indented two spaces: `  test/variant  …`).
    static func listed(_ arguments: [String] = []) throws -> [String] {
        let r = try run(["--list"] + arguments)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }
            .map { String($0.dropFirst(2).prefix { $0 != " " }) }
    }

    static let onX86 = {
        #if arch(x86_64)
            true
        #else
            false
        #endif
    }()

    // MARK: --list and selection

    @Test func listShowsEveryVariantWithDescriptionAndRequirements() throws {
        let r = try Self.run(["--list"])
        #expect(r.status == 0)
        let variantLines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }
        #expect(variantLines.count >= 4)
        for line in variantLines {
            // name, description, requirements in brackets
            let parts = line.dropFirst(2).components(separatedBy: "  ")
            #expect(parts.count >= 3, "\(line)")
            #expect(parts[0].contains("/"), "\(line)")
            #expect(line.hasSuffix("]") && line.contains("[needs: "), "\(line)")
        }
        #expect(r.stdout.contains("  demand-paging/16k  ") && r.stdout.contains("[needs: 16K granule at stage 2; budget "))
    }

    @Test func filterAndTestSelectInOrder() throws {
        #expect(try Self.listed(["--filter", "demand-paging/4k*"]) == ["demand-paging/4k", "demand-paging/4k-2m-blocks"])
        // `*` crosses everything, so "*4k*" also takes 64k.
        #expect(
            try Self.listed(["--filter", "demand-paging/*4k*"]) == ["demand-paging/4k", "demand-paging/64k", "demand-paging/4k-2m-blocks"])
        #expect(try Self.listed(["--filter", "demand-paging/[16]?k"]) == ["demand-paging/16k", "demand-paging/64k"])
        #expect(
            try Self.listed(["--test", "demand-paging/64k", "--filter", "demand-paging/?k", "--test", "demand-paging/64k"])
                == ["demand-paging/64k", "demand-paging/4k"])
        // A test name selects all its variants; no selection lists everything, --all what
        // --all runs (the unsafe variants only with --unsafe).
        let all = try Self.listed()
        #expect(try Self.listed(["--all", "--unsafe"]) == all)
        #expect(try Self.listed(["--all"]) == all.filter { !$0.hasPrefix("illegal-vtcr/") })
        #expect(
            Array(try Self.listed(["--test", "demand-paging"]).prefix(4)) == [
                "demand-paging/4k", "demand-paging/16k", "demand-paging/64k", "demand-paging/4k-2m-blocks",
            ])
    }

    @Test func excludeLeavesOutMatchingVariantsAfterSelection() throws {
        #expect(try Self.listed(["--test", "demand-paging", "--exclude", "*/4k*"]) == ["demand-paging/16k", "demand-paging/64k"])
        let all = try Self.listed(["--all"])
        let without = try Self.listed(["--all", "--exclude", "demand-paging/*"])
        #expect(without == all.filter { !$0.hasPrefix("demand-paging/") })
        #expect(without.count == all.count - 4)
    }

    // MARK: usage errors: clear message, non-zero exit, no file

    @Test(arguments: [
        (["--test", "no-such-test"], "unknown test 'no-such-test'"),
        (["--test", "demand-paging/99k"], "unknown variant in 'demand-paging/99k'"),
        (["--filter", "demand-[paging"], "invalid --filter pattern 'demand-[paging'"),
        (["--filter", "nothing-matches-*"], "--filter 'nothing-matches-*' matches no test"),
        (["--all", "--test", "demand-paging"], "do not combine it with --test, --filter or --group"),
        (["--all", "--repeat", "0"], "--repeat must be between 1 and 100000"),
        (["--all", "--timeout", "0"], "--timeout must be between 0.001 (1 ms) and 86400 seconds"),
        (["--all", "--format", "xml"], "xml"),
        (["--all", "--seed=-1"], "'-1' is invalid"),
        ([], "nothing to run"),
        (["--test", "demand-paging/4k", "--exclude", "demand-paging/16k"], "--exclude 'demand-paging/16k' matches no selected test"),
        (["--test", "demand-paging/4k", "--exclude", "demand-paging/*"], "--exclude left nothing to run"),
        (["--all", "--exclude", "[x"], "[x"),
    ])
    func badInvocationsFailBeforeRunning(arguments: [String], message: String) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("r.xml").path
        let r = try Self.run(arguments + ["--output", file])
        #expect(r.status != 0 && r.status != 77)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func outputIntoAMissingDirectoryOrADirectoryIsRefused() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = try Self.run(["--all", "--format", "junit", "--output", dir.path + "/no/such/dir/r.xml"])
        #expect(missing.status != 0 && missing.status != 77)
        #expect(missing.stderr.contains("directory '\(dir.path)/no/such/dir' does not exist"), "\(missing.stderr)")
        let isDir = try Self.run(["--all", "--format", "junit", "--output", dir.path])
        #expect(isDir.status != 0 && isDir.status != 77)
        #expect(isDir.stderr.contains("is a directory"), "\(isDir.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        #expect(!missing.stdout.contains("passed,") && !isDir.stdout.contains("passed,"))
    }

    // MARK: the skip path (a host without nested virtualization: every test SKIPPED, exit 77)

    @Test(.enabled(if: onX86, "an x86_64 host is certain not to run arm64 nested tests"))
    func tapOnX86SkipsEverySelectedTestWithTheReason() throws {
        let names = try Self.listed()
        let r = try Self.run(["--all", "--unsafe", "--format", "tap", "--seed", "4242"])
        #expect(r.status == 77, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "TAP version 13")
        #expect(lines.contains("1..\(names.count)"))
        #expect(lines.contains { $0.hasPrefix("# nvharness seed 4242 on ") })
        let results = lines.filter { $0.hasPrefix("ok ") || $0.hasPrefix("not ok ") }
        #expect(results.count == names.count)
        for (i, (line, name)) in zip(results, names).enumerated() {
            // Named by the stable id: the `/` of test/variant becomes `_`.
            #expect(line.hasPrefix("ok \(i + 1) - \(name.replacingOccurrences(of: "/", with: "_")) # SKIP not an arm64 host"), "\(line)")
        }
        // The summary line, alone on its line, on stderr (stdout stays TAP).
        #expect(r.stderr.split(separator: "\n").contains("0 passed, 0 failed, \(names.count) skipped, 0 xfail"), "\(r.stderr)")
    }

    @Test(.enabled(if: onX86, "an x86_64 host is certain not to run arm64 nested tests"))
    func junitFileOnX86HasEveryTestSkipped() throws {
        let names = try Self.listed(["--filter", "demand-paging/*"])
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("results.xml")
        let r = try Self.run(["--filter", "demand-paging/*", "--format", "junit", "--output", file.path])
        #expect(r.status == 77, "\(r.stderr)")
        // stdout gets the human lines and the summary with --output.
        #expect(r.stdout.split(separator: "\n").contains("0 passed, 0 failed, \(names.count) skipped, 0 xfail"))
        let doc = try XMLDocument(data: Data(contentsOf: file))
        let suite = try #require(try doc.nodes(forXPath: "/testsuites/testsuite").first as? XMLElement)
        #expect(suite.attribute(forName: "tests")?.stringValue == String(names.count))
        #expect(suite.attribute(forName: "skipped")?.stringValue == String(names.count))
        #expect(suite.attribute(forName: "failures")?.stringValue == "0")
        let cases = try doc.nodes(forXPath: "/testsuites/testsuite/testcase").compactMap { $0 as? XMLElement }
        #expect(cases.count == names.count)
        for c in cases {
            let skipped = try #require(c.elements(forName: "skipped").first)
            #expect(skipped.attribute(forName: "message")?.stringValue?.hasPrefix("not an arm64 host") == true)
            #expect(c.elements(forName: "failure").isEmpty)
        }
        let caseNames = cases.compactMap { $0.attribute(forName: "name")?.stringValue }
        // Test cases are named by stable id: test/variant -> test_variant.
        #expect(caseNames == names.map { $0.replacingOccurrences(of: "/", with: "_") }, "\(caseNames)")
        // Only the report was written: no temporary file left next to it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["results.xml"])
    }

    @Test(.enabled(if: onX86, "an x86_64 host is certain not to run arm64 nested tests"))
    func junitAlongsideTAPInOneRun() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("j.xml")
        let r = try Self.run(["--filter", "demand-paging/*", "--format", "tap", "--junit", file.path])
        #expect(r.status == 77, "\(r.stderr)")
        // stdout stays pure TAP (plan + 4 results), the summary is on stderr ...
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.contains("1..4"))
        #expect(lines.filter { $0.hasPrefix("ok ") && $0.contains("# SKIP") }.count == 4)
        #expect(r.stderr.split(separator: "\n").contains("0 passed, 0 failed, 4 skipped, 0 xfail"))
        // ... and the JUnit file holds the same four tests, skipped.
        let doc = try XMLDocument(data: Data(contentsOf: file))
        let cases = try doc.nodes(forXPath: "/testsuites/testsuite/testcase").compactMap { $0 as? XMLElement }
        #expect(cases.count == 4)
        #expect(cases.allSatisfy { !$0.elements(forName: "skipped").isEmpty })
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["j.xml"])
    }

    @Test(.enabled(if: onX86, "an x86_64 host is certain not to run arm64 nested tests"))
    func ktapNestsEveryVariantUnderItsTest() throws {
        let names = try Self.listed()
        let r = try Self.run(["--all", "--unsafe", "--format", "ktap", "--seed", "7"])
        #expect(r.status == 77, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(2)) == ["KTAP version 1", "1..\(Set(names.map { $0.split(separator: "/")[0] }).count)"])
        // Every variant, in catalog order, as a nested result named by its id (unique, lab-safe).
        let leaves = lines.filter { $0.hasPrefix("  ok ") || $0.hasPrefix("  not ok ") }.map { $0.dropFirst(2) }
        let ids = leaves.compactMap { $0.wholeMatch(of: /ok [0-9]+ ([A-Za-z0-9_-]+) # SKIP not an arm64 host.*/)?.output.1 }.map(
            String.init)
        #expect(ids.count == leaves.count)
        #expect(ids == names.map { $0.replacingOccurrences(of: "/", with: "_") })
        #expect(Set(ids).count == ids.count)
        #expect(lines.last == "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:\(names.count) error:0")
    }

    @Test(.enabled(if: onX86, "an x86_64 host is certain not to run arm64 nested tests"))
    func repeatAndSeedAreReported() throws {
        let r = try Self.run([
            "--test", "demand-paging/64k", "--test", "demand-paging/4k", "--repeat", "3", "--seed", "18446744073709551615", "--format",
            "json",
        ])
        #expect(r.status == 77, "\(r.stderr)")
        let records = try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(records.first?["type"] as? String == "run")
        #expect(records.first?["seed"] as? String == "18446744073709551615")
        let tests = records.filter { $0["type"] as? String == "test" }
        #expect(
            tests.map { $0["name"] as? String } == [
                "demand-paging/64k", "demand-paging/64k", "demand-paging/64k",
                "demand-paging/4k", "demand-paging/4k", "demand-paging/4k",
            ])
        #expect(tests.map { $0["repetition"] as? Int } == [1, 2, 3, 1, 2, 3])
        #expect(
            tests.map { $0["id"] as? String } == [
                "demand-paging_64k-rep1", "demand-paging_64k-rep2", "demand-paging_64k-rep3",
                "demand-paging_4k-rep1", "demand-paging_4k-rep2", "demand-paging_4k-rep3",
            ])
        #expect(tests.allSatisfy { $0["status"] as? String == "skip" })
        let summary = records.last
        #expect(summary?["type"] as? String == "summary")
        #expect(summary?["skipped"] as? Int == 6)
        #expect(summary?["exitStatus"] as? Int == 77)
    }

    @Test(.enabled(if: onX86, "an x86_64 host is certain not to run arm64 nested tests"))
    func withoutSeedEachRunDrawsAFreshOneAndPrintsIt() throws {
        func seed() throws -> String {
            let r = try Self.run(["--test", "demand-paging/4k", "--format", "json"])
            let first = try #require(r.stdout.split(separator: "\n").first)
            let run = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
            return try #require(run["seed"] as? String)
        }
        let a = try seed()
        let b = try seed()
        #expect(UInt64(a) != nil && UInt64(b) != nil)
        // Two independent 64-bit draws collide with probability 2^-64.
        #expect(a != b)
        // The human format prints the seed too, and how to reproduce the run.
        let h = try Self.run(["--test", "demand-paging/4k", "--seed", "99"])
        #expect(h.status == 77)
        #expect(h.stdout.contains("seed 99"), "\(h.stdout)")
    }
}
