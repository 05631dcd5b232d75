import Foundation
import Testing

/// `--shard K/N` and `harness merge`: the emulated host's `--jobs N` runs shard K of N in host K
/// and merges their JSON reports. The merge must give back the one run's report (catalog order,
/// numbering, seed, notes), each status as it was, and the merged verdict's exit status.
@Suite struct MergeCLITests {
    static func write(_ lines: [String], _ dir: URL, _ name: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    static func record(_ name: String, _ status: String, message: String? = nil, known: String? = nil, repetition: Int? = nil) -> String {
        let m = message.map { "\"\($0)\"" } ?? "null"
        let k = known.map { "\"\($0)\"" } ?? "null"
        let r = repetition.map(String.init) ?? "null"
        return
            "{\"type\":\"test\",\"name\":\"\(name)\",\"status\":\"\(status)\",\"message\":\(m),\"knownFailure\":\(k),\"repetition\":\(r),\"duration\":1.5,\"faults\":[\"fault one\"],\"log\":[],\"parameters\":{\"granule\":\"4K\"}}"
    }

    static let runRecord =
        "{\"type\":\"run\",\"seed\":\"42\",\"host\":\"Linux 7.3.4 aarch64\",\"hostname\":\"emu\",\"startTime\":\"2026-12-07T10:00:00Z\",\"notes\":[\"left out x\"]}"

    static func testLines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.contains("\"type\":\"test\"") }
    }

    /// The catalog in three shards (the skip path on this x86_64 machine) merges into exactly
    /// the unsharded run's records, numbers included.
    @Test(.enabled(if: RunCLITests.onX86, "the skip path"))
    func threeShardsGiveTheWholeRun() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let whole = try RunCLITests.run(["--all", "--seed", "9", "--format", "json"])
        #expect(whole.status == 77)
        var files: [String] = []
        for k in 1...3 {
            let s = try RunCLITests.run(["--all", "--seed", "9", "--shard", "\(k)/3", "--format", "json"])
            #expect(s.status == 77, "\(s.stderr)")
            files.append(try Self.write(s.stdout.split(separator: "\n").map(String.init), dir, "s\(k).json"))
        }
        let merged = try RunCLITests.run(["merge", "--format", "json"] + files)
        #expect(merged.status == 77, "\(merged.stderr)")
        let strip = { (l: String) in l.replacingOccurrences(of: #""duration":[0-9.]+"#, with: "", options: .regularExpression) }
        let a = Self.testLines(whole.stdout).map(strip)
        let b = Self.testLines(merged.stdout).map(strip)
        #expect(a.count > 60)
        #expect(a == b)
        #expect(merged.stdout.contains("\"seed\":\"9\""))
        // A shard alone is only every third variant.
        let one = try RunCLITests.run(["--all", "--seed", "9", "--shard", "2/3", "--list", "--names"])
        let all = try RunCLITests.run(["--all", "--list", "--names"])
        let allNames = all.stdout.split(separator: "\n")
        #expect(one.stdout.split(separator: "\n") == allNames.enumerated().filter { $0.offset % 3 == 1 }.map(\.element))
    }

    /// Hand-written shard reports: order restored by interleaving (repetitions stay together),
    /// every status kept, and the exit status is the merged verdict's.
    @Test func statusesOrderAndExit() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let s1 = try Self.write(
            [
                Self.runRecord, Self.record("a/1", "pass", repetition: 1), Self.record("a/1", "pass", repetition: 2),
                Self.record("c/3", "xfail", message: "observed", known: "the record"),
            ], dir, "s1.json")
        let s2 = try Self.write(
            [
                Self.runRecord, Self.record("b/2", "fail", message: "wrong value", repetition: 1),
                Self.record("b/2", "skip", message: "cannot", repetition: 2),
            ], dir, "s2.json")
        let r = try RunCLITests.run(["merge", "--format", "tap", s1, s2])
        #expect(r.status == 1, "\(r.stderr)")
        let results = r.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") || $0.hasPrefix("not ok ") }
        #expect(
            results == [
                "ok 1 - a_1-rep1", "ok 2 - a_1-rep2", "not ok 3 - b_2-rep1", "ok 4 - b_2-rep2 # SKIP cannot",
                "not ok 5 - c_3 # TODO known failure: the record",
            ])
        #expect(r.stdout.contains("wrong value") && r.stdout.contains("seed 42"))
        #expect(r.stderr.contains("2 passed, 1 failed, 1 skipped, 1 xfail"))
        // --bisect: a failure is bad (1); everything skipped is "cannot test" (125); a timeout is 124 plainly.
        #expect(try RunCLITests.run(["merge", "--bisect", s1, s2]).status == 1)
        let skips = try Self.write([Self.runRecord, Self.record("a/1", "skip", message: "no")], dir, "skip.json")
        #expect(try RunCLITests.run(["merge", skips]).status == 77)
        #expect(try RunCLITests.run(["merge", "--bisect", skips]).status == 125)
        let timeout = try Self.write([Self.runRecord, Self.record("a/1", "timeout", message: "watchdog")], dir, "t.json")
        #expect(try RunCLITests.run(["merge", s1, timeout]).status == 124)
        #expect(try RunCLITests.run(["merge", s1]).status == 0)
    }

    /// What is not one run's shards is refused (65, or 125 with --bisect), and so is a bad --shard.
    @Test func refusals() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let s1 = try Self.write([Self.runRecord, Self.record("a/1", "pass")], dir, "s1.json")
        let other = try Self.write(
            [Self.runRecord.replacingOccurrences(of: "\"42\"", with: "\"43\""), Self.record("b/1", "pass")], dir, "s2.json")
        let seeds = try RunCLITests.run(["merge", s1, other])
        #expect(seeds.status == 65 && seeds.stderr.contains("seed 43"), "\(seeds.stderr)")
        let junk = try Self.write(["not json"], dir, "junk.json")
        #expect(try RunCLITests.run(["merge", junk]).status == 65)
        #expect(try RunCLITests.run(["merge", "--bisect", junk]).status == 125)
        let noRun = try Self.write([Self.record("a/1", "pass")], dir, "norun.json")
        #expect(try RunCLITests.run(["merge", noRun]).stderr.contains("no run record"))
        for bad in ["3/2", "0/2", "1/0", "x", "1/65"] {
            let r = try RunCLITests.run(["--all", "--shard", bad])
            #expect(r.status == 64 && r.stderr.contains("--shard must be K/N"), "\(bad): \(r.stderr)")
        }
    }
}
