import Foundation
import Testing

/// `--list --names`, `--list --format json`, `--group`, `--unsafe`, `--bisect` and `--log-dir`
/// as a user or CI runs them (a subprocess; on this x86_64 machine every test is skipped).
@Suite struct GroupListCLITests {
    typealias CLI = RunCLITests

    @Test func namesAreOneFullNamePerLine() throws {
        let r = try CLI.run(["--list", "--names", "--group", "smoke"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "demand-paging/4k\ndemand-paging/16k\ndemand-paging/64k\n")
    }

    @Test func listJSONHasStableKeysAndMarksUnsafe() throws {
        let r = try CLI.run(["--list", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let names = try CLI.run(["--list", "--names"]).stdout.split(separator: "\n").map(String.init)
        #expect(entries.map { $0["name"] as? String } == names)
        for e in entries {
            #expect(Set(e.keys) == ["name", "test", "variant", "summary", "tags", "budgetSeconds", "requirements", "unsafe"])
        }
        let unsafe = entries.filter { $0["unsafe"] as? Bool == true }.compactMap { $0["name"] as? String }
        #expect(!unsafe.isEmpty && unsafe.allSatisfy { $0.hasPrefix("illegal-vtcr/") })
    }

    @Test func allLeavesUnsafeOutAndTheReportSaysSo() throws {
        let r = try CLI.run(["--all", "--format", "json"])
        #expect(r.status == 77)
        let header = try #require(r.stdout.split(separator: "\n").first)
        let run = try #require(try JSONSerialization.jsonObject(with: Data(header.utf8)) as? [String: Any])
        let notes = try #require(run["notes"] as? [String])
        #expect(notes.count == 1 && notes[0].hasPrefix("left out 6 variants (unsafe:"))
        #expect(r.stdout.contains("\"name\":\"demand-paging/4k\""))
        #expect(!r.stdout.contains("\"name\":\"illegal-vtcr/"))
        let withUnsafe = try CLI.run(["--all", "--unsafe", "--format", "tap"])
        #expect(withUnsafe.stdout.contains(" - illegal-vtcr_4k-40bit-sl0-l2 # SKIP"))
        #expect(!withUnsafe.stdout.contains("# note: left out"))
    }

    @Test func usageErrors() throws {
        let unknown = try CLI.run(["--group", "no-such-tag"])
        #expect(unknown.status == 64 && unknown.stderr.contains("is not a tag of any test"))
        let namesAlone = try CLI.run(["--names", "--all"])
        #expect(namesAlone.status == 64 && namesAlone.stderr.contains("--names only applies to --list"))
        let badTimeout = try CLI.run(["--all", "--timeout-multiplier", "0"])
        #expect(badTimeout.status == 64)
        let badJobs = try CLI.run(["--all", "--jobs", "0"])
        #expect(badJobs.status == 64)
    }

    @Test func bisectMapsSkipsAndUsageErrorsTo125() throws {
        // Everything skips here (not an arm64 host): nothing could be tested.
        #expect(try CLI.run(["--bisect", "--test", "demand-paging/4k"]).status == 125)
        #expect(try CLI.run(["--test", "demand-paging/4k"]).status == 77)
        let usage = try CLI.run(["--bisect", "--test", "no-such-test"])
        #expect(usage.status == 125 && usage.stderr.contains("unknown test 'no-such-test'"))
    }

    @Test func logDirGetsASummaryAndOneLogPerVariant() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let logs = dir.appendingPathComponent("logs").path
        let r = try CLI.run(["--group", "smoke", "--seed", "7", "--log-dir", logs])
        #expect(r.status == 77)
        let files = try FileManager.default.contentsOfDirectory(atPath: logs).sorted()
        #expect(files == ["SUMMARY", "demand-paging_16k.log", "demand-paging_4k.log", "demand-paging_64k.log"])
        let summary = try String(contentsOfFile: logs + "/SUMMARY", encoding: .utf8)
        for key in [
            "harness: nvharness, built from commit ", "command: ", "seed: 7", "kernel release: ", "kernel command line: ",
            "qemu: ", "kvm capabilities: ", "vCPU ID registers", "results: 0 passed, 0 failed, 3 skipped", "exit status: 77",
        ] {
            #expect(summary.contains(key), "SUMMARY lacks '\(key)'")
        }
        let log = try String(contentsOfFile: logs + "/demand-paging_4k.log", encoding: .utf8)
        #expect(log.hasPrefix("test: demand-paging/4k\noutcome: SKIP: "))
        // A file where the folder should be: a usage error, nothing written.
        let file = dir.appendingPathComponent("plain").path
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        let bad = try CLI.run(["--group", "smoke", "--log-dir", file])
        #expect(bad.status == 64 && bad.stderr.contains("exists and is not a directory"))
    }
}
