import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Real SIGINT/SIGTERM sent to a running `harness`: it stops, writes the report of what ran
/// (every format, --output and --junit), leaves no temporary file and exits 128 + n.
@Suite struct SignalCLITests {
    static func size(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    @Test(
        .enabled(if: RunCLITests.onX86, "the skip path: an x86_64 host cannot run the nested tests"),
        arguments: [SIGINT, SIGTERM])
    func aSignalDuringASkippingRunWritesThePartialReport(signal: Int32) throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout").path
        let r = try Subprocess.run(
            [
                "--all", "--repeat", "100000", "--format", "tap", "--output", dir.path + "/r.tap",
                "--junit", dir.path + "/r.xml",
            ],
            stdoutPath: out, timeout: 120, signal: (signal, { Self.size(out) > 10_000 }))
        #expect(!r.timedOut && !r.signaled, "killed by the signal instead of stopping: \(r.stderr)")
        #expect(r.status == 128 + signal, "\(r.stderr)")
        #expect(r.stderr.contains("stopped by \(signal == SIGINT ? "SIGINT" : "SIGTERM") after"), "\(r.stderr)")
        #expect(Subprocess.files(dir) == ["r.tap", "r.xml", "stdout"], "temporary files left: \(Subprocess.files(dir))")
        let tap = try String(contentsOfFile: dir.path + "/r.tap", encoding: .utf8)
        let ran = tap.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count
        #expect(ran > 0 && ran < 100_000 * 10)
        #expect(tap.contains("# 0 passed, 0 failed, \(ran) skipped"))
        let xml = try String(contentsOfFile: dir.path + "/r.xml", encoding: .utf8)
        #expect(xml.contains("tests=\"\(ran)\""), "\(xml.prefix(300))")
        // The human lines on stdout end with the summary line.
        let human = try String(contentsOfFile: out, encoding: .utf8)
        #expect(human.hasSuffix("0 passed, 0 failed, \(ran) skipped, 0 xfail\n"))
    }

    @Test(.enabled(if: RunCLITests.onX86, "the skip path"), arguments: ["human", "json"])
    func aSignalDuringAStreamingFormatEndsTheStreamCleanly(format: String) throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout").path
        let r = try Subprocess.run(
            ["--all", "--repeat", "100000", "--format", format], stdoutPath: out, timeout: 120,
            signal: (SIGTERM, { Self.size(out) > 10_000 }))
        #expect(r.status == 143 && !r.signaled, "\(r.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        if format == "json" {
            // JSON lines: every line a whole object (none cut mid-stream).
            for line in text.split(separator: "\n") {
                #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)")
            }
        } else {
            #expect(text.contains(" skipped, 0 xfail\n"))
        }
    }

    // A signal while `stage2 build` writes a 1 GiB image: the temporary file is removed.
    @Test func aSignalDuringAnImageWriteLeavesNoTemporaryFile() throws {
        let dir = try RunCLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("spec.json").path
        FileManager.default.createFile(
            atPath: spec,
            contents: Data(#"{ "granule": "4k", "ipaBits": 40, "tableBase": "0x40000000", "tableBytes": "0x40000000", "ops": [] }"#.utf8))
        var sawTemporary = false
        let r = try Subprocess.run(
            ["stage2", "build", spec, "--image", dir.path + "/out.bin"], timeout: 120,
            signal: (
                SIGTERM,
                {
                    let found = Subprocess.files(dir).contains { $0.hasPrefix(".out.bin.tmp") }
                    if found { sawTemporary = true }
                    return found
                }
            ))
        #expect(sawTemporary, "the write finished before the signal could be sent")
        #expect(r.status == 143 && !r.signaled, "\(r.status) \(r.stderr)")
        #expect(Subprocess.files(dir) == ["spec.json"], "left: \(Subprocess.files(dir))")
        #expect(r.stdout.isEmpty)
    }
}
