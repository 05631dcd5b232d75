import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A report that cannot be written is an error, never a silent success: stdout on /dev/full
/// (ENOSPC) in every format, and an `--output` / `--junit` file past RLIMIT_FSIZE (EFBIG), each
/// end with exit 74 and the reason on stderr. On this x86_64 machine every test skips, so
/// without the write error the run ends 77 — each case is checked against that control.
@Suite struct ReportWriteFailureCLITests {
    static let selection = ["--filter", "demand-paging/*"]

    @Test(arguments: ["human", "tap", "ktap", "json", "junit"])
    func stdoutOnDevFullIsExit74InEveryFormat(format: String) throws {
        let control = try Subprocess.run(Self.selection + ["--format", format], stdoutPath: "/dev/null")
        #expect(control.status == 77, "control run: \(control.stderr)")
        let r = try Subprocess.run(Self.selection + ["--format", format], stdoutPath: "/dev/full")
        #expect(!r.signaled && r.status == 74, "\(format): status \(r.status), \(r.stderr)")
        #expect(r.stderr.contains("cannot write the report to stdout: No space left on device (errno \(ENOSPC))"), "\(r.stderr)")
    }

    @Test func humanLinesBesideOutputOnDevFullIsExit74() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("r.tap").path
        let r = try Subprocess.run(Self.selection + ["--format", "tap", "--output", file], stdoutPath: "/dev/full")
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("cannot write the report to stdout"), "\(r.stderr)")
        // The file itself was complete and is kept: only the stdout copy failed.
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("TAP version 13") && text.contains("# SKIP"), "\(text.prefix(200))")
    }

    /// RLIMIT_FSIZE of 2 KiB: the report file (the whole catalog, skipped: several KiB) cannot be
    /// written, stderr (a few hundred bytes) still can. stdout is /dev/null, which no limit touches.
    @Test(arguments: [["--format", "junit", "--output"], ["--format", "tap", "--junit"], ["--format", "json", "--output"]])
    func reportFilePastTheFileSizeLimitIsExit74(option: [String]) throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("report").path
        let limit = [(resource: Int32(RLIMIT_FSIZE.rawValue), value: UInt64(2048))]
        let control = try Subprocess.run(["--all"] + option + [file], stdoutPath: "/dev/null")
        #expect(control.status == 77, "control run: \(control.stderr)")
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        #expect(size > 2048, "the control report must exceed the limit to test it: \(size) bytes")
        try FileManager.default.removeItem(atPath: file)

        let r = try Subprocess.run(["--all"] + option + [file], stdoutPath: "/dev/null", rlimits: limit)
        #expect(!r.signaled && r.status == 74, "\(option): status \(r.status) signaled \(r.signaled), \(r.stderr)")
        #expect(r.stderr.contains("cannot write '\(file)'") && r.stderr.contains("File too large"), "\(r.stderr)")
        // No report and no temporary file left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
